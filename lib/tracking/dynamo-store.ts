// TrackingStore over DynamoDB (on AWS) or dynalite (locally). The forward-only rules are conditions on
// single-item writes, so they hold under any number of concurrent writers without transactions (which
// dynalite lacks anyway). When a condition fails, one consistent read tells the outcomes apart; the read
// is not atomic with the write, which is why every outcome it can report is itself safe to act on.

import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { eventIdOf, parseWorkId, segmentIdOf, segmentIdPrefixOf } from './ids.js';
import {
  type PublicEventRecord,
  type PublicSegmentRecord,
  type TaskRecord,
  type TraceRecord,
  toIsoTimestamp,
  toPublicRecord,
  type WorkStatus,
  workStatusesBelow,
} from './records.js';
import {
  type ClaimedWork,
  type ClaimWorkInput,
  type CreateTaskInput,
  type CreateTaskResult,
  type ExpiredWork,
  type ExpireWorkInput,
  type FinishEventInput,
  type FinishSegmentInput,
  type HeartbeatedWork,
  IdempotencyKeyContendedError,
  InvalidCursorError,
  type ListTasksInput,
  type ParkWorkInput,
  RecordTooLargeError,
  type ReleaseWorkInput,
  StaleCallbackError,
  StaleWriteError,
  type StartEventInput,
  type StartSegmentInput,
  TaskNotFoundError,
  type TaskPage,
  type TrackingStore,
  UnprocessedTracesError,
  type UpdateTaskStatusInput,
  WorkExpiredError,
  WorkNotFoundError,
  type WriteResult,
} from './store.js';
import { TASKS_BY_WORKFLOW_INDEX, type TableNames, TRACES_BY_EVENT_INDEX } from './tables.js';

type Item = Record<string, unknown>;
type PublicWork = PublicEventRecord | PublicSegmentRecord;

export interface DynamoTrackingStoreOptions {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableNames: TableNames;
  /** Where `now` comes from when a call does not pass one. */
  readonly clock?: () => Date;
  /** How long an Idempotency-Key holds (dag-spec §9: 24 h). */
  readonly idempotencyWindowSeconds?: number;
  /** BatchWriteItem rounds for unprocessed traces, and the first backoff delay. */
  readonly batchRetry?: { readonly rounds: number; readonly baseDelayMs: number };
}

/** The marshalling the store relies on: absent optional fields are simply not written. */
export function createTrackingDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

const BATCH_WRITE_LIMIT = 25;
const BATCHES_IN_FLIGHT = 4;
const DEFAULT_PAGE_SIZE = 50;
const IDEMPOTENCY_RESERVE_ROUNDS = 3;
/** Reads that race a write (claim, heartbeat) retry this many times before giving up. */
const RACE_ROUNDS = 3;

/** Fields of waiting async work; a new attempt starting clears them all. */
const WAIT_FIELDS = [
  'taskToken',
  'waitingAttempt',
  'deadline',
  'heartbeatSeconds',
  'heartbeatDeadline',
  'claimedAt',
  'expiredAt',
] as const;

const CONDITION_FAILED = Symbol('condition failed');

