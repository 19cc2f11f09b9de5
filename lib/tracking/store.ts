// What the engine (operator runtime, dispatch, status and callback Lambdas, the embedded engine) needs
// from tracking. The DynamoDB implementation is dynamo-store.ts; locally it runs against dynalite.
//
// Statuses only move forward (dag-spec §5). For events and segments, within one attempt:
// RUNNING < WAITING < SUCCEEDED | FAILED; a higher attempt may replace any row of a lower attempt that
// has not SUCCEEDED (a timed-out attempt can leave RUNNING or WAITING behind); SUCCEEDED is final.
// What a write that would move backwards does differs per method, and is written on each one.
//
// Every record returned here is a public projection (no task token), except what `claimWork` and
// `heartbeatWork` return: handing the token to the callback path is their whole purpose.

import type {
  ErrorInfo,
  NodeType,
  PublicEventRecord,
  PublicSegmentRecord,
  TaskEngine,
  TaskRecord,
  TaskStatus,
  TraceRecord,
  WorkStatus,
} from './records.js';

export interface TrackingStore {
  /**
   * Creates a RUNNING task. Idempotent on `taskId`: when the task exists, it is returned unchanged
   * (`created: false`). With an `idempotencyKey`, a second submit of the same workflow with the same key
   * within the window (24 h) returns the first task instead of creating one.
   */
  createTask(input: CreateTaskInput): Promise<CreateTaskResult>;

  /**
   * Moves a RUNNING task to a final status (or, with status RUNNING, records engine detail on a running
   * task). Repeating the status the task already has is a no-op (`applied: false`): the status Lambda
   * sees duplicates. Anything else on a task that has ended throws `StaleWriteError`, because the
   * caller must be able to answer "already finished" (e.g. 409 on abort). Unknown task:
   * `TaskNotFoundError`.
   */
  updateTaskStatus(input: UpdateTaskStatusInput): Promise<WriteResult<TaskRecord>>;

  /**
   * The one backwards move, made explicit: a FAILED, TIMED_OUT or ABORTED task runs again (dag-spec §9
   * redrive). Throws `StaleWriteError` for a RUNNING or SUCCEEDED task, `TaskNotFoundError` if unknown.
   */
  redriveTask(input: { taskId: string; now?: Date }): Promise<TaskRecord>;

  getTask(taskId: string): Promise<TaskRecord | undefined>;

  /**
   * With a workflow: its tasks, newest first (an index Query). Without: every task, in no particular
   * order, by a paginated Scan — for listings by hand, never on a hot path.
   */
  listTasks(input?: ListTasksInput): Promise<TaskPage>;

  /**
   * Records the start of an attempt of a node. A stale start (the row is at a higher attempt, has
   * SUCCEEDED, or already started this attempt) is ignored and the current row returned with
   * `applied: false`: starts come from at-least-once invocations, and failing the work over a late
   * duplicate would turn a harmless replay into a failed attempt.
   */
  startEvent(input: StartEventInput): Promise<WriteResult<PublicEventRecord>>;

  /**
   * Records the end of an attempt. Repeating the same end (same attempt and status) is a no-op
   * (`applied: false`): SDK retries of a write that landed look exactly like this. Any other
   * backwards move throws `StaleWriteError`, because the caller holds an output or error that will not
   * be recorded and must know. The row must exist (`WorkNotFoundError` otherwise): a node ends only
   * after it started.
   */
  finishEvent(input: FinishEventInput): Promise<WriteResult<PublicEventRecord>>;

  /** As `startEvent`, for one item of a parallel node. */
  startSegment(input: StartSegmentInput): Promise<WriteResult<PublicSegmentRecord>>;

  /** As `finishEvent`, for one item of a parallel node. */
  finishSegment(input: FinishSegmentInput): Promise<WriteResult<PublicSegmentRecord>>;

  /** The event or segment named by `workId`, as users may see it. */
  getWork(workId: string): Promise<PublicEventRecord | PublicSegmentRecord | undefined>;

  /** A task's events, by start time. */
  getEvents(taskId: string): Promise<PublicEventRecord[]>;

  /** A task's segments (or one node's, with `eventId`), by node and then item order. */
  getSegments(taskId: string, options?: { eventId?: string }): Promise<PublicSegmentRecord[]>;

  /** Traces are immutable: writing the same traceId again overwrites it with the same content. */
  recordTrace(trace: TraceRecord): Promise<void>;

  /**
   * Writes many traces in BatchWriteItem calls of 25, retrying unprocessed items with backoff; throws
   * `UnprocessedTracesError` if some are still unwritten after the retries.
   */
  recordTraces(traces: readonly TraceRecord[]): Promise<void>;

  /** A task's traces (or one event's, with `eventId`), in time order (their UUIDv7 ids). */
  getTraces(taskId: string, options?: { eventId?: string }): Promise<TraceRecord[]>;

