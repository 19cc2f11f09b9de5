// The tracking records of dag-spec §5, as the store reads and writes them, and the projection that every
// read meant for users goes through. Task tokens are stored on event and segment rows while async work
// waits (the callback path needs them) but leave the store only through `claimWork`/`heartbeatWork`.

/** ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes it. Sorts as a string. */
export type IsoTimestamp = string;

export type TaskStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** Status of an event (one business node) or a segment (one item of a parallel node). */
export type WorkStatus = 'RUNNING' | 'WAITING' | 'SUCCEEDED' | 'FAILED';

export type TraceStatus = 'SUCCEEDED' | 'FAILED';

/** The eight node types of dag-spec §2; an event records the type of the node it belongs to. */
export type NodeType = 'start' | 'end' | 'router' | 'sync' | 'async' | 'parallel' | 'callback' | 'script';

export type TraceResource = 'cpu' | 'gpu';

/** Which engine runs a task: AWS Step Functions or the embedded engine of `dag run`/`dag serve`. */
export type TaskEngine = 'stepfunctions' | 'embedded';

/** `error` is the error's name, `cause` its message (dag-spec §5). */
export interface ErrorInfo {
  readonly error: string;
  readonly cause: string;
}

export interface TaskRecord {
  readonly taskId: string;
  readonly workflow: string;
  readonly version?: number;
  readonly status: TaskStatus;
  readonly input: unknown;
  readonly output?: unknown;
  readonly error?: ErrorInfo;
  readonly createdAt: IsoTimestamp;
  readonly updatedAt: IsoTimestamp;
  readonly endedAt?: IsoTimestamp;
  readonly idempotencyKey?: string;
  readonly engine?: TaskEngine;
  /** The Step Functions execution (or the embedded engine's execution id) running the task. */
  readonly executionArn?: string;
  /** How many times the task was redriven after it ended without success. */
  readonly redriveCount?: number;
  /** States the execution entered (what Step Functions bills), once the task ended. */
  readonly stateTransitions?: number;
}

/**
 * Kept on the row of async work (an event, or a segment inside a parallel node) between dispatch and
 * callback. `waitingAttempt` and `deadline` stay after a claim so that a late duplicate can be told
 * apart (409 vs 410, dag-spec §7); the token does not.
 */
export interface AsyncWaitFields {
  readonly taskToken?: string;
  /** The attempt that the stored token belongs to. */
  readonly waitingAttempt?: number;
  /** When that attempt times out; a callback after it is answered 410. */
  readonly deadline?: IsoTimestamp;
  readonly heartbeatSeconds?: number;
  /** When the attempt times out unless a heartbeat arrives first. */
  readonly heartbeatDeadline?: IsoTimestamp;
  /** When a callback took the token; a claim before the deadline means the work answered in time. */
  readonly claimedAt?: IsoTimestamp;
  /** The deadline (or heartbeat deadline) that ended the attempt, once the engine expired it. */
  readonly expiredAt?: IsoTimestamp;
}

export interface EventRecord extends AsyncWaitFields {
  readonly eventId: string;
  readonly taskId: string;
  readonly node: string;
  readonly type: NodeType;
  readonly status: WorkStatus;
  /** The number of operator attempts so far, i.e. the current attempt (1 for nodes without one). */
  readonly attempts: number;
  /** Start of the first attempt. */
  readonly startedAt: IsoTimestamp;
  readonly updatedAt: IsoTimestamp;
  readonly endedAt?: IsoTimestamp;
  readonly output?: unknown;
  readonly error?: ErrorInfo;
}

export interface SegmentRecord extends AsyncWaitFields {
  readonly segmentId: string;
  readonly eventId: string;
  readonly taskId: string;
  readonly node: string;
  /** 0-based index of the item in the parallel node's array. */
  readonly order: number;
  readonly status: WorkStatus;
  readonly attempts: number;
  readonly startedAt: IsoTimestamp;
  readonly updatedAt: IsoTimestamp;
  readonly endedAt?: IsoTimestamp;
  readonly output?: unknown;
  readonly error?: ErrorInfo;
}

export interface TraceRecord {
  readonly traceId: string;
  readonly taskId: string;
  readonly eventId: string;
  readonly segmentId?: string;
  readonly attempt: number;
  readonly resource: TraceResource;
  readonly startedAt: IsoTimestamp;
  readonly endedAt: IsoTimestamp;
  readonly durationMs: number;
  readonly status: TraceStatus;
  readonly error?: ErrorInfo;
}

/** A record as users may see it: everything but the task token. */
export type PublicRecord<T extends AsyncWaitFields> = Omit<T, 'taskToken'>;
export type PublicEventRecord = PublicRecord<EventRecord>;
export type PublicSegmentRecord = PublicRecord<SegmentRecord>;

/** Strips the task token. Every read that may reach a user (API, CLI, reports) goes through this. */
export function toPublicRecord<T extends AsyncWaitFields>(record: T): PublicRecord<T> {
  const { taskToken: _token, ...rest } = record;
  return rest;
}

export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

export function isFinalTaskStatus(status: TaskStatus): boolean {
  return FINAL_TASK_STATUSES.includes(status);
}

/**
 * Within one attempt a row only moves up this ladder; SUCCEEDED and FAILED share the top rung, so an
 * attempt that ended cannot change its mind.
 */
const WORK_STATUS_RANK: Readonly<Record<WorkStatus, number>> = {
  RUNNING: 0,
  WAITING: 1,
  SUCCEEDED: 2,
  FAILED: 2,
};

/** The statuses of the same attempt that `status` may overwrite. */
export function workStatusesBelow(status: WorkStatus): WorkStatus[] {
  const rank = WORK_STATUS_RANK[status];
  return (Object.keys(WORK_STATUS_RANK) as WorkStatus[]).filter((s) => WORK_STATUS_RANK[s] < rank);
}

export function toIsoTimestamp(date: Date): IsoTimestamp {
  return date.toISOString();
}