export class DynamoTrackingStore implements TrackingStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tables: TableNames;
  private readonly clock: () => Date;
  private readonly idempotencyWindowSeconds: number;
  private readonly batchRetry: { readonly rounds: number; readonly baseDelayMs: number };

  constructor(options: DynamoTrackingStoreOptions) {
    this.db = options.documentClient;
    this.tables = options.tableNames;
    this.clock = options.clock ?? (() => new Date());
    this.idempotencyWindowSeconds = options.idempotencyWindowSeconds ?? 24 * 60 * 60;
    this.batchRetry = options.batchRetry ?? { rounds: 8, baseDelayMs: 20 };
  }

  // ---- tasks ---------------------------------------------------------------------------------------

  async createTask(input: CreateTaskInput): Promise<CreateTaskResult> {
    const now = input.now ?? this.clock();
    // The key is reserved first and names the task id: if this process dies between the two writes,
    // the next submit with the same key finds the reservation and creates that same task.
    const taskId =
      input.idempotencyKey === undefined
        ? input.taskId
        : await this.reserveIdempotencyKey(input.workflow, input.idempotencyKey, input.taskId, now);
    const iso = toIsoTimestamp(now);
    const task: TaskRecord = {
      taskId,
      workflow: input.workflow,
      version: input.version,
      status: 'RUNNING',
      input: input.input,
      createdAt: iso,
      updatedAt: iso,
      idempotencyKey: input.idempotencyKey,
      engine: input.engine,
      executionArn: input.executionArn,
    };
    const put = await this.write(taskId, () =>
      this.db.send(
        new PutCommand({
          TableName: this.tables.tasks,
          Item: encodeTask(task),
          ConditionExpression: 'attribute_not_exists(#taskId)',
          ExpressionAttributeNames: { '#taskId': 'taskId' },
        }),
      ),
    );
    if (put !== CONDITION_FAILED) return { task: withoutUndefined(task), created: true };
    const existing = await this.getTask(taskId);
    if (existing === undefined) throw new TaskNotFoundError(taskId);
    return { task: existing, created: false };
  }

  async updateTaskStatus(input: UpdateTaskStatusInput): Promise<WriteResult<TaskRecord>> {
    const now = toIsoTimestamp(input.now ?? this.clock());
    const ends = input.status !== 'RUNNING';
    const update = buildUpdate({
      set: {
        status: input.status,
        updatedAt: now,
        endedAt: ends ? now : undefined,
        output: encodeJson(input.output),
        error: input.error,
        executionArn: input.executionArn,
        stateTransitions: input.stateTransitions,
      },
      condition: '#status = :running',
      conditionValues: { ':running': 'RUNNING' },
    });
    const result = await this.updateTask(input.taskId, update);
    if (result !== CONDITION_FAILED) return { applied: true, record: decodeTask(result.Attributes ?? {}) };
    const current = await this.getTask(input.taskId);
    if (current === undefined) throw new TaskNotFoundError(input.taskId);
    if (current.status === input.status) return { applied: false, record: current };
    throw new StaleWriteError(input.taskId, { status: current.status }, { status: input.status });
  }

  async redriveTask(input: { taskId: string; now?: Date }): Promise<TaskRecord> {
    const now = toIsoTimestamp(input.now ?? this.clock());
    const update = buildUpdate({
      set: { status: 'RUNNING', updatedAt: now },
      add: { redriveCount: 1 },
      remove: ['endedAt', 'output', 'error'],
      condition: '#status IN (:failed, :timedOut, :aborted)',
      conditionValues: { ':failed': 'FAILED', ':timedOut': 'TIMED_OUT', ':aborted': 'ABORTED' },
    });
    const result = await this.updateTask(input.taskId, update);
    if (result !== CONDITION_FAILED) return decodeTask(result.Attributes ?? {});
    const current = await this.getTask(input.taskId);
    if (current === undefined) throw new TaskNotFoundError(input.taskId);
    throw new StaleWriteError(input.taskId, { status: current.status }, { status: 'RUNNING' });
  }

  async getTask(taskId: string): Promise<TaskRecord | undefined> {
    const item = await this.getItem(this.tables.tasks, { taskId });
    return item === undefined ? undefined : decodeTask(item);
  }

  async listTasks(input: ListTasksInput = {}): Promise<TaskPage> {
    const page = {
      TableName: this.tables.tasks,
      Limit: input.limit ?? DEFAULT_PAGE_SIZE,
      ExclusiveStartKey: input.cursor === undefined ? undefined : decodeCursor(input.cursor),
    };
    const result =
      input.workflow === undefined
        ? await this.db.send(new ScanCommand(page))
        : await this.db.send(
            new QueryCommand({
              ...page,
              IndexName: TASKS_BY_WORKFLOW_INDEX,
              KeyConditionExpression: '#workflow = :workflow',
              ExpressionAttributeNames: { '#workflow': 'workflow' },
              ExpressionAttributeValues: { ':workflow': input.workflow },
              ScanIndexForward: false,
            }),
          );
    const tasks = (result.Items ?? []).map(decodeTask);
    const cursor = result.LastEvaluatedKey === undefined ? undefined : encodeCursor(result.LastEvaluatedKey);
    return cursor === undefined ? { tasks } : { tasks, cursor };
  }

  // ---- events and segments -------------------------------------------------------------------------

  startEvent(input: StartEventInput): Promise<WriteResult<PublicEventRecord>> {
    const ref = eventRef(input.taskId, input.node);
    return this.startWork(ref, input.attempt, input.now, { node: input.node, type: input.type }) as Promise<
      WriteResult<PublicEventRecord>
    >;
  }

  finishEvent(input: FinishEventInput): Promise<WriteResult<PublicEventRecord>> {
    return this.finishWork(eventRef(input.taskId, input.node), input) as Promise<
      WriteResult<PublicEventRecord>
    >;
  }

  startSegment(input: StartSegmentInput): Promise<WriteResult<PublicSegmentRecord>> {
    const ref = segmentRef(input.taskId, input.node, input.order);
    const identity = { eventId: eventIdOf(input.taskId, input.node), node: input.node, order: input.order };
    return this.startWork(ref, input.attempt, input.now, identity) as Promise<
      WriteResult<PublicSegmentRecord>
    >;
  }

  finishSegment(input: FinishSegmentInput): Promise<WriteResult<PublicSegmentRecord>> {
    const ref = segmentRef(input.taskId, input.node, input.order);
    return this.finishWork(ref, input) as Promise<WriteResult<PublicSegmentRecord>>;
  }

  async getWork(workId: string): Promise<PublicWork | undefined> {
    const ref = workRefOf(workId);
    if (ref === undefined) return undefined;
    const item = await this.getItem(this.tables[ref.table], ref.key);
    return item === undefined ? undefined : decodeWork(item);
  }

  async getEvents(taskId: string): Promise<PublicEventRecord[]> {
    const items = await this.queryAll({
      TableName: this.tables.events,
      KeyConditionExpression: '#taskId = :taskId',
      ExpressionAttributeNames: { '#taskId': 'taskId' },
      ExpressionAttributeValues: { ':taskId': taskId },
      ConsistentRead: true,
    });
    // Sort keys are <taskId>_<node>, i.e. node order; users read events in the order they ran.
    return (items.map(decodeWork) as PublicEventRecord[]).sort(
      (a, b) => compare(a.startedAt, b.startedAt) || compare(a.eventId, b.eventId),
    );
  }

  async getSegments(taskId: string, options: { eventId?: string } = {}): Promise<PublicSegmentRecord[]> {
    const prefix = options.eventId === undefined ? undefined : segmentIdPrefixOf(options.eventId);
    const items = await this.queryAll({
      TableName: this.tables.segments,
      KeyConditionExpression:
        prefix === undefined ? '#taskId = :taskId' : '#taskId = :taskId AND begins_with(#segmentId, :prefix)',
      ExpressionAttributeNames:
        prefix === undefined ? { '#taskId': 'taskId' } : { '#taskId': 'taskId', '#segmentId': 'segmentId' },
      ExpressionAttributeValues:
        prefix === undefined ? { ':taskId': taskId } : { ':taskId': taskId, ':prefix': prefix },
      ConsistentRead: true,
    });
    // Sort keys order "10" before "2"; item order is numeric.
    return (items.map(decodeWork) as PublicSegmentRecord[]).sort(
      (a, b) => compare(a.eventId, b.eventId) || a.order - b.order,
    );
  }

  // ---- traces --------------------------------------------------------------------------------------

  async recordTrace(trace: TraceRecord): Promise<void> {
    await this.write(trace.traceId, () =>
      this.db.send(new PutCommand({ TableName: this.tables.traces, Item: { ...trace } })),
    );
  }

  async recordTraces(traces: readonly TraceRecord[]): Promise<void> {
    // BatchWriteItem rejects a batch that names one key twice.
    const unique = [...new Map(traces.map((trace) => [trace.traceId, trace])).values()];
    const batches = chunk(unique, BATCH_WRITE_LIMIT);
    const unwritten: string[] = [];
    for (const wave of chunk(batches, BATCHES_IN_FLIGHT)) {
      const results = await Promise.all(wave.map((batch) => this.writeTraceBatch(batch)));
      unwritten.push(...results.flat());
    }
    if (unwritten.length > 0) throw new UnprocessedTracesError(unwritten);
  }

  async getTraces(taskId: string, options: { eventId?: string } = {}): Promise<TraceRecord[]> {
    const items =
      options.eventId === undefined
        ? await this.queryAll({
            TableName: this.tables.traces,
            KeyConditionExpression: '#taskId = :taskId',
            ExpressionAttributeNames: { '#taskId': 'taskId' },
            ExpressionAttributeValues: { ':taskId': taskId },
            ConsistentRead: true,
          })
        : await this.queryAll({
            TableName: this.tables.traces,
            IndexName: TRACES_BY_EVENT_INDEX,
            KeyConditionExpression: '#eventId = :eventId',
            ExpressionAttributeNames: { '#eventId': 'eventId' },
            ExpressionAttributeValues: { ':eventId': options.eventId },
          });
    return items as unknown as TraceRecord[];
  }

  // ---- callbacks -----------------------------------------------------------------------------------

  async parkWork(input: ParkWorkInput): Promise<PublicWork> {
    const ref = workRefOf(input.workId);
    if (ref === undefined || ref.taskId !== input.taskId) throw new WorkNotFoundError(input.workId);
    const now = input.now ?? this.clock();
    const heartbeatDeadline =
      input.heartbeatSeconds === undefined ? undefined : addSeconds(now, input.heartbeatSeconds);
    // WAITING over WAITING of the same attempt is allowed: a re-dispatch brings a new token.
    const update = buildUpdate({
      set: {
        status: 'WAITING',
        attempts: input.attempt,
        taskToken: input.taskToken,
        waitingAttempt: input.attempt,
        deadline: toIsoTimestamp(input.deadline),
        heartbeatSeconds: input.heartbeatSeconds,
        heartbeatDeadline,
        updatedAt: toIsoTimestamp(now),
      },
      remove: [...WAIT_FIELDS, 'endedAt', 'output', 'error'],
      ...forwardCondition(ref.sortKey, input.attempt, ['RUNNING', 'WAITING'], true),
    });
    const result = await this.updateWork(ref, update);
    if (result !== CONDITION_FAILED) return result;
    const current = await this.getItem(this.tables[ref.table], ref.key);
    if (current === undefined) throw new WorkNotFoundError(input.workId);
    throw new StaleWriteError(input.workId, stateOf(current), { status: 'WAITING', attempt: input.attempt });
  }

  async claimWork(input: ClaimWorkInput): Promise<ClaimedWork> {
    const ref = workRefOf(input.workId);
    if (ref === undefined) throw new WorkNotFoundError(input.workId);
    const now = toIsoTimestamp(input.now ?? this.clock());
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const claimed = await this.takeToken(ref, input.attempt, now);
      if (claimed !== undefined) return claimed;
      const current = await this.getItem(this.tables[ref.table], ref.key);
      const refusal = callbackRefusal(input.workId, current, input.attempt, now);
      if (refusal !== undefined) throw refusal;
      // The row was parked again between the failed claim and the read: claim the new token.
    }
    throw new StaleCallbackError(input.workId, 'not-waiting', input.attempt ?? 0, input.attempt ?? 0);
  }

  async heartbeatWork(input: ClaimWorkInput): Promise<HeartbeatedWork> {
    const ref = workRefOf(input.workId);
    if (ref === undefined) throw new WorkNotFoundError(input.workId);
    const now = input.now ?? this.clock();
    const nowIso = toIsoTimestamp(now);
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const current = await this.getItem(this.tables[ref.table], ref.key);
      const refusal = callbackRefusal(input.workId, current, input.attempt, nowIso);
      if (refusal !== undefined) throw refusal;
      const waiting = current as Item & {
        taskToken: string;
        waitingAttempt: number;
        heartbeatSeconds?: number;
      };
      const seconds = waiting.heartbeatSeconds;
      const work = { taskToken: waiting.taskToken, attempt: waiting.waitingAttempt };
      if (seconds === undefined) return work;
      const heartbeatDeadline = addSeconds(now, seconds);
      // Conditioned on the token read above: a claim or a new attempt in between makes this fail.
      const update = buildUpdate({
        set: { heartbeatDeadline, updatedAt: nowIso },
        condition: '#taskToken = :token',
        conditionValues: { ':token': waiting.taskToken },
      });
      if ((await this.updateWork(ref, update)) !== CONDITION_FAILED) return { ...work, heartbeatDeadline };
    }
    throw new StaleCallbackError(input.workId, 'not-waiting', input.attempt ?? 0, input.attempt ?? 0);
  }

  async releaseWork(input: ReleaseWorkInput): Promise<void> {
    const ref = workRefOf(input.workId);
    if (ref === undefined) throw new WorkNotFoundError(input.workId);
    const update = buildUpdate({
      set: { taskToken: input.taskToken, updatedAt: toIsoTimestamp(input.now ?? this.clock()) },
      remove: ['claimedAt'],
      condition:
        'attribute_not_exists(#taskToken) AND attribute_exists(#claimedAt) AND #waitingAttempt = :attempt',
      conditionValues: { ':attempt': input.attempt },
    });
    // CONDITION_FAILED: a newer attempt parked, or the token is back already; either way nothing to do.
    await this.updateWork(ref, update);
  }

  async expireWork(input: ExpireWorkInput): Promise<ExpiredWork> {
    const ref = workRefOf(input.workId);
    if (ref === undefined) throw new WorkNotFoundError(input.workId);
    const now = toIsoTimestamp(input.now ?? this.clock());
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const row = await this.getItem(this.tables[ref.table], ref.key);
      if (row?.taskToken !== input.taskToken || row.waitingAttempt !== input.attempt)
        return { outcome: 'gone' };
      const deadline = String(row.deadline);
      const heartbeatDeadline = optionalString(row.heartbeatDeadline);
      const passed =
        deadline < now
          ? ({ reason: 'timeout', field: 'deadline', deadline } as const)
          : heartbeatDeadline !== undefined && heartbeatDeadline < now
            ? ({ reason: 'heartbeat', field: 'heartbeatDeadline', deadline: heartbeatDeadline } as const)
            : undefined;
      if (passed === undefined) {
        const next =
          heartbeatDeadline !== undefined && heartbeatDeadline < deadline ? heartbeatDeadline : deadline;
        return { outcome: 'waiting', nextDeadline: next };
      }
      // Conditioned on the deadline read above as well: a heartbeat that moved it in between wins.
      const update = buildUpdate({
        set: { expiredAt: passed.deadline, updatedAt: now },
        remove: ['taskToken'],
        condition: `#taskToken = :token AND #waitingAttempt = :attempt AND #${passed.field} = :passed`,
        conditionValues: { ':token': input.taskToken, ':attempt': input.attempt, ':passed': passed.deadline },
      });
      if ((await this.updateWork(ref, update)) !== CONDITION_FAILED)
        return { outcome: 'expired', reason: passed.reason, deadline: passed.deadline };
    }
    // Still contended after the rounds: the token is not ours to take now; the caller looks again.
    return { outcome: 'waiting', nextDeadline: now };
  }

  // ---- internals -----------------------------------------------------------------------------------

  /** A conditional update of a task row, returning the row as it is after it. */
  private updateTask(taskId: string, update: BuiltUpdate) {
    return this.write(taskId, () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tables.tasks,
          Key: { taskId },
          ...update,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
  }

  private async startWork(
    ref: WorkRef,
    attempt: number,
    at: Date | undefined,
    identity: Item,
  ): Promise<WriteResult<PublicWork>> {
    const now = toIsoTimestamp(at ?? this.clock());
    const update = buildUpdate({
      set: { ...identity, status: 'RUNNING', attempts: attempt, updatedAt: now },
      setIfNotExists: { startedAt: now },
      remove: [...WAIT_FIELDS, 'endedAt', 'output', 'error'],
      ...forwardCondition(ref.sortKey, attempt, workStatusesBelow('RUNNING'), false),
    });
    const result = await this.updateWork(ref, update);
    if (result !== CONDITION_FAILED) return { applied: true, record: result };
    const current = await this.getItem(this.tables[ref.table], ref.key);
    if (current === undefined) throw new WorkNotFoundError(ref.id);
    return { applied: false, record: decodeWork(current) };
  }

  private async finishWork(
    ref: WorkRef,
    input: FinishEventInput | FinishSegmentInput,
  ): Promise<WriteResult<PublicWork>> {
    const now = toIsoTimestamp(input.now ?? this.clock());
    const update = buildUpdate({
      set: {
        status: input.status,
        attempts: input.attempt,
        endedAt: now,
        updatedAt: now,
        output: encodeJson(input.output),
        error: input.error,
      },
      // The token goes; waitingAttempt, deadline and claimedAt stay to answer late callbacks (409/410).
      remove: ['taskToken', 'heartbeatDeadline', 'output', 'error'],
      ...forwardCondition(ref.sortKey, input.attempt, workStatusesBelow(input.status), true),
    });
    const result = await this.updateWork(ref, update);
    if (result !== CONDITION_FAILED) return { applied: true, record: result };
    const current = await this.getItem(this.tables[ref.table], ref.key);
    if (current === undefined) throw new WorkNotFoundError(ref.id);
    const state = stateOf(current);
    if (state.status === input.status && state.attempt === input.attempt) {
      return { applied: false, record: decodeWork(current) };
    }
    throw new StaleWriteError(ref.id, state, { status: input.status, attempt: input.attempt });
  }

  /** The conditional claim itself: REMOVE the token, and get the old row back to hand it over. */
  private async takeToken(
    ref: WorkRef,
    attempt: number | undefined,
    now: string,
  ): Promise<ClaimedWork | undefined> {
    const conditions = [
      'attribute_exists(#taskToken)',
      '#deadline >= :now',
      '(attribute_not_exists(#heartbeatDeadline) OR #heartbeatDeadline >= :now)',
      ...(attempt === undefined ? [] : ['#waitingAttempt = :attempt']),
    ];
    const update = buildUpdate({
      set: { claimedAt: now, updatedAt: now },
      remove: ['taskToken', 'heartbeatDeadline'],
      condition: conditions.join(' AND '),
      conditionValues: attempt === undefined ? { ':now': now } : { ':now': now, ':attempt': attempt },
    });
    const result = await this.write(ref.id, () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tables[ref.table],
          Key: ref.key,
          ...update,
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    if (result === CONDITION_FAILED) return undefined;
    const old = result.Attributes ?? {};
    return { taskToken: String(old.taskToken), attempt: Number(old.waitingAttempt) };
  }

  private async updateWork(ref: WorkRef, update: BuiltUpdate): Promise<PublicWork | typeof CONDITION_FAILED> {
    const result = await this.write(ref.id, () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tables[ref.table],
          Key: ref.key,
          ...update,
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return result === CONDITION_FAILED ? result : decodeWork(result.Attributes ?? {});
  }

  /** Returns the ids of the traces still unprocessed after the retry rounds. */
  private async writeTraceBatch(batch: readonly TraceRecord[]): Promise<string[]> {
    const table = this.tables.traces;
    let requests = batch.map((trace) => ({ PutRequest: { Item: { ...trace } as Item } }));
    for (let round = 0; round < this.batchRetry.rounds; round++) {
      if (round > 0) await sleep(backoff(this.batchRetry.baseDelayMs, round));
      const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      const unprocessed = result.UnprocessedItems?.[table] ?? [];
      if (unprocessed.length === 0) return [];
      requests = unprocessed.flatMap((request) =>
        request.PutRequest?.Item === undefined ? [] : [{ PutRequest: { Item: request.PutRequest.Item } }],
      );
    }
    return requests.map((request) => String(request.PutRequest.Item.traceId));
  }

  /** A reservation row for the key, or the task id of the live one that holds it already. */
  private async reserveIdempotencyKey(
    workflow: string,
    key: string,
    taskId: string,
    now: Date,
  ): Promise<string> {
    const scope = `${workflow}#${key}`;
    const nowEpoch = Math.floor(now.getTime() / 1000);
    for (let round = 0; round < IDEMPOTENCY_RESERVE_ROUNDS; round++) {
      const put = await this.write(scope, () =>
        this.db.send(
          new PutCommand({
            TableName: this.tables.idempotency,
            Item: {
              scope,
              taskId,
              workflow,
              idempotencyKey: key,
              createdAt: toIsoTimestamp(now),
              expiresAt: nowEpoch + this.idempotencyWindowSeconds,
            },
            // An expired row may still be there: TTL deletes lazily.
            ConditionExpression: 'attribute_not_exists(#scope) OR #expiresAt < :now',
            ExpressionAttributeNames: { '#scope': 'scope', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':now': nowEpoch },
          }),
        ),
      );
      if (put !== CONDITION_FAILED) return taskId;
      const holder = await this.getItem(this.tables.idempotency, { scope });
      if (holder !== undefined && Number(holder.expiresAt) >= nowEpoch) return String(holder.taskId);
      // It expired or vanished between the Put and the Get: try to take it again.
    }
    throw new IdempotencyKeyContendedError(workflow, key);
  }

  private async getItem(table: string, key: Item): Promise<Item | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }));
    return result.Item;
  }

  private async queryAll(input: QueryCommandInput): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await this.db.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return items;
  }

  /**
   * The store boundary for writes: a failed condition becomes a value for the caller to classify, an
   * oversized item becomes `RecordTooLargeError`; other SDK errors (already retried by the SDK) pass.
   */
  private async write<T>(recordId: string, send: () => Promise<T>): Promise<T | typeof CONDITION_FAILED> {
    try {
      return await send();
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return CONDITION_FAILED;
      if (errorName(error) === 'ValidationException' && /size/i.test(errorMessage(error))) {
        throw new RecordTooLargeError(recordId, { cause: error });
      }
      throw error;
    }
  }
}

