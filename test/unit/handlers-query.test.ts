// The read routes (dag-spec §9), s3-trigger, tolerance and notifier, over mocked AWS clients.
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { uploadRequest } from '../../lib/aws/upload-service.js';
import { apiEvent, bodyOf, sdkError, stubHandlerEnv, TABLES } from './handlers-support.js';

const sfn = mockClient(SFNClient);
const db = mockClient(DynamoDBDocumentClient);
let query: typeof import('../../functions/query/handler.js');
let trigger: typeof import('../../functions/s3-trigger/handler.js');
let tolerance: typeof import('../../functions/tolerance/handler.js');
let notifier: typeof import('../../functions/notifier/handler.js');

const TASK = '0190f3c2-0000-7000-8000-000000000003';

beforeAll(async () => {
  stubHandlerEnv();
  query = await import('../../functions/query/handler.js');
  trigger = await import('../../functions/s3-trigger/handler.js');
  tolerance = await import('../../functions/tolerance/handler.js');
  notifier = await import('../../functions/notifier/handler.js');
});
afterEach(() => {
  sfn.reset();
  db.reset();
  vi.unstubAllGlobals();
});
afterAll(() => {
  vi.unstubAllEnvs();
});

describe('GET routes', () => {
  const get = (resource: string, pathParameters: Record<string, string> = {}, q?: Record<string, string>) =>
    query.handler(apiEvent('GET', resource, { pathParameters, ...(q ? { query: q } : {}) }));

  it('GET /tasks/{taskId}: the task with its events and segments, never a task token', async () => {
    db.on(GetCommand, { TableName: TABLES.tasks }).resolves({
      Item: {
        taskId: TASK,
        workflow: 'flow',
        status: 'RUNNING',
        input: '{}',
        createdAt: '2026-11-01T00:00:00.000Z',
        updatedAt: 'x',
      },
    });
    db.on(QueryCommand, { TableName: TABLES.events }).resolves({
      Items: [
        {
          taskId: TASK,
          eventId: `${TASK}_review`,
          node: 'review',
          type: 'async',
          status: 'WAITING',
          attempts: 1,
          startedAt: '2026-11-01T00:00:01.000Z',
          updatedAt: 'x',
          taskToken: 'SECRET-TOKEN',
        },
      ],
    });
    db.on(QueryCommand, { TableName: TABLES.segments }).resolves({
      Items: [
        {
          taskId: TASK,
          segmentId: `${TASK}_t_0`,
          eventId: `${TASK}_t`,
          node: 't',
          order: 0,
          status: 'SUCCEEDED',
          attempts: 1,
          startedAt: 'x',
          updatedAt: 'x',
          taskToken: 'SECRET-TOKEN-2',
        },
      ],
    });
    const result = await get('/tasks/{taskId}', { taskId: TASK });
    expect(result.statusCode).toBe(200);
    expect(result.body).not.toContain('SECRET');
    expect(bodyOf(result)).toMatchObject({
      taskId: TASK,
      status: 'RUNNING',
      events: [{ eventId: `${TASK}_review`, node: 'review', type: 'async', status: 'WAITING', attempts: 1 }],
      segments: [{ segmentId: `${TASK}_t_0`, order: 0, status: 'SUCCEEDED' }],
      stats: { stateTransitions: null },
    });
  });

  it('GET /tasks/{taskId} and /traces answer 404 for an unknown task', async () => {
    db.on(GetCommand).resolves({});
    expect((await get('/tasks/{taskId}', { taskId: 'nope' })).statusCode).toBe(404);
    expect((await get('/tasks/{taskId}/traces', { taskId: 'nope' })).statusCode).toBe(404);
  });

  it('GET /tasks/{taskId}/traces: from the traces table, in time order', async () => {
    db.on(GetCommand).resolves({
      Item: {
        taskId: TASK,
        workflow: 'flow',
        status: 'SUCCEEDED',
        input: '{}',
        createdAt: 'x',
        updatedAt: 'x',
      },
    });
    const trace = {
      traceId: 't1',
      taskId: TASK,
      eventId: `${TASK}_a`,
      attempt: 1,
      resource: 'cpu',
      status: 'SUCCEEDED',
    };
    db.on(QueryCommand, { TableName: TABLES.traces }).resolves({ Items: [trace] });
    const result = await get('/tasks/{taskId}/traces', { taskId: TASK });
    expect(bodyOf(result)).toEqual({ traces: [trace] });
  });

  it('GET /workflows and /workflows/{name}', async () => {
    db.on(ScanCommand).resolves({
      Items: [
        { name: 'b', version: 1, source: 's', createdAt: 'x' },
        { name: 'a', version: 1, source: 's', createdAt: 'x' },
        { name: 'a', version: 2, source: 's', createdAt: 'y', description: 'd' },
      ],
    });
    expect(bodyOf(await get('/workflows'))).toEqual({
      workflows: [
        { name: 'a', version: 2, description: 'd', createdAt: 'y' },
        { name: 'b', version: 1, createdAt: 'x' },
      ],
    });
    db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({ Items: [] });
    expect((await get('/workflows/{name}', { name: 'zzz' })).statusCode).toBe(404);
    expect((await get('/workflows/{name}', { name: 'a' }, { version: 'two' })).statusCode).toBe(400);
  });

  it('answers 503 when DynamoDB throttles past the SDK retries', async () => {
    db.on(GetCommand).rejects(sdkError('ThrottlingException'));
    expect((await get('/tasks/{taskId}', { taskId: TASK })).statusCode).toBe(503);
  });
});

