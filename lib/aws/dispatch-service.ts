// The dispatch function (dag-spec §2 async nodes): Step Functions invokes it with `.waitForTaskToken`.
// It records the attempt, parks the token on the event (or segment) row, then hands the work item to
// the operator's worker Lambda, a work queue, or a Batch GPU job. The execution resumes only through
// the callback path.
import type { WorkItem } from '../runtime/work-item.js';
import { workItemOf } from '../runtime/work-item.js';
import type { TrackingStore } from '../tracking/store.js';

/** The Payload of the compiled async Task (see emit.ts, case 'async'). */
export interface DispatchPayload {
  readonly taskToken: string;
  /** `$$.State.RetryCount`: 0 on the first attempt. */
  readonly retryCount: number;
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: string;
  readonly segment?: { readonly order: number };
  readonly via: 'lambda' | 'queue' | 'batch';
  readonly queue?: string;
  readonly operator?: string;
  readonly timeoutSeconds: number;
  readonly heartbeatSeconds?: number;
  readonly input: unknown;
}

/** Where work goes; each is one SDK call on AWS. */
export interface WorkHandOut {
  toLambda(operator: string, item: WorkItem): Promise<void>;
  toQueue(queue: string, item: WorkItem): Promise<void>;
  toBatch(operator: string, item: WorkItem): Promise<void>;
}

export class DispatchPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DispatchPayloadError';
  }
}

export async function dispatchWork(
  payload: DispatchPayload,
  deps: { readonly store: TrackingStore; readonly handOut: WorkHandOut; readonly now?: () => Date },
): Promise<WorkItem> {
  const attempt = payload.retryCount + 1;
  const order = payload.segment?.order;
  const { task, node } = payload;
  const item = workItemOf({
    task,
    node,
    attempt,
    input: payload.input,
    ...(order === undefined ? {} : { order }),
  });
  if (payload.via !== 'queue' && payload.operator === undefined)
    throw new DispatchPayloadError(`Node '${node}' runs via ${payload.via} but names no operator.`);

  if (order === undefined) await deps.store.startEvent({ taskId: task.id, node, type: 'async', attempt });
  else await deps.store.startSegment({ taskId: task.id, node, order, attempt });
  const now = deps.now?.() ?? new Date();
  await deps.store.parkWork({
    taskId: task.id,
    workId: item.id,
    attempt,
    taskToken: payload.taskToken,
    deadline: new Date(now.getTime() + payload.timeoutSeconds * 1000),
    ...(payload.heartbeatSeconds === undefined ? {} : { heartbeatSeconds: payload.heartbeatSeconds }),
    now,
  });
  // Parked before handed out: a worker fast enough to answer before this returns finds the token.
  switch (payload.via) {
    case 'lambda':
      await deps.handOut.toLambda(payload.operator!, item);
      break;
    case 'queue':
      await deps.handOut.toQueue(payload.queue ?? 'work', item);
      break;
    case 'batch':
      await deps.handOut.toBatch(payload.operator!, item);
      break;
  }
  return item;
}
