// S3 uploads under `uploads/<workflow>/` -> tasks (dag-spec §9), from the SQS buffer of the bucket's
// notifications. Partial batch failures: only messages that may succeed later (throttling, a workflow
// not registered yet) go back to the queue, and to its DLQ after a few tries; an input the workflow
// refuses will never pass and is logged and dropped.
import { SFNClient } from '@aws-sdk/client-sfn';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createLogger } from '../../lib/aws/logging.js';
import { trackingFromEnv, workflowsFrom } from '../../lib/aws/stores.js';
import {
  InvalidTaskInputError,
  submitTask,
  TaskInputTooLargeError,
  type TaskServiceDeps,
} from '../../lib/aws/task-service.js';
import {
  InvalidUploadNotificationError,
  uploadedObjects,
  uploadRequest,
} from '../../lib/aws/upload-service.js';
import { TaskInputChecker } from '../../lib/runtime/task-input.js';

const logger = createLogger();
const stores = trackingFromEnv(['tasks', 'idempotency', 'workflows']);
const deps: TaskServiceDeps = {
  store: stores.tracking,
  deployments: workflowsFrom(stores).deployments,
  sfn: new SFNClient({}),
  inputs: new TaskInputChecker(),
};

/** Failures no retry can fix: logged and dropped. */
const PERMANENT = [InvalidTaskInputError, TaskInputTooLargeError, InvalidUploadNotificationError];

export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    try {
      for (const object of uploadedObjects(record.body)) {
        const request = uploadRequest(object);
        if (!request) {
          logger.warn('upload outside uploads/<workflow>/: ignored', { key: object.key });
          continue;
        }
        const { taskId, created } = await submitTask(request, deps);
        logger.info(created ? 'upload started a task' : 'upload already started a task', {
          taskId,
          workflow: request.workflow,
          source: request.input.source,
        });
      }
    } catch (error) {
      if (PERMANENT.some((errorClass) => error instanceof errorClass)) {
        logger.error('upload dropped', { error, messageId: record.messageId });
        continue;
      }
      logger.warn('upload will be retried', { error, messageId: record.messageId });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
