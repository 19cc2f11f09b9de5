import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import {
  answerForError,
  bodyOf,
  header,
  json,
  message,
  parseJson,
  pathParameter,
} from '../../lib/aws/http.js';
import { createLogger } from '../../lib/aws/logging.js';
import { taskServiceFromEnv } from '../../lib/aws/stores.js';
import {
  InvalidIdempotencyKeyError,
  InvalidTaskInputError,
  submitTask,
  TaskInputTooLargeError,
  WorkflowNotDeployedError,
  WorkflowNotFoundError,
} from '../../lib/aws/task-service.js';
import { IdempotencyKeyContendedError, RecordTooLargeError } from '../../lib/tracking/store.js';

const logger = createLogger();
const deps = taskServiceFromEnv();

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const workflow = pathParameter(event, 'name');
  const body = bodyOf(event).text;
  let input: unknown = {};
  if (body.trim() !== '') {
    const parsed = parseJson(body);
    if (!parsed.ok) return message(400, `The task input is not JSON: ${parsed.message}`);
    input = parsed.value;
  }
  const idempotencyKey = header(event, 'idempotency-key');
  try {
    const { taskId, created } = await submitTask(
      { workflow, input, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) },
      deps,
    );
    logger.info(created ? 'task submitted' : 'task already submitted with this key', { taskId, workflow });
    return json(202, { taskId });
  } catch (error) {
    if (error instanceof InvalidTaskInputError)
      return json(400, { message: error.message, path: error.path });
    const answer = answerForError(error, [
      [WorkflowNotFoundError, 404],
      [InvalidIdempotencyKeyError, 400],
      [TaskInputTooLargeError, 413],
      [RecordTooLargeError, 413],
      [WorkflowNotDeployedError, 409],
      [IdempotencyKeyContendedError, 409],
    ]);
    if (answer) return answer;
    logger.error('submit failed', { error, workflow });
    throw error;
  }
}
