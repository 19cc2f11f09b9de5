// The worker side of async work on AWS — an operator's worker Lambda, its queue consumer, the Batch GPU
// job: run the operator on the work item through the operator runtime (one trace per attempt; the
// event itself is finished by the callback path), then answer as any worker would, with a
// `Node Callback` event on the engine's bus (dag-spec §7).
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Callback } from '../runtime/callbacks.js';
import { errorInfo, type OperatorRuntime } from '../runtime/operator-runtime.js';
import type { OperatorHandler } from '../runtime/operators.js';
import type { WorkItem } from '../runtime/work-item.js';
import type { TraceResource } from '../tracking/records.js';

export const CALLBACK_SOURCE = 'dag.worker';
export const CALLBACK_DETAIL_TYPE = 'Node Callback';

export interface CallbackReporter {
  report(callback: Callback): Promise<void>;
}

export class CallbackNotDeliveredError extends Error {
  constructor(
    readonly workId: string,
    reason: string,
  ) {
    super(`The callback for '${workId}' was not put on the bus: ${reason}`);
    this.name = 'CallbackNotDeliveredError';
  }
}

export class EventBridgeCallbackReporter implements CallbackReporter {
  constructor(
    private readonly events: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async report(callback: Callback): Promise<void> {
    const result = await this.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: CALLBACK_SOURCE,
            DetailType: CALLBACK_DETAIL_TYPE,
            Detail: JSON.stringify(callback),
          },
        ],
      }),
    );
    const failed = result.Entries?.find((entry) => entry.ErrorCode !== undefined);
    if ((result.FailedEntryCount ?? 0) > 0 || failed)
      throw new CallbackNotDeliveredError(callback.id, `${failed?.ErrorCode}: ${failed?.ErrorMessage}`);
  }
}

export interface WorkerDeps {
  readonly runtime: OperatorRuntime;
  readonly operator: OperatorHandler;
  readonly reporter: CallbackReporter;
  readonly resource?: TraceResource;
}

/** Runs one work item; resolves once its callback is on the bus (a throw means it is not). */
export async function runWorkItem(item: WorkItem, deps: WorkerDeps): Promise<void> {
  let callback: Callback;
  try {
    const output = await deps.runtime.run(
      {
        task: item.task,
        node: item.node.name,
        nodeType: item.segment === undefined ? 'async' : 'parallel',
        ...(item.segment === undefined ? {} : { order: item.segment.order }),
        attempt: item.attempt,
        input: item.input,
        resource: deps.resource ?? 'cpu',
        recordWork: false,
      },
      (event) => deps.operator(event),
    );
    callback = { id: item.id, attempt: item.attempt, status: 'SUCCEEDED', output: output as never };
  } catch (error) {
    callback = { id: item.id, attempt: item.attempt, status: 'FAILED', error: errorInfo(error) };
  }
  await deps.reporter.report(callback);
}

export class InvalidWorkItemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidWorkItemError';
  }
}

/** A work item from a queue message or an environment variable; throws on anything else. */
export function parseWorkItem(text: string): WorkItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidWorkItemError('The work item is not JSON.');
  }
  const item = value as Partial<WorkItem> | null;
  if (
    item === null ||
    typeof item !== 'object' ||
    typeof item.id !== 'string' ||
    typeof item.attempt !== 'number' ||
    typeof item.task?.id !== 'string' ||
    typeof item.task?.workflow !== 'string' ||
    typeof item.node?.name !== 'string'
  )
    throw new InvalidWorkItemError('The work item lacks id, attempt, task {id, workflow} or node {name}.');
  return item as WorkItem;
}
