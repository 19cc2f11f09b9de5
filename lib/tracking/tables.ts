// The tracking tables as plain data: the single definition that both `CreateTable` (dynalite, here) and
// the CDK stack (TableV2, in lib/infra) are built from, so the two can never drift apart.
//
// Key design (see also lib/tracking/README.md):
//
//   tasks       PK taskId                          one row per submitted task
//               GSI byWorkflow: workflow + createdAt    a workflow's tasks, newest first
//   events      PK taskId  SK eventId              one Query returns every event of a task; an eventId
//                                                   (<taskId>_<node>) names its own partition, so a
//                                                   callback that knows only the id finds the row
//   segments    PK taskId  SK segmentId            begins_with(<eventId>_) gives one node's segments
//   traces      PK taskId  SK traceId              UUIDv7 sort keys: a Query returns them in time order
//               GSI byEvent: eventId + traceId      the traces of one node (or its segments)
//   workflows   PK name    SK version (number)     registered versions of a workflow
//   idempotency PK scope (<workflow>#<key>)        the Idempotency-Key of a submit (dag-spec §9); TTL
//   barriers    PK taskId  SK consumer             a cross-branch barrier (`--plan fastest`): the
//                                                   wait's task token and the producers released so far
//
// Why idempotency keys are rows of their own and not a GSI of `tasks`: a GSI is eventually consistent
// and cannot carry a condition, so two submits racing with the same key would both see "no task yet".
// A conditional Put on a key-of-its-own row lets exactly one of them win. The TTL attribute only keeps
// the table small: DynamoDB deletes expired rows lazily (up to days later), so the store checks
// `expiresAt` itself.
//
// Events and segments share a partition with their task: a task has tens of events and at most a few
// thousand segments, far below a partition's limits, and reads of a task's progress stay one Query each.

import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export type TableLogicalName =
  | 'tasks'
  | 'events'
  | 'segments'
  | 'traces'
  | 'workflows'
  | 'idempotency'
  | 'barriers';

export type KeyAttributeType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyAttributeType;
}

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** Every index here projects all attributes: its reads return whole records. */
  readonly projection: 'ALL';
}

export interface TableDefinition {
  readonly logicalName: TableLogicalName;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalIndexes: readonly GlobalIndexDefinition[];
  /** Epoch seconds attribute that DynamoDB's TTL deletes rows by. */
  readonly ttlAttribute?: string;
}

export const TASKS_BY_WORKFLOW_INDEX = 'byWorkflow';
export const TRACES_BY_EVENT_INDEX = 'byEvent';

const S = 'S' as const;
const N = 'N' as const;

export const TRACKING_TABLES: Readonly<Record<TableLogicalName, TableDefinition>> = {
  tasks: {
    logicalName: 'tasks',
    partitionKey: { name: 'taskId', type: S },
    globalIndexes: [
      {
        indexName: TASKS_BY_WORKFLOW_INDEX,
        partitionKey: { name: 'workflow', type: S },
        sortKey: { name: 'createdAt', type: S },
        projection: 'ALL',
      },
    ],
  },
  events: {
    logicalName: 'events',
    partitionKey: { name: 'taskId', type: S },
    sortKey: { name: 'eventId', type: S },
    globalIndexes: [],
  },
  segments: {
    logicalName: 'segments',
    partitionKey: { name: 'taskId', type: S },
    sortKey: { name: 'segmentId', type: S },
    globalIndexes: [],
  },
  traces: {
    logicalName: 'traces',
    partitionKey: { name: 'taskId', type: S },
    sortKey: { name: 'traceId', type: S },
    globalIndexes: [
      {
        indexName: TRACES_BY_EVENT_INDEX,
        partitionKey: { name: 'eventId', type: S },
        sortKey: { name: 'traceId', type: S },
        projection: 'ALL',
      },
    ],
  },
  workflows: {
    logicalName: 'workflows',
    partitionKey: { name: 'name', type: S },
    sortKey: { name: 'version', type: N },
    globalIndexes: [],
  },
  idempotency: {
    logicalName: 'idempotency',
    partitionKey: { name: 'scope', type: S },
    globalIndexes: [],
    ttlAttribute: 'expiresAt',
  },
  barriers: {
    logicalName: 'barriers',
    partitionKey: { name: 'taskId', type: S },
    sortKey: { name: 'consumer', type: S },
    globalIndexes: [],
  },
};

export type TableNames = Readonly<Record<TableLogicalName, string>>;

export const DEFAULT_TABLE_PREFIX = 'dag';

/** Physical table names: `<prefix>-<logical name>`, e.g. `dag-tasks`. */
export function tableNamesFor(prefix: string = DEFAULT_TABLE_PREFIX): TableNames {
  const names = {} as Record<TableLogicalName, string>;
  for (const logicalName of Object.keys(TRACKING_TABLES) as TableLogicalName[]) {
    names[logicalName] = `${prefix}-${logicalName}`;
  }
  return names;
}

/** The `CreateTable` request for one table (on-demand billing, like the CDK stack). */
export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const keys = [definition.partitionKey, definition.sortKey].filter(isDefined);
  const indexKeys = definition.globalIndexes.flatMap((index) => [index.partitionKey, index.sortKey]);
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: uniqueAttributes([...keys, ...indexKeys.filter(isDefined)]),
    KeySchema: keySchema(definition.partitionKey, definition.sortKey),
    GlobalSecondaryIndexes:
      definition.globalIndexes.length === 0
        ? undefined
        : definition.globalIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: { ProjectionType: index.projection },
          })),
  };
}

function keySchema(partitionKey: KeyAttribute, sortKey: KeyAttribute | undefined) {
  const schema = [{ AttributeName: partitionKey.name, KeyType: 'HASH' as const }];
  return sortKey ? [...schema, { AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : schema;
}

// DynamoDB rejects an attribute defined twice, and a table key reused by an index must appear once.
function uniqueAttributes(attributes: readonly KeyAttribute[]) {
  const byName = new Map(attributes.map((attribute) => [attribute.name, attribute.type]));
  return [...byName].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
