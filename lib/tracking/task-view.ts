// `GET /tasks/{taskId}` (dag-spec §9) and `dag run --json` (§8): a task as users see it, from the
// tracking tables, on AWS and locally. Records go through the store's public projections, so no task
// token can reach the answer.
import type {
  PublicEventRecord,
  PublicSegmentRecord,
  TaskRecord,
  TaskStatus,
  TraceRecord,
} from './records.js';
import type { TrackingStore } from './store.js';

export interface EventView {
  eventId: string;
  node: string;
  type: string;
  status: string;
  attempts: number;
  startedAt: string;
  endedAt?: string;
}

export interface SegmentView {
  segmentId: string;
  eventId: string;
  order: number;
  status: string;
  attempts: number;
}

export interface TaskView {
  readonly taskId: string;
  readonly workflow: string;
  readonly status: TaskStatus;
  readonly output?: unknown;
  readonly error?: { error: string; cause: string };
  readonly events: EventView[];
  readonly segments: SegmentView[];
  /**
   * `stateTransitions` is recorded when the task ends (counted from the execution history on AWS, from
   * the event log locally); null while it runs. `durationMs` runs from submit to the end (or now).
   */
  readonly stats: { stateTransitions: number | null; durationMs: number };
}

export async function getTaskView(
  store: TrackingStore,
  taskId: string,
  now: Date = new Date(),
): Promise<TaskView | undefined> {
  const task = await store.getTask(taskId);
  if (!task) return undefined;
  const [events, segments] = await Promise.all([store.getEvents(taskId), store.getSegments(taskId)]);
  return taskView(task, events, segments, now);
}

export function taskView(
  task: TaskRecord,
  events: readonly PublicEventRecord[],
  segments: readonly PublicSegmentRecord[],
  now: Date,
): TaskView {
  const ended = task.endedAt === undefined ? now.getTime() : Date.parse(task.endedAt);
  return {
    taskId: task.taskId,
    workflow: task.workflow,
    status: task.status,
    ...(task.output === undefined ? {} : { output: task.output }),
    ...(task.error === undefined ? {} : { error: task.error }),
    events: events.map(eventView),
    segments: segments.map(segmentView),
    stats: {
      stateTransitions: task.stateTransitions ?? null,
      durationMs: Math.max(0, ended - Date.parse(task.createdAt)),
    },
  };
}

export function eventView(e: PublicEventRecord): EventView {
  return {
    eventId: e.eventId,
    node: e.node,
    type: e.type,
    status: e.status,
    attempts: e.attempts,
    startedAt: e.startedAt,
    ...(e.endedAt ? { endedAt: e.endedAt } : {}),
  };
}

export function segmentView(s: PublicSegmentRecord): SegmentView {
  return {
    segmentId: s.segmentId,
    eventId: s.eventId,
    order: s.order,
    status: s.status,
    attempts: s.attempts,
  };
}

/** `GET /tasks/{taskId}/traces`; undefined for an unknown task. */
export async function getTaskTraces(
  store: TrackingStore,
  taskId: string,
): Promise<TraceRecord[] | undefined> {
  const task = await store.getTask(taskId);
  if (!task) return undefined;
  return store.getTraces(taskId);
}
