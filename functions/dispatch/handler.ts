// Async nodes (dag-spec §2): invoked by Step Functions with `.waitForTaskToken`; parks the token on the
// event (or segment) and hands the work item to a worker Lambda, a work queue or a Batch GPU job.
import { BatchClient } from '@aws-sdk/client-batch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type DispatchPayload, dispatchWork } from '../../lib/aws/dispatch-service.js';
import { createLogger, trackingKeys } from '../../lib/aws/logging.js';
import { trackingFromEnv } from '../../lib/aws/stores.js';
import { AwsWorkHandOut } from '../../lib/aws/work-hand-out.js';
import { ENV, requireEnv, requireJsonMapEnv } from '../../lib/config/env.js';
import { eventIdOf } from '../../lib/tracking/ids.js';

const logger = createLogger();
const store = trackingFromEnv(['events', 'segments']).tracking;
const handOut = new AwsWorkHandOut({
  lambda: new LambdaClient({}),
  sqs: new SQSClient({}),
  batch: new BatchClient({}),
  workers: requireJsonMapEnv(ENV.OPERATOR_WORKERS),
  queues: requireJsonMapEnv(ENV.WORK_QUEUES),
  batchJobQueueArn: requireEnv(ENV.BATCH_JOB_QUEUE_ARN),
  batchJobDefinitionArn: requireEnv(ENV.BATCH_JOB_DEFINITION_ARN),
});

export async function handler(payload: DispatchPayload): Promise<void> {
  const item = await dispatchWork(payload, { store, handOut });
  logger.info(`work handed out via ${payload.via}`, {
    ...trackingKeys({
      taskId: item.task.id,
      eventId: eventIdOf(item.task.id, item.node.name),
      segmentId: item.segment?.id,
    }),
    attempt: item.attempt,
    ...(payload.queue ? { queue: payload.queue } : {}),
    ...(payload.operator ? { operator: payload.operator } : {}),
  });
}
