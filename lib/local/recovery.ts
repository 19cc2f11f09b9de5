// Resuming a task that was RUNNING when its engine stopped (`dag serve` stopped or died, and started
// again on the same --data). The execution runs again from the start with the redrive machinery; what
// the records say decides what each Task binding does when the execution reaches it:
//
// - work that SUCCEEDED gives its recorded output and does not run again;
// - work whose last attempt FAILED and that had no attempt left (its failure was caught by `onError`,
//   or tolerated in a parallel node) fails again with the recorded error, without running, so the
//   execution takes the path it took before;
// - async work handed to an outside worker (`via: queue` without an operator) that was WAITING is
//   parked again under the same id and attempt, with a new local token and its original deadline,
//   before the execution starts; the work item is not handed out again: the worker still holds it and
//   calls back with that id and attempt;
// - everything else that was in flight runs again as its next attempt: sync and script work, and async
//   work whose worker ran inside the stopped process (`via: lambda`, `via: batch`, `via: queue` with an
//   operator), which died with it.
//
// What this cannot resume, and why: work running inside the stopped process (those attempts are lost
// with it; they leave a RUNNING or WAITING row and no trace, and the next attempt replaces them); a
// work item that was still in the in-memory queue, not yet received by a worker (the queue died with
// the process; the node waits until its timeout, then retries per `retry`); a callback node that was
// sending (it is sent again: at least once); a task whose workflow version no longer compiles (`dag
// serve` ends it FAILED). The retries of a node in flight count again from its current attempt, and the
// workflow's `timeout` again from the restart: aws-local-stepfunctions starts both afresh and cannot be
// told otherwise (for the same reason a replayed failure goes through its node's retries again, at
// once for a Task state, after the retry waits for an item of a parallel node).
import { allStates } from '../compiler/passes.js';
import type { ExecutionPlan } from '../compiler/plan-types.js';
import type { ItemNode, WorkflowNode } from '../dag/schema.js';
import { OperatorFailedError } from '../runtime/operator-runtime.js';
import type { ErrorInfo, PublicEventRecord, PublicSegmentRecord, TaskRecord } from '../tracking/records.js';
import { StaleWriteError, TaskNotFoundError, type TrackingStore } from '../tracking/store.js';
import type { ParkRequest } from './parked-work.js';

/**
 * A recorded failure that stands. The Task bindings return what `reuse` holds for a node; returning
 * this from an async function rejects it with the recorded error again, as the node failed before.
 */
export class ReplayedFailure implements PromiseLike<never> {
  constructor(readonly error: ErrorInfo) {}

  // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose (see the class comment)
  then<A = never, B = never>(
    _onFulfilled?: ((value: never) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return Promise.reject(new OperatorFailedError(this.error.error, this.error.cause)).then(
      undefined,
      onRejected,
    );
  }
}

export interface ResumedWork {
  readonly task: TaskRecord;
  /** External work to park again before the execution starts. */
  readonly reparks: readonly ParkRequest[];
  /** Task states that only replay a failure: their retries need no wait. */
  readonly replayingStates: readonly string[];
}

/**
 * Reads what task `taskId` (RUNNING) had done into `attempts` (per node and per `node#order`: the
 * bindings add one for the attempt they start) and `reuse` (outputs, and failures to replay).
 * `StaleWriteError` when the task is not RUNNING, `TaskNotFoundError` when unknown.
 */
export async function resumableWork(
  store: TrackingStore,
  plan: ExecutionPlan,
  taskId: string,
  attempts: Map<string, number>,
  reuse: Map<string, unknown>,
): Promise<ResumedWork> {
  const task = await store.getTask(taskId);
  if (!task) throw new TaskNotFoundError(taskId);
  if (task.status !== 'RUNNING')
    throw new StaleWriteError(taskId, { status: task.status }, { status: 'RUNNING' });
  const [events, segments] = await Promise.all([store.getEvents(taskId), store.getSegments(taskId)]);
  const reparks: ParkRequest[] = [];
  const replaying = new Set<string>();
  const resume = (
    key: string,
    node: WorkflowNode | ItemNode,
    row: PublicEventRecord | PublicSegmentRecord,
  ) => {
    const workId = 'segmentId' in row ? row.segmentId : row.eventId;
    attempts.set(key, row.attempts);
    if (row.status === 'SUCCEEDED') reuse.set(key, node.type === 'callback' ? {} : (row.output ?? null));
    else if (row.status === 'FAILED' && row.error && isFinalFailure(plan, node, row.attempts)) {
      reuse.set(key, new ReplayedFailure(row.error));
      if (!('segmentId' in row)) replaying.add(row.node);
    } else if (heldOutside(node, row)) {
      // The binding adds one: the attempt that waits is the one it asks for.
      attempts.set(key, row.attempts - 1);
      reparks.push({
        taskId,
        workId,
        attempt: row.attempts,
        deadline: new Date(row.deadline!),
        ...(row.heartbeatSeconds === undefined ? {} : { heartbeatSeconds: row.heartbeatSeconds }),
      });
    }
  };
  for (const event of events) {
    const node = plan.dag.nodes.get(event.node);
    if (!node) continue;
    // Nodes that run no operator carry on at the attempt they are at; they did not fail.
    if (['sync', 'async', 'script', 'callback'].includes(event.type)) resume(event.node, node, event);
    else attempts.set(event.node, event.attempts);
  }
  for (const segment of segments) {
    const parallel = plan.dag.nodes.get(segment.node);
    if (parallel?.type === 'parallel') resume(`${segment.node}#${segment.order}`, parallel.node, segment);
  }
  return { task, reparks, replayingStates: statesOnlyOf(plan, replaying) };
}

/** Whether the attempt failed with no retry left: the failure already took its path. */
function isFinalFailure(plan: ExecutionPlan, node: WorkflowNode | ItemNode, attempt: number): boolean {
  if (node.type !== 'sync' && node.type !== 'async' && node.type !== 'script') return false;
  const policy = node.type === 'script' ? undefined : (node.retry ?? plan.dag.workflow.defaults?.retry);
  return attempt >= (policy?.maxAttempts ?? 1);
}

/** WAITING work that a worker outside the engine holds, at the attempt that waits and not expired. */
function heldOutside(node: WorkflowNode | ItemNode, row: PublicEventRecord | PublicSegmentRecord): boolean {
  return (
    node.type === 'async' &&
    node.via === 'queue' &&
    node.operator === undefined &&
    row.status === 'WAITING' &&
    row.waitingAttempt === row.attempts &&
    row.deadline !== undefined &&
    row.expiredAt === undefined
  );
}

/** The Task states that run nothing but these nodes (a fused state that runs others is left out). */
function statesOnlyOf(plan: ExecutionPlan, nodes: ReadonlySet<string>): string[] {
  const states: string[] = [];
  for (const state of allStates(plan))
    if (state.kind === 'task' && state.nodes.length === 1 && nodes.has(state.nodes[0]!))
      states.push(state.name);
  return states;
}
