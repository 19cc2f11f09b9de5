// The read routes of dag-spec §9: `GET /workflows`, `GET /workflows/{name}`, `GET /tasks/{taskId}`,
// `GET /tasks/{taskId}/traces`. Every record goes through the store's public projections: task tokens
// are never returned.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { answerForError, json, message, pathParameter } from '../../lib/aws/http.js';
import { createLogger } from '../../lib/aws/logging.js';
import { trackingFromEnv, workflowsFrom } from '../../lib/aws/stores.js';
import { getTaskTraces, getTaskView } from '../../lib/tracking/task-view.js';

const logger = createLogger();
const stores = trackingFromEnv(['tasks', 'events', 'segments', 'traces', 'workflows']);
const { registry, deployments } = workflowsFrom(stores);

type Route = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

const routes: Readonly<Record<string, Route>> = {
  '/workflows': listWorkflows,
  '/workflows/{name}': getWorkflow,
  '/tasks/{taskId}': getTask,
  '/tasks/{taskId}/traces': getTraces,
};

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const route = event.httpMethod === 'GET' ? routes[event.resource] : undefined;
  if (!route) return message(404, `No route ${event.httpMethod} ${event.path}.`);
  try {
    return await route(event);
  } catch (error) {
    const answer = answerForError(error, []);
    if (answer) return answer;
    logger.error('query failed', { error, resource: event.resource });
    throw error;
  }
}

async function listWorkflows(): Promise<APIGatewayProxyResult> {
  const list = await registry.listLatest();
  return json(200, {
    workflows: list.map((w) => ({
      name: w.name,
      version: w.version,
      ...(w.description === undefined ? {} : { description: w.description }),
      createdAt: w.createdAt,
    })),
  });
}

async function getWorkflow(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const name = pathParameter(event, 'name');
  const raw = event.queryStringParameters?.version;
  if (raw !== undefined && !/^[1-9][0-9]{0,8}$/.test(raw))
    return message(400, '?version takes a positive integer.');
  const version = raw === undefined ? undefined : Number(raw);
  const deployed = await deployments.get(name, version);
  if (!deployed) return message(404, `No workflow '${name}'${version ? ` version ${version}` : ''}.`);
  const { record, deployment } = deployed;
  return json(200, {
    name: record.name,
    version: record.version,
    ...(record.description === undefined ? {} : { description: record.description }),
    createdAt: record.createdAt,
    ...(deployment?.inputSchema === undefined ? {} : { input: deployment.inputSchema }),
    source: record.source,
    ...(deployment ? { stateMachineVersionArn: deployment.versionArn } : {}),
  });
}

async function getTask(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const taskId = pathParameter(event, 'taskId');
  const view = await getTaskView(stores.tracking, taskId);
  return view ? json(200, view) : message(404, `No task '${taskId}'.`);
}

async function getTraces(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const taskId = pathParameter(event, 'taskId');
  const traces = await getTaskTraces(stores.tracking, taskId);
  return traces ? json(200, { traces }) : message(404, `No task '${taskId}'.`);
}