// ---- addressing work rows ------------------------------------------------------------------------

interface WorkRef {
  readonly table: 'events' | 'segments';
  readonly id: string;
  readonly taskId: string;
  readonly sortKey: 'eventId' | 'segmentId';
  readonly key: Item;
}

function eventRef(taskId: string, node: string): WorkRef {
  const eventId = eventIdOf(taskId, node);
  return { table: 'events', id: eventId, taskId, sortKey: 'eventId', key: { taskId, eventId } };
}

function segmentRef(taskId: string, node: string, order: number): WorkRef {
  const segmentId = segmentIdOf(eventIdOf(taskId, node), order);
  return { table: 'segments', id: segmentId, taskId, sortKey: 'segmentId', key: { taskId, segmentId } };
}

/** An eventId or segmentId names its own row; the task partition is part of the id. */
function workRefOf(workId: string): WorkRef | undefined {
  const parts = parseWorkId(workId);
  if (parts === undefined) return undefined;
  return parts.order === undefined
    ? eventRef(parts.taskId, parts.node)
    : segmentRef(parts.taskId, parts.node, parts.order);
}

// ---- the forward-only rule and the §7 answers -------------------------------------------------------

/**
 * A write of `attempt` may land on a row when (a) there is no row (unless it must exist), (b) the row is
 * of a lower attempt and has not SUCCEEDED, or (c) it is of the same attempt and at one of `below`.
 */
