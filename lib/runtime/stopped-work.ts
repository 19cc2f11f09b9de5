// Work a task stopped without letting it finish (dag-spec §5: once a task has ended, every event and
// segment is final). When a branch of a fork, or an item of a parallel node, fails, Step Functions
// aborts the rest of the Parallel or Map state: the states running in the other branches or items
// stop where they are (TaskStateAborted, MapStateAborted, ...). Their events and segments end FAILED
// with an error that says so, rather than RUNNING or WAITING for good. An abort or a timeout of the
// whole task stops its work the same way. An operator call already under way still runs to its end
// (its trace records what it did), but its late outcome no longer changes the record: the store keeps
// an attempt's first end (StaleWriteError for another).
import type { ErrorInfo, PublicEventRecord, PublicSegmentRecord, TaskStatus } from '../tracking/records.js';
import { StaleWriteError, type TrackingStore } from '../tracking/store.js';

/** The error of work stopped because a branch or item beside it failed (the ASL error of that case). */
export const BRANCH_FAILED = 'States.BranchFailed';

/** The error recorded on work the ended task stopped, by how the task ended. */
export function stoppedWorkError(taskStatus: Exclude<TaskStatus, 'RUNNING'>): ErrorInfo {
  switch (taskStatus) {
    case 'ABORTED':
      return { error: 'Aborted', cause: 'Stopped: the task was aborted.' };
    case 'TIMED_OUT':
      return { error: 'States.Timeout', cause: 'Stopped: the task ran longer than the workflow timeout.' };
    default:
      // A failing branch fails the task; a failing item fails its parallel node, which an onError may
      // catch: either way the work beside it was stopped, and the task may still have succeeded.
      return {
        error: BRANCH_FAILED,
        cause:
          'Stopped: a parallel branch or item beside this one failed, which stops the rest of its fork or parallel node.',
      };
  }
}

/** Whether a record is still open: its work neither succeeded nor failed. */
export function isOpenWork(record: PublicEventRecord | PublicSegmentRecord): boolean {
  return record.status === 'RUNNING' || record.status === 'WAITING';
}

/**
 * Ends FAILED, with `stoppedWorkError`, every event and segment of the ended task that is still
 * RUNNING or WAITING, at the attempt it is at. Work that ends on its own meanwhile keeps its own end.
 * Returns how many records it ended.
 */
export async function finishStoppedWork(
  store: TrackingStore,
  taskId: string,
  taskStatus: Exclude<TaskStatus, 'RUNNING'>,
  now?: Date,
): Promise<number> {
  const [events, segments] = await Promise.all([store.getEvents(taskId), store.getSegments(taskId)]);
  const error = stoppedWorkError(taskStatus);
  const at = now === undefined ? {} : { now };
  let ended = 0;
  const end = async (write: () => Promise<{ applied: boolean }>) => {
    try {
      if ((await write()).applied) ended++;
    } catch (failure) {
      // It ended on its own between the read and this write, or a later attempt started (a redrive).
      if (!(failure instanceof StaleWriteError)) throw failure;
    }
  };
  for (const event of events.filter(isOpenWork))
    await end(() =>
      store.finishEvent({
        taskId,
        node: event.node,
        attempt: event.attempts,
        status: 'FAILED',
        error,
        ...at,
      }),
    );
  for (const segment of segments.filter(isOpenWork))
    await end(() =>
      store.finishSegment({
        taskId,
        node: segment.node,
        order: segment.order,
        attempt: segment.attempts,
        status: 'FAILED',
        error,
        ...at,
      }),
    );
  return ended;
}
