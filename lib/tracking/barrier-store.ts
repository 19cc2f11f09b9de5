// Cross-branch barriers (`--plan fastest`, lib/compiler/barriers.ts) in DynamoDB: one row per task and
// consumer, holding the wait's task token and the producers that have finished. The wait and the
// releases arrive in any order, from different branches, possibly at once; whichever write completes
// the row (token present, every producer released) claims the token with one conditional write, so
// the wait is resumed exactly once however the writes interleave.
//
// A redriven (or, locally, resumed) execution runs the wait again with a new token: releases recorded
// by the earlier run still count, because a producer that finished once has finished, and the new
// token differs from the one already resumed, so it is resumed too.
//
// Parallel branches do not share data: the wait keeps its branch's context on the row, and each
// release leaves what its branch knows (the context's `nodes` and `errors`) in a row of its own
// (`<consumer>#<producer>`, so that several producers never pass DynamoDB's 400 KB per item together),
// written before the release counts; the wait resumes with the two merged.
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

export interface BarrierWaitInput {
  readonly taskId: string;
  readonly consumer: string;
  readonly producers: readonly string[];
  readonly taskToken: string;
  /** The wait's whole state input (the task context of its branch), to resume with. */
  readonly context: BarrierContext;
  readonly now?: Date;
}

/** A task context (dag-spec §3) as a branch holds it. */
export interface BarrierContext {
  readonly nodes?: Readonly<Record<string, unknown>>;
  readonly errors?: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

export interface BarrierReleaseInput {
  readonly taskId: string;
  readonly consumer: string;
  readonly producer: string;
  /** What the producer's branch knows: its context's `nodes` and `errors`. */
  readonly data: BarrierData;
  readonly now?: Date;
}

export interface BarrierData {
  readonly nodes: Readonly<Record<string, unknown>>;
  readonly errors: Readonly<Record<string, unknown>>;
}

/** A release's data passes what one DynamoDB item holds (400 KB): offload large outputs first. */
export class BarrierDataTooLargeError extends Error {
  constructor(
    readonly consumer: string,
    readonly producer: string | undefined,
    options?: ErrorOptions,
  ) {
    super(
      producer === undefined
        ? `The context '${consumer}' waits with exceeds what one barrier row holds (400 KB).`
        : `The outputs '${producer}' passes to '${consumer}' across branches exceed what one barrier row holds (400 KB).`,
      options,
    );
    this.name = 'BarrierDataTooLargeError';
  }
}

/** A completed barrier, claimed by one caller: it resumes the token with the producers' data. */
export interface BarrierClaim {
  readonly taskToken: string;
  readonly producers: readonly string[];
  /** The context the wait kept. */
  readonly context: BarrierContext;
}

export interface BarrierStore {
  /** Parks the wait's token; claims it when every producer has already finished (resume it now). */
  wait(input: BarrierWaitInput): Promise<BarrierClaim | undefined>;
  /** Records that a producer finished; claims the wait's token when this completes the barrier. */
  release(input: BarrierReleaseInput): Promise<BarrierClaim | undefined>;
  /** The data the producers released, in the order given (all released: the barrier is complete). */
  releasedData(input: {
    taskId: string;
    consumer: string;
    producers: readonly string[];
  }): Promise<BarrierData[]>;
  /**
   * Gives a claimed token back when it could not be delivered (Step Functions throttled): the next
   * release or a retried one claims it again.
   */
  unclaim(input: { taskId: string; consumer: string; taskToken: string }): Promise<void>;
}

interface BarrierRow {
  readonly taskToken?: string;
  readonly producers?: readonly string[];
  /** The wait's context, as JSON text. */
  readonly context?: string;
  readonly released?: ReadonlySet<string>;
  readonly resumedToken?: string;
}

export class DynamoBarrierStore implements BarrierStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async wait(input: BarrierWaitInput): Promise<BarrierClaim | undefined> {
    const row = await this.update(
      input.taskId,
      input.consumer,
      {
        UpdateExpression:
          'SET #taskToken = :token, #producers = :producers, #context = :context, #waitingSince = :now',
        ExpressionAttributeNames: {
          '#taskToken': 'taskToken',
          '#producers': 'producers',
          '#context': 'context',
          '#waitingSince': 'waitingSince',
        },
        ExpressionAttributeValues: {
          ':token': input.taskToken,
          ':producers': [...input.producers],
          ':context': JSON.stringify(input.context),
          ':now': (input.now ?? new Date()).toISOString(),
        },
      },
      () => new BarrierDataTooLargeError(input.consumer, undefined),
    );
    return this.claimIfComplete(input.taskId, input.consumer, row);
  }