function forwardCondition(
  sortKey: string,
  attempt: number,
  below: readonly WorkStatus[],
  mustExist: boolean,
): Pick<UpdatePlan, 'condition' | 'conditionValues'> {
  const values: Item = { ':attempt': attempt, ':succeeded': 'SUCCEEDED' };
  const clauses = ['(#status <> :succeeded AND #attempts < :attempt)'];
  if (below.length > 0) {
    const placeholders = below.map((status, index) => {
      values[`:below${index}`] = status;
      return `:below${index}`;
    });
    clauses.push(`(#attempts = :attempt AND #status IN (${placeholders.join(', ')}))`);
  }
  const forward = clauses.join(' OR ');
  const condition = mustExist
    ? `attribute_exists(#${sortKey}) AND (${forward})`
    : `attribute_not_exists(#${sortKey}) OR ${forward}`;
  return { condition, conditionValues: values };
}

/**
 * Why a callback cannot have this row's token, first reason that applies (dag-spec §7), or undefined
 * when it can. `now` and the deadlines are ISO strings of one format, so they compare as strings.
 */
function callbackRefusal(
  workId: string,
  row: Item | undefined,
  attempt: number | undefined,
  now: string,
): Error | undefined {
  if (row === undefined) return new WorkNotFoundError(workId);
  const current = numberOr(row.waitingAttempt, numberOr(row.attempts, 1));
  const addressed = attempt ?? current;
  const passed =
    addressed === current ? (optionalString(row.expiredAt) ?? passedDeadline(row, now)) : undefined;
  if (passed !== undefined) return new WorkExpiredError(workId, addressed, passed);
  if (addressed !== current) return new StaleCallbackError(workId, 'another-attempt', addressed, current);
  if (typeof row.taskToken !== 'string')
    return new StaleCallbackError(workId, 'not-waiting', addressed, current);
  return undefined;
}

