// The wrapper every operator Lambda runs: the operator (aliased in at bundle time, see
// operator-module.d.ts) through the operator runtime, which records the event or segment and one trace
// per attempt. Three triggers, three functions on one bundle:
//   handler      a sync node's Task state (or a parallel node's item), invoked by Step Functions
//   handleWork   an async work item, invoked by the dispatch function (`via: lambda`)
//   handleQueue  async work items from the work queue this operator consumes (`via: queue`)
// Work items are answered with a `Node Callback` event on the engine's bus, as any worker would.

import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { handler as runOperator } from '@dag/operator';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createLogger, runtimeLogLine } from '../../lib/aws/logging.js';
import { trackingFromEnv } from '../../lib/aws/stores.js';
import {
  type CallbackReporter,
  EventBridgeCallbackReporter,
  parseWorkItem,
  runWorkItem,
} from '../../lib/aws/worker.js';
import { ENV, requireEnv } from '../../lib/config/env.js';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.js';
import type { WorkItem } from '../../lib/runtime/work-item.js';

const operator = requireEnv(ENV.OPERATOR);
const logger = createLogger();
logger.appendPersistentKeys({ operator });
const runtime = new OperatorRuntime(
  trackingFromEnv(['events', 'segments', 'traces']).tracking,
  runtimeLogLine(logger),
);

/** The Parameters of a compiled sync Task (see emit.ts, case 'sync'). */
export interface OperatorTaskInput {
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: string;
  readonly segment?: { readonly order: number };
  /** `$$.State.RetryCount`: 0 on the first attempt. */
  readonly retryCount: number;
  readonly input: unknown;
}

export async function handler(input: OperatorTaskInput): Promise<unknown> {
  const order = input.segment?.order;
  return runtime.run(
    {
      task: input.task,
      node: input.node,
      nodeType: order === undefined ? 'sync' : 'parallel',
      ...(order === undefined ? {} : { order }),
      attempt: input.retryCount + 1,
      input: input.input,
    },
    (event) => runOperator(event),
  );
}

// Only the worker functions are bound to the bus: built on first use, not at module scope.
let reporter: CallbackReporter | undefined;
function callbackReporter(): CallbackReporter {
  reporter ??= new EventBridgeCallbackReporter(new EventBridgeClient({}), requireEnv(ENV.EVENT_BUS_NAME));
  return reporter;
}

export async function handleWork(item: WorkItem): Promise<void> {
  await runWorkItem(item, { runtime, operator: runOperator, reporter: callbackReporter() });
}

/** A message whose callback could not be put on the bus goes back to the queue. */
export async function handleQueue(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      await runWorkItem(parseWorkItem(record.body), {
        runtime,
        operator: runOperator,
        reporter: callbackReporter(),
      });
    } catch (error) {
      logger.error('work item not answered', { error, messageId: record.messageId });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
