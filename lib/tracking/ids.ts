// Ids of the tracking records (dag-spec §5). Task and trace ids are UUIDv7 so that they sort by creation
// time as plain strings; event and segment ids are formulas over the task id, so that a worker or a
// callback that knows only an event or segment id can find the record's partition (the task) again.
//
// The separator is `_`. Node names cannot contain it (§1) and task ids are UUIDs (or at least free of
// it), so `<taskId>_<node>_<order>` splits back without ambiguity.

import { v7 as uuidv7 } from 'uuid';

/** Node names, as dag-spec §1 fixes them. */
export const NODE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;

/**
 * What a task id may look like. Minted ids are UUIDv7; callers may bring their own, so any short id
 * without the separator is accepted.
 */
const TASK_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** 0-based item index, written without leading zeros so that each order has exactly one spelling. */
const ORDER_PATTERN = /^(0|[1-9][0-9]{0,15})$/;

const SEPARATOR = '_';

export class InvalidIdError extends Error {
  constructor(
    message: string,
    readonly value: string,
  ) {
    super(message);
    this.name = 'InvalidIdError';
  }
}

/** The parts of an event id (`order` undefined) or a segment id. */
export interface WorkIdParts {
  readonly taskId: string;
  readonly node: string;
  readonly order?: number;
}

export function newTaskId(): string {
  return uuidv7();
}

export function newTraceId(): string {
  return uuidv7();
}

export function eventIdOf(taskId: string, node: string): string {
  assertTaskId(taskId);
  if (!NODE_NAME_PATTERN.test(node)) {
    throw new InvalidIdError(`Node name '${node}' does not match ${NODE_NAME_PATTERN}.`, node);
  }
  return `${taskId}${SEPARATOR}${node}`;
}

export function segmentIdOf(eventId: string, order: number): string {
  const parts = parseWorkId(eventId);
  if (parts === undefined || parts.order !== undefined) {
    throw new InvalidIdError(`'${eventId}' is not an event id (<taskId>_<node>).`, eventId);
  }
  if (!Number.isSafeInteger(order) || order < 0) {
    throw new InvalidIdError(`Segment order must be a non-negative integer, got ${order}.`, String(order));
  }
  return `${eventId}${SEPARATOR}${order}`;
}

/** The prefix that every segment id of an event starts with (for a `begins_with` key condition). */
export function segmentIdPrefixOf(eventId: string): string {
  return `${eventId}${SEPARATOR}`;
}

/**
 * Splits an event id or a segment id into its parts; undefined when the id is not one of them. Callers
 * that get ids from outside (callbacks, queues) use this to answer "unknown id" without a lookup.
 */
export function parseWorkId(id: string): WorkIdParts | undefined {
  const parts = id.split(SEPARATOR);
  const [taskId, node, order] = parts;
  if (parts.length > 3 || taskId === undefined || node === undefined) return undefined;
  if (!TASK_ID_PATTERN.test(taskId) || !NODE_NAME_PATTERN.test(node)) return undefined;
  if (order === undefined) return { taskId, node };
  if (!ORDER_PATTERN.test(order)) return undefined;
  const value = Number(order);
  return Number.isSafeInteger(value) ? { taskId, node, order: value } : undefined;
}

function assertTaskId(taskId: string): void {
  if (!TASK_ID_PATTERN.test(taskId)) {
    throw new InvalidIdError(`Task id '${taskId}' does not match ${TASK_ID_PATTERN}.`, taskId);
  }
}