  async release(input: BarrierReleaseInput): Promise<BarrierClaim | undefined> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            taskId: input.taskId,
            consumer: dataKey(input.consumer, input.producer),
            data: JSON.stringify(input.data),
            releasedAt: (input.now ?? new Date()).toISOString(),
          },
        }),
      );
    } catch (error) {
      if (isItemTooLarge(error))
        throw new BarrierDataTooLargeError(input.consumer, input.producer, { cause: error });
      throw error;
    }
    const row = await this.update(input.taskId, input.consumer, {
      UpdateExpression: 'ADD #released :producer',
      ExpressionAttributeNames: { '#released': 'released' },
      ExpressionAttributeValues: { ':producer': new Set([input.producer]) },
    });
    return this.claimIfComplete(input.taskId, input.consumer, row);
  }

  async releasedData(input: {
    taskId: string;
    consumer: string;
    producers: readonly string[];
  }): Promise<BarrierData[]> {
    const keys = input.producers.map((p) => ({ taskId: input.taskId, consumer: dataKey(input.consumer, p) }));
    const found = new Map<string, BarrierData>();
    // A few producers per barrier: one BatchGet, with what DynamoDB leaves unprocessed asked again.
    let pending: Record<string, unknown>[] = keys;
    for (let round = 0; pending.length > 0 && round < 8; round++) {
      const result = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[this.tableName] ?? [])
        found.set(item.consumer as string, JSON.parse(item.data as string) as BarrierData);
      pending = (result.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
    }
    return keys.map((key, i) => {
      const data = found.get(key.consumer);
      if (!data)
        throw new Error(`internal: barrier '${input.consumer}' lacks the data of '${input.producers[i]}'`);
      return data;
    });
  }

  async unclaim(input: { taskId: string; consumer: string; taskToken: string }): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { taskId: input.taskId, consumer: input.consumer },
          UpdateExpression: 'REMOVE #resumedToken',
          ConditionExpression: '#resumedToken = :token',
          ExpressionAttributeNames: { '#resumedToken': 'resumedToken' },
          ExpressionAttributeValues: { ':token': input.taskToken },
        }),
      );
    } catch (error) {
      // Claimed by nobody, or already by a newer wait: nothing to give back.
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }

  private async claimIfComplete(
    taskId: string,
    consumer: string,
    row: BarrierRow,
  ): Promise<BarrierClaim | undefined> {
    const token = row.taskToken;
    const producers = row.producers;
    if (token === undefined || producers === undefined || row.resumedToken === token) return undefined;
    const context = JSON.parse(row.context ?? '{}') as BarrierContext;
    const released = row.released ?? new Set<string>();
    if (!producers.every((p) => released.has(p))) return undefined;
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { taskId, consumer },
          UpdateExpression: 'SET #resumedToken = :token',
          ConditionExpression:
            '#taskToken = :token AND (attribute_not_exists(#resumedToken) OR #resumedToken <> :token)',
          ExpressionAttributeNames: { '#resumedToken': 'resumedToken', '#taskToken': 'taskToken' },
          ExpressionAttributeValues: { ':token': token },
        }),
      );
      return { taskToken: token, producers, context };
    } catch (error) {
      // Another write claimed it first, or a newer wait replaced the token: not ours to resume.
      if ((error as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw error;
    }
  }

  private async update(
    taskId: string,
    consumer: string,
    expression: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
    >,
    tooLarge?: () => Error,
  ): Promise<BarrierRow> {
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { taskId, consumer },
          ...expression,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return (result.Attributes ?? {}) as BarrierRow;
    } catch (error) {
      if (tooLarge && isItemTooLarge(error)) throw Object.assign(tooLarge(), { cause: error });
      throw error;
    }
  }
}

/** DynamoDB (and dynalite) refuse an item over 400 KB with a ValidationException about its size. */
function isItemTooLarge(error: unknown): boolean {
  return (error as Error).name === 'ValidationException' && /size/i.test((error as Error).message);
}

/** The row of one producer's data for one consumer; `#` cannot occur in node names. */
function dataKey(consumer: string, producer: string): string {
  return `${consumer}#${producer}`;
}
