// Async work on AWS: the dispatch function parks the token, then hands the item to a worker Lambda, a
// queue or a Batch job; workers answer with a Node Callback event on the engine's bus.
import { BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DispatchPayload } from '../../lib/aws/dispatch-service.js';
import { batchJobName } from '../../lib/aws/work-hand-out.js';
import {
  CallbackNotDeliveredError,
  EventBridgeCallbackReporter,
  parseWorkItem,
  runWorkItem,
} from '../../lib/aws/worker.js';
import { ENV } from '../../lib/config/env.js';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../../lib/tracking/dynamo-store.js';
import { StaleWriteError } from '../../lib/tracking/store.js';
import { sdkError, stubHandlerEnv, TABLES } from './handlers-support.js';

const db = mockClient(DynamoDBDocumentClient);
const lambda = mockClient(LambdaClient);
const sqs = mockClient(SQSClient);
const batch = mockClient(BatchClient);
const events = mockClient(EventBridgeClient);
let dispatch: typeof import('../../functions/dispatch/handler.js');

const TASK = '0190f3c2-0000-7000-8000-000000000002';
const payload = (over: Partial<DispatchPayload> = {}): DispatchPayload => ({
  taskToken: 'sfn-token',
  retryCount: 0,
  task: { id: TASK, workflow: 'flow' },
  node: 'whole',
  via: 'lambda',
  operator: 'test/echo',
  timeoutSeconds: 600,
  heartbeatSeconds: 60,
  input: { source: 's3://b/k' },
  ...over,
});

beforeAll(async () => {
  stubHandlerEnv();
  dispatch = await import('../../functions/dispatch/handler.js');
});
beforeEach(() => {
  db.on(UpdateCommand).resolves({
    Attributes: { taskId: TASK, eventId: `${TASK}_whole`, status: 'WAITING', attempts: 1 },
  });
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm1' });
  batch.on(SubmitJobCommand).resolves({ jobId: 'j1', jobName: 'n', jobArn: 'a' });
});
afterEach(() => {
  for (const mock of [db, lambda, sqs, batch, events]) mock.reset();
});
afterAll(() => {
  vi.unstubAllEnvs();
});

