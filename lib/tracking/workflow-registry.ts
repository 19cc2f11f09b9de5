// Registered workflows (dag-spec §9 `POST /workflows`): every registration of a name is a new version,
// kept in the `workflows` table (PK name, SK version). Used by `dag serve`; the compiler Lambda keeps
// the same rows on AWS.
import { type DynamoDBDocumentClient, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { IsoTimestamp } from './records.js';

export interface WorkflowVersion {
  readonly name: string;
  /** 1, 2, ...: +1 per registration of the name. */
  readonly version: number;
  /** The workflow file as it was posted. */
  readonly source: string;
  readonly description?: string;
  readonly createdAt: IsoTimestamp;
}

export interface WorkflowRegistry {
  /** Stores `source` as the next version of `name` and returns it. */
  register(input: {
    name: string;
    source: string;
    description?: string;
    now?: Date;
  }): Promise<WorkflowVersion>;
  /** The newest version, or the one asked for. */
  get(name: string, version?: number): Promise<WorkflowVersion | undefined>;
  /** The newest version of every workflow, by name. */
  listLatest(): Promise<WorkflowVersion[]>;
}

/** Two registrations of one name racing for the same version number kept losing; the caller may retry. */
export class WorkflowVersionContendedError extends Error {
  constructor(
    readonly workflow: string,
    options?: ErrorOptions,
  ) {
    super(`Registrations of workflow '${workflow}' kept racing for the same version; retry.`, options);
    this.name = 'WorkflowVersionContendedError';
  }
}

const REGISTER_ROUNDS = 5;

export class DynamoWorkflowRegistry implements WorkflowRegistry {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async register(input: {
    name: string;
    source: string;
    description?: string;
    now?: Date;
  }): Promise<WorkflowVersion> {
    // Read the newest version, then claim the next number with a conditional Put: of two concurrent
    // registrations, one wins the number and the other reads again.
    for (let round = 0; round < REGISTER_ROUNDS; round++) {
      const latest = await this.get(input.name);
      const record: WorkflowVersion = {
        name: input.name,
        version: (latest?.version ?? 0) + 1,
        source: input.source,
        ...(input.description === undefined ? {} : { description: input.description }),
        createdAt: (input.now ?? new Date()).toISOString(),
      };
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: record,
            ConditionExpression: 'attribute_not_exists(#version)',
            ExpressionAttributeNames: { '#version': 'version' },
          }),
        );
        return record;
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      }
    }
    throw new WorkflowVersionContendedError(input.name);
  }

  async get(name: string, version?: number): Promise<WorkflowVersion | undefined> {
    const result = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression:
          version === undefined ? '#name = :name' : '#name = :name AND #version = :version',
        ExpressionAttributeNames: {
          '#name': 'name',
          ...(version === undefined ? {} : { '#version': 'version' }),
        },
        ExpressionAttributeValues: {
          ':name': name,
          ...(version === undefined ? {} : { ':version': version }),
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const item = result.Items?.[0];
    return item === undefined ? undefined : (item as WorkflowVersion);
  }

  async listLatest(): Promise<WorkflowVersion[]> {
    const latest = new Map<string, WorkflowVersion>();
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: start }),
      );
      for (const item of (page.Items ?? []) as WorkflowVersion[]) {
        const known = latest.get(item.name);
        if (!known || known.version < item.version) latest.set(item.name, item);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return [...latest.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