/** The deadline that has passed, unless a callback took the token before it did. */
function passedDeadline(row: Item, now: string): string | undefined {
  const deadline = optionalString(row.deadline);
  const heartbeatDeadline = optionalString(row.heartbeatDeadline);
  const claimedAt = optionalString(row.claimedAt);
  if (deadline !== undefined && claimedAt !== undefined && claimedAt <= deadline) return undefined;
  if (deadline !== undefined && now > deadline) return deadline;
  if (heartbeatDeadline !== undefined && now > heartbeatDeadline) return heartbeatDeadline;
  return undefined;
}

function stateOf(row: Item): { status: WorkStatus; attempt: number } {
  return { status: row.status as WorkStatus, attempt: numberOr(row.attempts, 0) };
}

// ---- update expressions ----------------------------------------------------------------------------

interface UpdatePlan {
  /** Attributes to set; undefined values are skipped. */
  readonly set?: Item;
  readonly setIfNotExists?: Item;
  readonly add?: Readonly<Record<string, number>>;
  /** Attributes to remove, unless `set` gives them a value. */
  readonly remove?: readonly string[];
  /** Refers to attributes as `#name` and to `conditionValues` by their `:placeholder`. */
  readonly condition?: string;
  readonly conditionValues?: Item;
}

interface BuiltUpdate {
  readonly UpdateExpression: string;
  readonly ConditionExpression?: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues?: Item;
}

