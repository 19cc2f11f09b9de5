// The callback handlers (dag-spec §7) over mocked DynamoDB and Step Functions: every answer code, and
// the Step Functions errors that mean "too late" (TaskTimedOut, InvalidToken) or "try again".
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { apiEvent, bodyOf, sdkError, stubHandlerEnv, TABLES } from './handlers-support.js';

const sfn = mockClient(SFNClient);
const db = mockClient(DynamoDBDocumentClient);
let callback: typeof import('../../functions/callback/handler.js');

const TASK = '0190f3c2-0000-7000-8000-000000000001';
const WORK = `${TASK}_review`;
const future = () => new Date(Date.now() + 60_000).toISOString();
const past = () => new Date(Date.now() - 60_000).toISOString();

beforeAll(async () => {
  stubHandlerEnv();
  callback = await import('../../functions/callback/handler.js');
});
afterEach(() => {
  sfn.reset();
  db.reset();
});
afterAll(() => {
  vi.unstubAllEnvs();
});

function post(body: unknown, id = WORK) {
  return callback.apiHandler(
    apiEvent('POST', '/callbacks/{id}', {
      pathParameters: { id },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

/** The claim (UpdateItem returning the old row) succeeds with this token. */
function claimSucceeds(token = 'token-1', attempt = 1) {
  db.on(UpdateCommand, { ReturnValues: 'ALL_OLD' }).resolves({
    Attributes: { taskToken: token, waitingAttempt: attempt },
  });
  db.on(UpdateCommand, { ReturnValues: 'ALL_NEW' }).resolves({
    Attributes: { taskId: TASK, eventId: WORK, node: 'review', status: 'SUCCEEDED', attempts: attempt },
  });
}

/** The claim's condition fails and the row reads back as `row`. */
function claimRefused(row: Record<string, unknown> | undefined) {
  db.on(UpdateCommand).rejects(sdkError('ConditionalCheckFailedException', 'The conditional request failed'));
  db.on(GetCommand).resolves({ Item: row });
}

describe('POST /callbacks/{id}', () => {
  it('claims the token, resumes the execution with the output, records the outcome: 202', async () => {
    claimSucceeds('token-1');
    sfn.on(SendTaskSuccessCommand).resolves({});
    const result = await post({ status: 'SUCCEEDED', output: { approved: true } });
    expect(result.statusCode).toBe(202);
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input)).toEqual([
      { taskToken: 'token-1', output: '{"approved":true}' },
    ]);
    const claim = db.commandCalls(UpdateCommand, { ReturnValues: 'ALL_OLD' })[0]!.args[0].input;
    expect(claim.TableName).toBe(TABLES.events);
    expect(claim.Key).toEqual({ taskId: TASK, eventId: WORK });
    expect(claim.ConditionExpression).toContain('attribute_exists(#taskToken)');
    const finish = db.commandCalls(UpdateCommand, { ReturnValues: 'ALL_NEW' })[0]!.args[0].input;
    expect(finish.ExpressionAttributeValues?.[':new_status']).toBe('SUCCEEDED');
  });

  it('fails the attempt with the worker error on FAILED', async () => {
    claimSucceeds('token-2');
    sfn.on(SendTaskFailureCommand).resolves({});
    const result = await post({ status: 'FAILED', error: { error: 'GpuLost', cause: 'the node went away' } });
    expect(result.statusCode).toBe(202);
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]!.args[0].input).toEqual({
      taskToken: 'token-2',
      error: 'GpuLost',
      cause: 'the node went away',
    });
  });

  it('answers a malformed body 400 before anything is read', async () => {
    expect((await post('{nope')).statusCode).toBe(400);
    expect((await post({ status: 'DONE' })).statusCode).toBe(400);
    expect((await post({ id: 'other', status: 'SUCCEEDED' })).statusCode).toBe(400);
    expect(db.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers 413 over 256 KiB, but 404 first when the id is unknown too', async () => {
    const big = { status: 'SUCCEEDED', output: 'x'.repeat(300 * 1024) };
    db.on(GetCommand).resolves({ Item: { taskId: TASK, eventId: WORK, status: 'WAITING', attempts: 1 } });
    expect((await post(big)).statusCode).toBe(413);
    db.on(GetCommand).resolves({});
    expect((await post(big)).statusCode).toBe(404);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers an unknown id 404', async () => {
    claimRefused(undefined);
    expect((await post({ status: 'SUCCEEDED' })).statusCode).toBe(404);
    expect((await post({ status: 'SUCCEEDED' }, 'not_a_work_id_at_all')).statusCode).toBe(404);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers 409 when the work was answered already (ConditionalCheckFailed), without resuming', async () => {
    claimRefused({
      taskId: TASK,
      eventId: WORK,
      status: 'SUCCEEDED',
      attempts: 1,
      waitingAttempt: 1,
      deadline: future(),
      claimedAt: new Date().toISOString(),
    });
    const result = await post({ status: 'SUCCEEDED' });
    expect(result.statusCode).toBe(409);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers 409 for another attempt', async () => {
    claimRefused({
      taskId: TASK,
      eventId: WORK,
      status: 'WAITING',
      attempts: 2,
      waitingAttempt: 2,
      taskToken: 't',
      deadline: future(),
    });
    expect((await post({ status: 'SUCCEEDED', attempt: 1 })).statusCode).toBe(409);
  });

  it('answers 410 after the deadline', async () => {
    claimRefused({
      taskId: TASK,
      eventId: WORK,
      status: 'WAITING',
      attempts: 1,
      waitingAttempt: 1,
      taskToken: 't',
      deadline: past(),
    });
    expect((await post({ status: 'SUCCEEDED' })).statusCode).toBe(410);
  });

  it.each(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist'])(
    'answers 410 when Step Functions says %s, and records nothing',
    async (name) => {
      claimSucceeds();
      sfn.on(SendTaskSuccessCommand).rejects(sdkError(name));
      const result = await post({ status: 'SUCCEEDED' });
      expect(result.statusCode).toBe(410);
      expect(bodyOf(result).message).toContain(name);
      expect(db.commandCalls(UpdateCommand, { ReturnValues: 'ALL_NEW' })).toHaveLength(0);
    },
  );

  it('answers 503 when Step Functions throttles past the SDK retries', async () => {
    claimSucceeds();
    sfn.on(SendTaskSuccessCommand).rejects(sdkError('ThrottlingException', 'Rate exceeded'));
    expect((await post({ status: 'SUCCEEDED' })).statusCode).toBe(503);
  });

  it('extends the heartbeat on HEARTBEAT and tells Step Functions', async () => {
    db.on(GetCommand).resolves({
      Item: {
        taskId: TASK,
        eventId: WORK,
        status: 'WAITING',
        attempts: 1,
        waitingAttempt: 1,
        taskToken: 'token-h',
        deadline: future(),
        heartbeatSeconds: 60,
      },
    });
    db.on(UpdateCommand).resolves({
      Attributes: { taskId: TASK, eventId: WORK, status: 'WAITING', attempts: 1 },
    });
    sfn.on(SendTaskHeartbeatCommand).resolves({});
    expect((await post({ status: 'HEARTBEAT' })).statusCode).toBe(202);
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)[0]!.args[0].input).toEqual({ taskToken: 'token-h' });
  });
});

describe('Node Callback events', () => {
  const event = (detail: unknown) =>
    ({ id: 'bus-event-1', source: 'dag.worker', 'detail-type': 'Node Callback', detail }) as EventBridgeEvent<
      'Node Callback',
      unknown
    >;

  it('applies the callback like the API does', async () => {
    claimSucceeds('token-e');
    sfn.on(SendTaskSuccessCommand).resolves({});
    await callback.eventHandler(event({ id: WORK, attempt: 1, status: 'SUCCEEDED', output: 1 }));
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]!.args[0].input.taskToken).toBe('token-e');
  });

  it('drops a rejected callback (a retry cannot change a 4xx)', async () => {
    claimRefused(undefined);
    await expect(callback.eventHandler(event({ id: WORK, status: 'SUCCEEDED' }))).resolves.toBeUndefined();
    await expect(callback.eventHandler(event({ status: 'SUCCEEDED' }))).resolves.toBeUndefined();
  });

  it('throws on throttling so that EventBridge retries the delivery', async () => {
    db.on(UpdateCommand).rejects(sdkError('ProvisionedThroughputExceededException'));
    await expect(callback.eventHandler(event({ id: WORK, status: 'SUCCEEDED' }))).rejects.toThrow();
  });
});