  /**
   * Async work is waiting: stores the task token on the work's row and marks it WAITING for `attempt`.
   * Parking the same attempt again replaces the token (a re-dispatch). The row must exist
   * (`WorkNotFoundError`); parking an attempt that is not the row's newest, or a row that SUCCEEDED,
   * throws `StaleWriteError`.
   */
  parkWork(input: ParkWorkInput): Promise<PublicEventRecord | PublicSegmentRecord>;

  /**
   * Takes the token of waiting work, exactly once: of any number of concurrent claims, one gets it.
   * Throws, in the order dag-spec §7 answers: `WorkNotFoundError` (404) for an unknown or malformed
   * id, `WorkExpiredError` (410) when the attempt's deadline or heartbeat deadline has passed,
   * `StaleCallbackError` (409) for another attempt or work no longer waiting (claimed or finished).
   */
  claimWork(input: ClaimWorkInput): Promise<ClaimedWork>;

  /**
   * Extends the heartbeat deadline of waiting work by its `heartbeatSeconds` and returns the token for
   * SendTaskHeartbeat. Same errors as `claimWork`; the token stays on the row.
   */
  heartbeatWork(input: ClaimWorkInput): Promise<HeartbeatedWork>;

  /**
   * Puts a claimed token back when the engine could not be told (Step Functions throttled, a network
   * fault): the work waits again and the worker's retry of the callback can claim it. A no-op when a
   * newer attempt parked since, or the token is back already.
   */
  releaseWork(input: ReleaseWorkInput): Promise<void>;

  /**
   * The timeout of waiting work, for an engine that keeps its own clock (the embedded engine; Step
   * Functions times out on its own): takes the token `taskToken` of attempt `attempt` when its deadline
   * or heartbeat deadline has passed, and marks the row expired so that every later callback for the
   * attempt is 410. Of an expiry and a claim racing, exactly one takes the token. Answers `expired` with
   * the deadline that passed; `waiting` with the deadline to look again at, when none has passed (a
   * heartbeat moved it); `gone` when that token is no longer on the row (claimed, or parked again).
   */
  expireWork(input: ExpireWorkInput): Promise<ExpiredWork>;
}

export interface CreateTaskInput {
  readonly taskId: string;
  readonly workflow: string;
  readonly version?: number;
  readonly input: unknown;
  readonly idempotencyKey?: string;
  readonly engine?: TaskEngine;
  readonly executionArn?: string;
  readonly now?: Date;
}

export interface CreateTaskResult {
  readonly task: TaskRecord;
  /** False when an existing task was returned (same taskId, or same idempotency key). */
  readonly created: boolean;
}

export interface UpdateTaskStatusInput {
  readonly taskId: string;
  readonly status: TaskStatus;
  /** States the execution entered, counted from its history. */
  readonly stateTransitions?: number;
  readonly output?: unknown;
  readonly error?: ErrorInfo;
  readonly executionArn?: string;
  readonly now?: Date;
}

export interface WriteResult<T> {
  /** False when the write changed nothing (a duplicate, or a stale start); `record` is then the row as it is. */
  readonly applied: boolean;
  readonly record: T;
}

export interface ListTasksInput {
  readonly workflow?: string;
  /** Page size; 50 by default. */
  readonly limit?: number;
  /** The `cursor` of the previous page. */
  readonly cursor?: string;
}

export interface TaskPage {
  readonly tasks: TaskRecord[];
  /** Present when there may be more tasks. */
  readonly cursor?: string;
}

export interface StartEventInput {
  readonly taskId: string;
  readonly node: string;
  readonly type: NodeType;
  /** From 1. */
  readonly attempt: number;
  readonly now?: Date;
}

export interface FinishEventInput {
  readonly taskId: string;
  readonly node: string;
  readonly attempt: number;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: ErrorInfo;
  readonly now?: Date;
}

export interface StartSegmentInput {
  readonly taskId: string;
  readonly node: string;
  readonly order: number;
  readonly attempt: number;
  readonly now?: Date;
}

export interface FinishSegmentInput {
  readonly taskId: string;
  readonly node: string;
  readonly order: number;
  readonly attempt: number;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: ErrorInfo;
  readonly now?: Date;
}

export interface ParkWorkInput {
  readonly taskId: string;
  /** An eventId, or a segmentId for async work inside a parallel node. */
  readonly workId: string;
  readonly attempt: number;
  readonly taskToken: string;
  /** When this attempt times out (now + the node's timeout). */
  readonly deadline: Date;
  readonly heartbeatSeconds?: number;
  readonly now?: Date;
}

export interface ClaimWorkInput {
  readonly workId: string;
  /** Omitted: the attempt that is waiting now (dag-spec §7). */
  readonly attempt?: number;
  readonly now?: Date;
}