describe('s3-trigger', () => {
  const notification = (key: string, versionId = 'v1') =>
    JSON.stringify({
      Records: [
        {
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'media' }, object: { key, versionId, sequencer: '01' } },
        },
      ],
    });
  const sqsEvent = (...bodies: string[]): SQSEvent =>
    ({ Records: bodies.map((body, i) => ({ messageId: `m${i}`, body })) }) as unknown as SQSEvent;

  function workflowRegistered() {
    db.on(QueryCommand, { TableName: TABLES.workflows }).resolves({
      Items: [
        {
          name: 'flow',
          version: 1,
          source: 's',
          createdAt: 'x',
          deployment: JSON.stringify({
            versionArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:dagtest-flow:1',
            params: {},
            reporting: { states: {}, decidedRouters: {}, start: 'begin', foldedEnds: {} },
            inputSchema: { type: 'object', required: ['source'] },
          }),
        },
      ],
    });
    db.on(PutCommand).resolves({});
    db.on(UpdateCommand).resolves({
      Attributes: {
        taskId: 'x',
        workflow: 'flow',
        status: 'RUNNING',
        input: '{}',
        createdAt: 'x',
        updatedAt: 'x',
      },
    });
  }

  it('starts one task per object version with input {source: s3://bucket/key}', async () => {
    workflowRegistered();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const result = await trigger.handler(sqsEvent(notification('uploads/flow/my+clip.mp4')));
    expect(result.batchItemFailures).toEqual([]);
    const start = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(JSON.parse(start.input!).input).toEqual({ source: 's3://media/uploads/flow/my clip.mp4' });
    const key = db.commandCalls(PutCommand, { TableName: TABLES.idempotency })[0]!.args[0].input.Item!;
    expect(key.scope).toMatch(/^flow#upload:[0-9a-f]{64}$/);
  });

  it('retries (partial batch failure) only what may pass later: throttling, a workflow not registered yet', async () => {
    workflowRegistered();
    sfn.on(StartExecutionCommand).rejects(sdkError('ThrottlingException'));
    db.on(QueryCommand, {
      TableName: TABLES.workflows,
      ExpressionAttributeValues: { ':name': 'later' },
    }).resolves({
      Items: [],
    });
    const result = await trigger.handler(
      sqsEvent(
        notification('uploads/flow/a.mp4'),
        notification('uploads/later/b.mp4'),
        '{"Event":"s3:TestEvent"}',
        'garbage',
      ),
    );
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['m0', 'm1']);
    // m1's workflow is not registered: it never reached Step Functions; the test event and the garbage
    // (dropped, logged) are not retried.
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('ignores keys outside uploads/<workflow>/', () => {
    expect(uploadRequest({ bucket: 'b', key: 'uploads/x.mp4', version: 'v' })).toBeUndefined();
    expect(uploadRequest({ bucket: 'b', key: 'uploads/Bad_Name/x.mp4', version: 'v' })).toBeUndefined();
    expect(uploadRequest({ bucket: 'b', key: 'objects/flow/x.mp4', version: 'v' })).toBeUndefined();
    const a = uploadRequest({ bucket: 'b', key: 'uploads/flow/x.mp4', version: 'v1' })!;
    const b = uploadRequest({ bucket: 'b', key: 'uploads/flow/x.mp4', version: 'v2' })!;
    expect(a.workflow).toBe('flow');
    expect(a.idempotencyKey).not.toBe(b.idempotencyKey);
  });
});

describe('tolerance and notifier', () => {
  it('nulls tolerated failures and fails past the limit with ToleratedFailureExceeded', async () => {
    const failed = { dagFailed: true, error: 'E', cause: 'c' };
    await expect(
      tolerance.handler({ node: 'p', toleratedFailurePercentage: 50, items: [1, failed] }),
    ).resolves.toEqual([1, null]);
    await expect(
      tolerance.handler({ node: 'p', toleratedFailurePercentage: 10, items: [1, failed] }),
    ).rejects.toMatchObject({ name: 'ToleratedFailureExceeded' });
  });

  it('POSTs the payload as JSON and fails the node on a non-2xx answer', async () => {
    const fetchMock = vi.fn(async () => new Response(null, { status: 204 }));
    vi.stubGlobal('fetch', fetchMock);
    const input = {
      task: { id: TASK, workflow: 'flow' },
      node: 'tell',
      url: 'https://example.test/hook',
      method: 'POST',
      body: { a: 1 },
    };
    await expect(notifier.handler(input)).resolves.toEqual({ status: 204 });
    expect(fetchMock).toHaveBeenCalledWith(
      'https://example.test/hook',
      expect.objectContaining({ method: 'POST', body: '{"a":1}' }),
    );
    fetchMock.mockResolvedValue(new Response('no', { status: 500 }));
    await expect(notifier.handler(input)).rejects.toMatchObject({ name: 'CallbackHttpError' });
  });
});