/** Attribute names are always aliased (`status`, `order`, `name`... are reserved words in DynamoDB). */
function buildUpdate(plan: UpdatePlan): BuiltUpdate {
  const values: Item = { ...plan.conditionValues };
  const setClauses: string[] = [];
  const setNames = new Set<string>();
  const assign = (name: string, value: unknown, expression: (placeholder: string) => string) => {
    if (value === undefined) return;
    values[`:new_${name}`] = value;
    setNames.add(name);
    setClauses.push(`#${name} = ${expression(`:new_${name}`)}`);
  };
  for (const [name, value] of Object.entries(plan.set ?? {})) assign(name, value, (p) => p);
  for (const [name, value] of Object.entries(plan.setIfNotExists ?? {})) {
    assign(name, value, (p) => `if_not_exists(#${name}, ${p})`);
  }
  const addClauses = Object.entries(plan.add ?? {}).map(([name, value]) => {
    values[`:add_${name}`] = value;
    return `#${name} :add_${name}`;
  });
  const removeClauses = (plan.remove ?? []).filter((name) => !setNames.has(name)).map((name) => `#${name}`);
  const UpdateExpression = [
    setClauses.length > 0 ? `SET ${setClauses.join(', ')}` : '',
    addClauses.length > 0 ? `ADD ${addClauses.join(', ')}` : '',
    removeClauses.length > 0 ? `REMOVE ${removeClauses.join(', ')}` : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
  const names = namesIn(`${UpdateExpression} ${plan.condition ?? ''}`);
  return {
    UpdateExpression,
    ...(plan.condition === undefined ? {} : { ConditionExpression: plan.condition }),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length === 0 ? {} : { ExpressionAttributeValues: values }),
  };
}