export interface ReleaseWorkInput {
  readonly workId: string;
  readonly attempt: number;
  readonly taskToken: string;
  readonly now?: Date;
}

export interface ExpireWorkInput {
  readonly workId: string;
  readonly attempt: number;
  readonly taskToken: string;
  readonly now?: Date;
}

export type ExpiredWork =
  | { readonly outcome: 'expired'; readonly reason: 'timeout' | 'heartbeat'; readonly deadline: string }
  | { readonly outcome: 'waiting'; readonly nextDeadline: string }
  | { readonly outcome: 'gone' };

export interface ClaimedWork {
  readonly taskToken: string;
  readonly attempt: number;
}

export interface HeartbeatedWork extends ClaimedWork {
  readonly heartbeatDeadline?: string;
}

// ---------------------------------------------------------------------------------------------------
// Errors. Each names what the caller can act on; SDK errors never leave the store untranslated when
// they carry meaning (a failed condition, an item too large).

export class TaskNotFoundError extends Error {
  readonly httpStatus = 404;
  constructor(
    readonly taskId: string,
    options?: ErrorOptions,
  ) {
    super(`Task '${taskId}' does not exist.`, options);
    this.name = 'TaskNotFoundError';
  }
}

/** dag-spec §7: unknown id, 404. Also for an id that is not an event or segment id at all. */
export class WorkNotFoundError extends Error {
  readonly httpStatus = 404;
  constructor(
    readonly workId: string,
    options?: ErrorOptions,
  ) {
    super(`No event or segment '${workId}'.`, options);
    this.name = 'WorkNotFoundError';
  }
}

/** dag-spec §7: the callback came after the node's timeout, 410. */
export class WorkExpiredError extends Error {
  readonly httpStatus = 410;
  constructor(
    readonly workId: string,
    readonly attempt: number,
    readonly deadline: string,
    options?: ErrorOptions,
  ) {
    super(`Attempt ${attempt} of '${workId}' timed out at ${deadline}.`, options);
    this.name = 'WorkExpiredError';
  }
}

export type StaleCallbackReason = 'another-attempt' | 'not-waiting';

/** dag-spec §7: another attempt, or the work is no longer waiting (answered or finished), 409. */
export class StaleCallbackError extends Error {
  readonly httpStatus = 409;
  constructor(
    readonly workId: string,
    readonly reason: StaleCallbackReason,
    readonly attempt: number,
    readonly currentAttempt: number,
    options?: ErrorOptions,
  ) {
    super(
      reason === 'another-attempt'
        ? `'${workId}' is at attempt ${currentAttempt}, not ${attempt}.`
        : `Attempt ${attempt} of '${workId}' is not waiting for a callback (answered or finished).`,
      options,
    );
    this.name = 'StaleCallbackError';
  }
}

export interface RecordState {
  readonly status: WorkStatus | TaskStatus;
  readonly attempt?: number;
}

/** A write that would move a record's status backwards. */
export class StaleWriteError extends Error {
  constructor(
    readonly recordId: string,
    readonly current: RecordState,
    readonly attempted: RecordState,
    options?: ErrorOptions,
  ) {
    super(
      `'${recordId}' is ${describeState(current)}; refusing to record ${describeState(attempted)}.`,
      options,
    );
    this.name = 'StaleWriteError';
  }
}

/** DynamoDB items are capped at 400 KB; large payloads belong in the object store, by reference. */
export class RecordTooLargeError extends Error {
  constructor(
    readonly recordId: string,
    options?: ErrorOptions,
  ) {
    super(
      `Record '${recordId}' exceeds DynamoDB's item size limit; store large payloads by reference.`,
      options,
    );
    this.name = 'RecordTooLargeError';
  }
}

export class UnprocessedTracesError extends Error {
  constructor(
    readonly traceIds: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`${traceIds.length} trace(s) were still unprocessed after retries.`, options);
    this.name = 'UnprocessedTracesError';
  }
}

/** Submits with one Idempotency-Key kept racing an expiring reservation; the caller may retry. */
export class IdempotencyKeyContendedError extends Error {
  constructor(
    readonly workflow: string,
    readonly idempotencyKey: string,
    options?: ErrorOptions,
  ) {
    super(
      `Idempotency key '${idempotencyKey}' of workflow '${workflow}' is contended; retry the submit.`,
      options,
    );
    this.name = 'IdempotencyKeyContendedError';
  }
}

/** A `listTasks` cursor that this store did not hand out. */
export class InvalidCursorError extends Error {
  constructor(
    readonly cursor: string,
    options?: ErrorOptions,
  ) {
    super(`'${cursor}' is not a task list cursor.`, options);
    this.name = 'InvalidCursorError';
  }
}

function describeState(state: RecordState): string {
  return state.attempt === undefined ? state.status : `${state.status} (attempt ${state.attempt})`;
}
