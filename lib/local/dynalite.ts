// DynamoDB for the embedded engine: dynalite served from this process on 127.0.0.1, with the tracking
// tables of lib/tracking/tables.ts. The client it returns has a fixed endpoint, region and dummy
// credentials, so a local run never reaches (or needs credentials for) real AWS.

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  paginateListTables,
} from '@aws-sdk/client-dynamodb';
import {
  createTableInput,
  DEFAULT_TABLE_PREFIX,
  type TableNames,
  TRACKING_TABLES,
  tableNamesFor,
} from '../tracking/tables.js';

interface DynaliteOptions {
  /** A LevelDB folder; in memory when absent. */
  path?: string;
  /** How long a new table stays CREATING (500 ms by default: a wait for nothing, locally). */
  createTableMs?: number;
}

type DynaliteFactory = (options: DynaliteOptions) => Server;

// dynalite is CommonJS and ships no types; the factory's shape above is all this module relies on.
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export interface LocalDynamoOptions {
  /** Keep the data in this folder (it survives a restart); in memory when absent. */
  readonly path?: string;
  /** Table name prefix; `dag` gives `dag-tasks`, `dag-events`, ... */
  readonly tablePrefix?: string;
}

export interface LocalDynamo {
  readonly client: DynamoDBClient;
  /** `http://127.0.0.1:<port>`, for other clients (e.g. a worker process) to use. */
  readonly endpoint: string;
  readonly tableNames: TableNames;
  /**
   * Refuses new requests (LocalDynamoClosedError), waits for those under way, then stops the server,
   * flushing the on-disk store, and destroys the client.
   */
  close(): Promise<void>;
}

/** Region and credentials the local client signs with; dynalite checks neither. */
export const LOCAL_DYNAMO_REGION = 'us-east-1';
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

const TABLE_ACTIVE_POLL_MS = 5;
const TABLE_ACTIVE_TIMEOUT_MS = 10_000;

export async function startLocalDynamo(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  const server = dynalite({ path: options.path, createTableMs: 0 });
  const port = await listen(server);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_DYNAMO_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const tableNames = tableNamesFor(options.tablePrefix ?? DEFAULT_TABLE_PREFIX);
  // A request that reaches dynalite as it closes its store fails inside dynalite, beyond any caller's
  // catch (an uncaught exception): close lets the requests under way finish first. The document
  // clients built on this client share its middleware stack, so this sees their requests too.
  const underWay = new Set<Promise<unknown>>();
  let closing = false;
  client.middlewareStack.add(
    (next) => async (args) => {
      if (closing) throw new LocalDynamoClosedError();
      const request = next(args);
      underWay.add(request);
      try {
        return await request;
      } finally {
        underWay.delete(request);
      }
    },
    { step: 'initialize', name: 'localDynamoRequestsUnderWay' },
  );
  const close = async () => {
    closing = true;
    await Promise.allSettled([...underWay]);
    client.destroy();
    await closeServer(server);
  };
  try {
    await ensureTables(client, tableNames);
  } catch (error) {
    await close();
    throw error;
  }
  return { client, endpoint, tableNames, close };
}

/** Creates the tables that are missing: an on-disk store from an earlier run already has them. */
async function ensureTables(client: DynamoDBClient, tableNames: TableNames): Promise<void> {
  const existing = new Set<string>();
  for await (const page of paginateListTables({ client }, {})) {
    for (const name of page.TableNames ?? []) existing.add(name);
  }
  const definitions = Object.values(TRACKING_TABLES);
  const missing = definitions.filter((definition) => !existing.has(tableNames[definition.logicalName]));
  await Promise.all(
    missing.map((definition) =>
      client.send(new CreateTableCommand(createTableInput(definition, tableNames[definition.logicalName]))),
    ),
  );
  await Promise.all(
    definitions.map((definition) => waitUntilActive(client, tableNames[definition.logicalName])),
  );
}

// The SDK's waiter polls every 20 s at least; dynalite flips a table to ACTIVE on its next tick.
async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  const giveUpAt = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > giveUpAt) throw new LocalDynamoError(`Table '${tableName}' did not become ACTIVE.`);
    await sleep(TABLE_ACTIVE_POLL_MS);
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // Port 0: the OS picks a free port, so parallel test files never collide.
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    // Keep-alive sockets would hold close() open until they time out.
    server.closeAllConnections();
    server.close((error) =>
      error ? reject(new LocalDynamoError('dynalite did not close cleanly.', { cause: error })) : resolve(),
    );
  });
}

/** A request made after `close`: the local DynamoDB is gone. */
export class LocalDynamoClosedError extends Error {
  constructor() {
    super('The local DynamoDB is closed.');
    this.name = 'LocalDynamoClosedError';
  }
}

export class LocalDynamoError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LocalDynamoError';
  }
}