function namesIn(expression: string): Record<string, string> {
  return Object.fromEntries(
    [...expression.matchAll(/#(\w+)/g)].map(([alias, name]) => [alias, name as string]),
  );
}

// ---- encoding ------------------------------------------------------------------------------------

// Inputs and outputs are arbitrary JSON from operators; stored as JSON text they round-trip exactly,
// where a DynamoDB map would cap nesting at 32 levels and refuse some keys and numbers.
function encodeJson(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

function decodeJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function encodeTask(task: TaskRecord): Item {
  return withoutUndefined({ ...task, input: encodeJson(task.input), output: encodeJson(task.output) });
}

function decodeTask(item: Item): TaskRecord {
  return decodePayloads(item) as unknown as TaskRecord;
}

function decodeWork(item: Item): PublicWork {
  return toPublicRecord(decodePayloads(item)) as unknown as PublicWork;
}

function decodePayloads(item: Item): Item {
  const decoded: Item = { ...item };
  if ('input' in item) decoded.input = decodeJson(item.input);
  if ('output' in item) decoded.output = decodeJson(item.output);
  return decoded;
}

function encodeCursor(key: Item): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeCursor(cursor: string): Item {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof key === 'object' && key !== null && !Array.isArray(key)) return key as Item;
  } catch (error) {
    throw new InvalidCursorError(cursor, { cause: error });
  }
  throw new InvalidCursorError(cursor);
}

// ---- small helpers -------------------------------------------------------------------------------

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let index = 0; index < items.length; index += size) chunks.push(items.slice(index, index + size));
  return chunks;
}

/** Full jitter, doubling per round: how AWS advises retrying throttled batch items. */
function backoff(baseDelayMs: number, round: number): number {
  return Math.random() * baseDelayMs * 2 ** round;
}

function addSeconds(date: Date, seconds: number): string {
  return toIsoTimestamp(new Date(date.getTime() + seconds * 1000));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
