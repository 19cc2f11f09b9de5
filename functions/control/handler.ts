// `POST /tasks/{taskId}/abort` (StopExecution) and `POST /tasks/{taskId}/redrive` (RedriveExecution),
// dag-spec §9.
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { answerForError, json, message, pathParameter } from '../../lib/aws/http.js';
import { createLogger } from '../../lib/aws/logging.js';
import { trackingFromEnv, workflowsFrom } from '../../lib/aws/stores.js';
import {
  abortTask,
  redriveTask,
  type TaskServiceDeps,
  TaskStateConflictError,
} from '../../lib/aws/task-service.js';
import { TaskInputChecker } from '../../lib/runtime/task-input.js';
import { TaskNotFoundError } from '../../lib/tracking/store.js';

const logger = createLogger();
const stores = trackingFromEnv(['tasks', 'workflows']);
const deps: TaskServiceDeps = {
  store: stores.tracking,
  deployments: workflowsFrom(stores).deployments,
  sfn: new SFNClient({}),
  inputs: new TaskInputChecker(),
};

const actions: Readonly<Record<string, typeof abortTask>> = {
  '/tasks/{taskId}/abort': abortTask,
  '/tasks/{taskId}/redrive': redriveTask,
};

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const action = event.httpMethod === 'POST' ? actions[event.resource] : undefined;
  if (!action) return message(404, `No route ${event.httpMethod} ${event.path}.`);
  const taskId = pathParameter(event, 'taskId');
  try {
    const task = await action(taskId, deps);
    logger.info(`task ${task.status}`, { taskId, resource: event.resource });
    return json(action === abortTask ? 200 : 202, { taskId, status: task.status });
  } catch (error) {
    const answer = answerForError(error, [
      [TaskNotFoundError, 404],
      [TaskStateConflictError, 409],
    ]);
    if (answer) return answer;
    logger.error('task control failed', { error, taskId, resource: event.resource });
    throw error;
  }
}