describe('dispatch', () => {
  it('starts the attempt, parks the token with its deadline, then invokes the worker asynchronously', async () => {
    await dispatch.handler(payload({ retryCount: 1 }));
    const [start, park] = db.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(start!.ExpressionAttributeValues?.[':new_status']).toBe('RUNNING');
    expect(start!.ExpressionAttributeValues?.[':new_attempts']).toBe(2);
    expect(park!.ExpressionAttributeValues).toMatchObject({
      ':new_status': 'WAITING',
      ':new_taskToken': 'sfn-token',
      ':new_waitingAttempt': 2,
      ':new_heartbeatSeconds': 60,
    });
    const invoke = lambda.commandCalls(InvokeCommand)[0]!.args[0].input;
    expect(invoke.FunctionName).toBe('worker-echo');
    expect(invoke.InvocationType).toBe('Event');
    expect(JSON.parse(Buffer.from(invoke.Payload as Uint8Array).toString())).toEqual({
      id: `${TASK}_whole`,
      attempt: 2,
      task: { id: TASK, workflow: 'flow' },
      node: { name: 'whole' },
      input: { source: 's3://b/k' },
    });
  });

  it('sends a work item of a parallel node (a segment) to its queue', async () => {
    await dispatch.handler(
      payload({ via: 'queue', queue: 'review', operator: undefined, segment: { order: 3 } }),
    );
    const message = sqs.commandCalls(SendMessageCommand)[0]!.args[0].input;
    expect(message.QueueUrl).toMatch(/\/review$/);
    expect(JSON.parse(message.MessageBody!)).toMatchObject({
      id: `${TASK}_whole_3`,
      segment: { id: `${TASK}_whole_3`, order: 3 },
    });
    expect(db.commandCalls(UpdateCommand)[0]!.args[0].input.TableName).toBe(TABLES.segments);
  });

  it('submits a GPU job with the operator and the work item in its environment', async () => {
    await dispatch.handler(payload({ via: 'batch', operator: 'media/probe' }));
    const job = batch.commandCalls(SubmitJobCommand)[0]!.args[0].input;
    expect(job.jobQueue).toMatch(/job-queue\/gpu$/);
    expect(job.containerOverrides?.environment).toEqual([
      { name: ENV.OPERATOR, value: 'media/probe' },
      { name: ENV.WORK_ITEM, value: expect.stringContaining(`"id":"${TASK}_whole"`) },
    ]);
    expect(job.jobName).toMatch(/^[A-Za-z0-9_-]{1,128}$/);
  });

  it('fails the attempt (Step Functions retries it) for an unknown queue or a throttled hand-out', async () => {
    await expect(
      dispatch.handler(payload({ via: 'queue', queue: 'nowhere', operator: undefined })),
    ).rejects.toThrow(/not one of this deployment's work queues/);
    lambda.on(InvokeCommand).rejects(sdkError('TooManyRequestsException'));
    await expect(dispatch.handler(payload())).rejects.toThrow();
  });

  it('does not hand out work whose token it could not park (a newer attempt holds the row)', async () => {
    db.on(UpdateCommand).rejects(sdkError('ConditionalCheckFailedException'));
    db.on(GetCommand).resolves({
      Item: { taskId: TASK, eventId: `${TASK}_whole`, status: 'RUNNING', attempts: 3 },
    });
    await expect(dispatch.handler(payload())).rejects.toThrow(StaleWriteError);
    expect(lambda.calls()).toHaveLength(0);
  });

  it('names Batch jobs within their 128 characters', () => {
    const long = { id: `${TASK}_${'n'.repeat(64)}_12`, attempt: 3 } as never;
    expect(batchJobName(long).length).toBeLessThanOrEqual(128);
  });
});

describe('workers', () => {
  const store = new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })),
    tableNames: { ...TABLES },
  });
  const item = parseWorkItem(
    JSON.stringify({
      id: `${TASK}_whole`,
      attempt: 1,
      task: { id: TASK, workflow: 'flow' },
      node: { name: 'whole' },
      input: 2,
    }),
  );
  const reporter = new EventBridgeCallbackReporter(
    new EventBridgeClient({ region: 'eu-west-1' }),
    'engine-bus',
  );

  it('runs the operator, records one trace, and answers SUCCEEDED on the bus', async () => {
    db.on(PutCommand).resolves({});
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    await runWorkItem(item, {
      runtime: new OperatorRuntime(store),
      operator: async (event) => (event.input as number) * 2,
      reporter,
    });
    const [entry] = events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries!;
    expect(entry).toMatchObject({
      EventBusName: 'engine-bus',
      Source: 'dag.worker',
      DetailType: 'Node Callback',
    });
    expect(JSON.parse(entry!.Detail!)).toEqual({
      id: `${TASK}_whole`,
      attempt: 1,
      status: 'SUCCEEDED',
      output: 4,
    });
    const trace = db.commandCalls(PutCommand)[0]!.args[0].input;
    expect(trace.TableName).toBe(TABLES.traces);
    expect(trace.Item).toMatchObject({
      eventId: `${TASK}_whole`,
      attempt: 1,
      status: 'SUCCEEDED',
      resource: 'cpu',
    });
    // The event itself is the callback path's to finish.
    expect(db.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it("answers FAILED with the operator's error", async () => {
    db.on(PutCommand).resolves({});
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    class NoGpuError extends Error {
      override name = 'NoGpuError';
    }
    await runWorkItem(item, {
      runtime: new OperatorRuntime(store),
      operator: () => {
        throw new NoGpuError('no device');
      },
      reporter,
      resource: 'gpu',
    });
    const detail = JSON.parse(events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.Detail!);
    expect(detail).toEqual({
      id: `${TASK}_whole`,
      attempt: 1,
      status: 'FAILED',
      error: { error: 'NoGpuError', cause: 'no device' },
    });
  });

  it('throws when the bus refuses the callback, so the queue redelivers it', async () => {
    db.on(PutCommand).resolves({});
    events.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }],
    });
    await expect(
      runWorkItem(item, { runtime: new OperatorRuntime(store), operator: () => 1, reporter }),
    ).rejects.toThrow(CallbackNotDeliveredError);
  });

  it('refuses a message that is not a work item', () => {
    expect(() => parseWorkItem('{"id": 1}')).toThrow(/lacks id/);
    expect(() => parseWorkItem('nope')).toThrow(/not JSON/);
  });
});
