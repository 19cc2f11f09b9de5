// Submit, abort and redrive (dag-spec §9) over mocked DynamoDB and Step Functions.
import {
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WorkflowDeployment } from '../../lib/aws/workflow-deployments.js';
import { apiEvent, bodyOf, PREFIX, sdkError, stubHandlerEnv, TABLES } from './handlers-support.js';

const sfn = mockClient(SFNClient);
const db = mockClient(DynamoDBDocumentClient);
let submit: typeof import('../../functions/submit/handler.js');
let control: typeof import('../../functions/control/handler.js');

const MACHINE = `arn:aws:states:eu-west-1:123456789012:stateMachine:${PREFIX}-echo`;
const deployment: WorkflowDeployment = {
  stateMachineArn: MACHINE,
  versionArn: `${MACHINE}:3`,
  aliasArn: `${MACHINE}:live`,
  reporting: { states: {}, decidedRouters: {}, start: 'begin', foldedEnds: {} },
  params: { quality: 'high' },
  inputSchema: { type: 'object', required: ['source'], properties: { source: { type: 'string' } } },
  definitionSha256: 'x',
};

beforeAll(async () => {
  stubHandlerEnv();
  submit = await import('../../functions/submit/handler.js');
  control = await import('../../functions/control/handler.js');
});
beforeEach(() => {
  db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({
    Items: [
      {
        name: 'echo',
        version: 3,
        source: 'name: echo',
        createdAt: '2026-11-01T00:00:00.000Z',
        deployment: JSON.stringify(deployment),
      },
    ],
  });
  db.on(PutCommand).resolves({});
  db.on(UpdateCommand, { TableName: TABLES.tasks }).resolves({
    Attributes: {
      taskId: 't',
      workflow: 'echo',
      status: 'RUNNING',
      input: '{}',
      createdAt: 'x',
      updatedAt: 'x',
    },
  });
});
afterEach(() => {
  sfn.reset();
  db.reset();
});
afterAll(() => {
  vi.unstubAllEnvs();
});

function postTask(body: unknown, headers: Record<string, string> = {}, name = 'echo') {
  return submit.handler(
    apiEvent('POST', '/workflows/{name}/tasks', {
      pathParameters: { name },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers,
    }),
  );
}

describe('POST /workflows/{name}/tasks', () => {
  it('creates the task and starts the version it checked the input against: 202 {taskId}', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${MACHINE}:exec`, startDate: new Date() });
    const result = await postTask({ source: 's3://b/k.mp4' });
    expect(result.statusCode).toBe(202);
    const { taskId } = bodyOf(result) as { taskId: string };
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(start.stateMachineArn).toBe(`${MACHINE}:3`);
    expect(start.name).toBe(taskId);
    expect(JSON.parse(start.input!)).toEqual({
      task: { id: taskId, workflow: 'echo' },
      input: { source: 's3://b/k.mp4' },
      params: { quality: 'high' },
      nodes: {},
      errors: {},
    });
    const put = db.commandCalls(PutCommand, { TableName: TABLES.tasks })[0]!.args[0].input;
    expect(put.Item).toMatchObject({
      taskId,
      workflow: 'echo',
      version: 3,
      status: 'RUNNING',
      engine: 'stepfunctions',
    });
  });

  it('answers 400 with the failing path when the input does not match the schema', async () => {
    const result = await postTask({ source: 42 });
    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ path: '/source' });
    const missing = await postTask({});
    expect(bodyOf(missing)).toMatchObject({ path: '/source' });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers 400 for a body that is not JSON', async () => {
    expect((await postTask('{')).statusCode).toBe(400);
  });

  it('answers 404 for an unknown workflow', async () => {
    db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({ Items: [] });
    expect((await postTask({ source: 'x' }, {}, 'nope')).statusCode).toBe(404);
  });

  it('returns the first task for a repeated Idempotency-Key, and starts the same execution', async () => {
    db.on(PutCommand, { TableName: TABLES.idempotency }).rejects(sdkError('ConditionalCheckFailedException'));
    db.on(GetCommand, { TableName: TABLES.idempotency }).resolves({
      Item: { scope: 'echo#k1', taskId: 'first-task', expiresAt: Math.floor(Date.now() / 1000) + 3600 },
    });
    db.on(PutCommand, { TableName: TABLES.tasks }).rejects(sdkError('ConditionalCheckFailedException'));
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves({
      Item: {
        taskId: 'first-task',
        workflow: 'echo',
        version: 3,
        status: 'RUNNING',
        input: '{"source":"x"}',
        createdAt: 'x',
        updatedAt: 'x',
      },
    });
    sfn.on(StartExecutionCommand).rejects(sdkError('ExecutionAlreadyExists'));
    const result = await postTask({ source: 'x' }, { 'Idempotency-Key': 'k1' });
    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toEqual({ taskId: 'first-task' });
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.name).toBe('first-task');
  });

  it('answers 400 for an empty or overlong Idempotency-Key', async () => {
    expect((await postTask({ source: 'x' }, { 'idempotency-key': 'k'.repeat(256) })).statusCode).toBe(400);
  });

  it('answers 503 when Step Functions throttles past the SDK retries', async () => {
    sfn.on(StartExecutionCommand).rejects(sdkError('ThrottlingException', 'Rate exceeded'));
    expect((await postTask({ source: 'x' })).statusCode).toBe(503);
  });

  it('answers 503 when DynamoDB throttles past the SDK retries', async () => {
    db.on(PutCommand).rejects(sdkError('ProvisionedThroughputExceededException'));
    expect((await postTask({ source: 'x' })).statusCode).toBe(503);
  });
});

describe('POST /tasks/{taskId}/abort and /redrive', () => {
  const task = (status: string) => ({
    Item: {
      taskId: 'task-1',
      workflow: 'echo',
      status,
      input: '{}',
      createdAt: 'x',
      updatedAt: 'x',
      executionArn: `${MACHINE}:task-1`,
    },
  });
  const call = (action: 'abort' | 'redrive') =>
    control.handler(apiEvent('POST', `/tasks/{taskId}/${action}`, { pathParameters: { taskId: 'task-1' } }));

  it('stops the execution and answers ABORTED', async () => {
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves(task('RUNNING'));
    db.on(UpdateCommand, { TableName: TABLES.tasks }).resolves({ Attributes: { ...task('ABORTED').Item } });
    sfn.on(StopExecutionCommand).resolves({});
    const result = await call('abort');
    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ taskId: 'task-1', status: 'ABORTED' });
    expect(sfn.commandCalls(StopExecutionCommand)[0]!.args[0].input.executionArn).toBe(`${MACHINE}:task-1`);
  });

  it('answers 409 to aborting a task that has ended, 404 to an unknown one', async () => {
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves(task('SUCCEEDED'));
    expect((await call('abort')).statusCode).toBe(409);
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves({});
    expect((await call('abort')).statusCode).toBe(404);
  });

  it('redrives a failed task, and answers 409 when Step Functions cannot', async () => {
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves(task('FAILED'));
    db.on(UpdateCommand, { TableName: TABLES.tasks }).resolves({ Attributes: { ...task('RUNNING').Item } });
    sfn.on(RedriveExecutionCommand).resolves({ redriveDate: new Date() });
    expect((await call('redrive')).statusCode).toBe(202);
    sfn.on(RedriveExecutionCommand).rejects(sdkError('ExecutionNotRedrivable', 'older than 14 days'));
    expect((await call('redrive')).statusCode).toBe(409);
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves(task('RUNNING'));
    expect((await call('redrive')).statusCode).toBe(409);
  });
});
