// Step Functions execution status changes (EventBridge) -> the task record, the events of nodes that
// run no code from the execution history, and the end of work the execution stopped.
import { SFNClient } from '@aws-sdk/client-sfn';
import type { EventBridgeEvent } from 'aws-lambda';
import { createLogger } from '../../lib/aws/logging.js';
import {
  type ExecutionStatusDetail,
  recordExecutionStatus,
  SfnExecutionReader,
  type StatusServiceDeps,
} from '../../lib/aws/status-service.js';
import { trackingFromEnv, workflowsFrom } from '../../lib/aws/stores.js';

const logger = createLogger();
const stores = trackingFromEnv(['tasks', 'events', 'segments', 'workflows']);
const deps: StatusServiceDeps = {
  store: stores.tracking,
  deployments: workflowsFrom(stores).deployments,
  executions: new SfnExecutionReader(new SFNClient({})),
};

export async function handler(
  event: EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusDetail>,
): Promise<void> {
  const detail = event.detail;
  const outcome = await recordExecutionStatus(detail, deps);
  // `taskStatus` on final statuses feeds the failed-tasks alarm (a metric filter on this log group).
  logger.info(`execution ${detail.status}: ${outcome}`, {
    taskId: detail.name,
    executionArn: detail.executionArn,
    outcome,
    ...(outcome === 'recorded' ? { taskStatus: detail.status } : {}),
  });
}
