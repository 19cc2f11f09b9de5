// Shared by the handler tests: the environment the stack would set, API Gateway events, SDK errors.
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { vi } from 'vitest';
import { ENV, TABLE_ENV } from '../../lib/config/env.js';

export const TABLES = {
  tasks: 'test-tasks',
  events: 'test-events',
  segments: 'test-segments',
  traces: 'test-traces',
  workflows: 'test-workflows',
  idempotency: 'test-idempotency',
  barriers: 'test-barriers',
} as const;

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const PREFIX = 'dagtest';

/** Everything any handler reads at module scope, as the stack sets it (with fixed names). */
export function stubHandlerEnv(tables: Readonly<Record<keyof typeof TABLES, string>> = TABLES): void {
  for (const [logical, variable] of Object.entries(TABLE_ENV))
    vi.stubEnv(variable, tables[logical as keyof typeof TABLES]);
  const values: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    [ENV.ACCOUNT_ID]: ACCOUNT,
    [ENV.STATE_MACHINE_PREFIX]: PREFIX,
    [ENV.STATE_MACHINE_ROLE_ARN]: `arn:aws:iam::${ACCOUNT}:role/machines`,
    [ENV.STATE_MACHINE_LOG_GROUP_ARN]: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/vendedlogs/states/${PREFIX}:*`,
    [ENV.OPERATOR_FUNCTIONS]: JSON.stringify({ 'test/echo': 'fn-echo', 'media/probe': 'fn-probe' }),
    [ENV.OPERATOR_WORKERS]: JSON.stringify({ 'test/echo': 'worker-echo', 'media/probe': 'worker-probe' }),
    [ENV.WORK_QUEUES]: JSON.stringify({
      work: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/work`,
      review: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/review`,
    }),
    [ENV.QUEUE_CONSUMERS]: JSON.stringify({ work: 'test/echo' }),
    [ENV.DISPATCH_FUNCTION_NAME]: 'fn-dispatch',
    [ENV.SCRIPT_FUNCTION_NAME]: 'fn-script',
    [ENV.NOTIFIER_FUNCTION_NAME]: 'fn-notifier',
    [ENV.TOLERANCE_FUNCTION_NAME]: 'fn-tolerance',
    [ENV.BARRIER_FUNCTION_NAME]: 'fn-barrier',
    [ENV.MAP_STORE_FUNCTION_NAME]: 'fn-map-store',
    [ENV.MAP_RESULTS_ROOT]: 's3://media-bucket/objects/map-results',
    [ENV.CHAIN_FUNCTIONS]: JSON.stringify({ standard: 'fn-chain-standard', ffmpeg: 'fn-chain-ffmpeg' }),
    [ENV.EVENT_BUS_NAME]: 'engine-bus',
    [ENV.BATCH_JOB_QUEUE_ARN]: `arn:aws:batch:${REGION}:${ACCOUNT}:job-queue/gpu`,
    [ENV.BATCH_JOB_DEFINITION_ARN]: `arn:aws:batch:${REGION}:${ACCOUNT}:job-definition/gpu:1`,
    [ENV.OPERATOR]: 'test/echo',
    // Powertools writes JSON lines to stdout; the tests read answers, not logs.
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  for (const [name, value] of Object.entries(values)) vi.stubEnv(name, value);
}

export function apiEvent(
  method: string,
  resource: string,
  options: {
    pathParameters?: Record<string, string>;
    body?: string;
    headers?: Record<string, string>;
    query?: Record<string, string>;
  } = {},
): APIGatewayProxyEvent {
  let path = resource;
  for (const [name, value] of Object.entries(options.pathParameters ?? {}))
    path = path.replace(`{${name}}`, value);
  return {
    httpMethod: method,
    resource,
    path,
    pathParameters: options.pathParameters ?? null,
    queryStringParameters: options.query ?? null,
    multiValueQueryStringParameters: null,
    headers: options.headers ?? {},
    multiValueHeaders: {},
    body: options.body ?? null,
    isBase64Encoded: false,
    stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  };
}

/** An error as the SDK throws it: the service's exception name on `name`. */
export function sdkError(name: string, message = name): Error {
  const error = new Error(message);
  error.name = name;
  Object.assign(error, { $fault: 'client', $metadata: { httpStatusCode: 400 } });
  return error;
}

export function bodyOf(result: { body: string }): Record<string, unknown> {
  return JSON.parse(result.body) as Record<string, unknown>;
}
