import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createLogger } from '../../lib/aws/logging.js';
import { taskServiceFromEnv } from '../../lib/aws/stores.js';
import { InvalidTaskInputError, submitTask, TaskInputTooLargeError } from '../../lib/aws/task-service.js';
import {
  InvalidUploadNotificationError,
  uploadedObjects,
  uploadRequest,
} from '../../lib/aws/upload-service.js';

const logger = createLogger();
const deps = taskServiceFromEnv();

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
