// The tracking writes of the callback and status handlers, against dynalite (the real DynamoDB API):
// handlers built exactly as on Lambda (module-scope clients, env-named tables), with only Step
// Functions faked.
import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type HistoryEventType,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type ExecutionStatusDetail,
  recordNodeEvents,
  type HistoryEvent as StatusHistoryEvent,
} from '../../lib/aws/status-service.js';
import { DynamoWorkflowDeployments } from '../../lib/aws/workflow-deployments.js';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { type LocalDynamo, startLocalDynamo } from '../../lib/local/dynalite.js';
import { reportingPlanOf } from '../../lib/runtime/reporting.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../../lib/tracking/dynamo-store.js';
import { newTaskId } from '../../lib/tracking/ids.js';
import { StaleWriteError } from '../../lib/tracking/store.js';
import { DynamoWorkflowRegistry } from '../../lib/tracking/workflow-registry.js';
import { apiEvent, sdkError, stubHandlerEnv } from '../unit/handlers-support.js';

const sfn = mockClient(SFNClient);
let dynamo: LocalDynamo;
let store: DynamoTrackingStore;
let callback: typeof import('../../functions/callback/handler.js');
let status: typeof import('../../functions/status/handler.js');

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  stubHandlerEnv(dynamo.tableNames);
  // Module-scope clients of the handlers reach dynalite through the SDK's service endpoint variable.
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', dynamo.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  store = new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(dynamo.client),
    tableNames: dynamo.tableNames,
  });
  callback = await import('../../functions/callback/handler.js');
  status = await import('../../functions/status/handler.js');
});
afterEach(() => {
  sfn.reset();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await dynamo?.close();
});

async function waitingWork(node: string, options: { order?: number; heartbeatSeconds?: number } = {}) {
  const taskId = newTaskId();
  await store.createTask({ taskId, workflow: 'flow', input: {}, engine: 'stepfunctions' });
  const eventId = `${taskId}_${node}`;
  const workId = options.order === undefined ? eventId : `${eventId}_${options.order}`;
  if (options.order === undefined) await store.startEvent({ taskId, node, type: 'async', attempt: 1 });
  else await store.startSegment({ taskId, node, order: options.order, attempt: 1 });
  await store.parkWork({
    taskId,
    workId,
    attempt: 1,
    taskToken: `token-${workId}`,
    deadline: new Date(Date.now() + 60_000),
    ...(options.heartbeatSeconds ? { heartbeatSeconds: options.heartbeatSeconds } : {}),
  });
  return { taskId, workId };
}

const post = (id: string, body: unknown) =>
  callback.apiHandler(
    apiEvent('POST', '/callbacks/{id}', { pathParameters: { id }, body: JSON.stringify(body) }),
  );

describe('callback handler on dynalite', () => {
  it('resumes exactly once: the first SUCCEEDED is 202 and recorded, a duplicate is 409', async () => {
    const { workId } = await waitingWork('review');
    sfn.on(SendTaskSuccessCommand).resolves({});
    expect((await post(workId, { status: 'SUCCEEDED', output: { approved: true } })).statusCode).toBe(202);
    expect((await post(workId, { status: 'SUCCEEDED', output: { approved: false } })).statusCode).toBe(409);
    expect(sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input)).toEqual([
      { taskToken: `token-${workId}`, output: '{"approved":true}' },
    ]);
    const work = await store.getWork(workId);
    expect(work).toMatchObject({ status: 'SUCCEEDED', output: { approved: true }, attempts: 1 });
    expect(work).not.toHaveProperty('taskToken');
  });

  it('lets one of many concurrent callbacks win', async () => {
    const { workId } = await waitingWork('race');
    sfn.on(SendTaskSuccessCommand).resolves({});
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => post(workId, { status: 'SUCCEEDED', output: i })),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([202, 409, 409, 409, 409]);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
  });

  it('fails a segment on FAILED', async () => {
    const { workId } = await waitingWork('transcode', { order: 2 });
    sfn.on(SendTaskFailureCommand).resolves({});
    const answer = await post(workId, { status: 'FAILED', error: { error: 'GpuLost', cause: 'gone' } });
    expect(answer.statusCode).toBe(202);
    expect(await store.getWork(workId)).toMatchObject({
      status: 'FAILED',
      order: 2,
      error: { error: 'GpuLost', cause: 'gone' },
    });
  });

  it('answers 410 and records nothing when Step Functions says the attempt timed out', async () => {
    const { workId } = await waitingWork('late');
    sfn.on(SendTaskSuccessCommand).rejects(sdkError('TaskTimedOut', 'Task Timed Out'));
    expect((await post(workId, { status: 'SUCCEEDED' })).statusCode).toBe(410);
    expect((await store.getWork(workId))?.status).toBe('WAITING');
  });

  it("puts the token back when Step Functions throttles, so the worker's retry resumes the node", async () => {
    const { workId } = await waitingWork('throttled');
    sfn.on(SendTaskSuccessCommand).rejectsOnce(sdkError('ThrottlingException', 'Rate exceeded')).resolves({});
    expect((await post(workId, { status: 'SUCCEEDED', output: { n: 1 } })).statusCode).toBe(503);
    expect((await store.getWork(workId))?.status).toBe('WAITING');
    expect((await post(workId, { status: 'SUCCEEDED', output: { n: 1 } })).statusCode).toBe(202);
    expect(sfn.commandCalls(SendTaskSuccessCommand).at(-1)?.args[0].input.taskToken).toBe(`token-${workId}`);
    expect((await store.getWork(workId))?.status).toBe('SUCCEEDED');
    expect((await post(workId, { status: 'SUCCEEDED' })).statusCode).toBe(409);
  });

  it('extends the heartbeat deadline on HEARTBEAT', async () => {
    const { workId } = await waitingWork('beat', { heartbeatSeconds: 600 });
    const before = (await store.getWork(workId)) as { heartbeatDeadline?: string };
    sfn.on(SendTaskHeartbeatCommand).resolves({});
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await post(workId, { status: 'HEARTBEAT' })).statusCode).toBe(202);
    const after = (await store.getWork(workId)) as { heartbeatDeadline?: string; status: string };
    expect(after.status).toBe('WAITING');
    expect(after.heartbeatDeadline! > before.heartbeatDeadline!).toBe(true);
  });

  it('answers 404 for work that does not exist', async () => {
    expect((await post(`${newTaskId()}_ghost`, { status: 'SUCCEEDED' })).statusCode).toBe(404);
  });
});

describe('status handler on dynalite', () => {
  const SOURCE = `name: flow
nodes:
  begin: { type: start, next: probe }
  probe: { type: sync, operator: test/echo, next: route }
  route:
    type: router
    routes: [{ when: nodes.probe.ok, next: tell }]
    default: done
  tell: { type: callback, target: { kind: eventbridge, detailType: Told }, next: done }
  done: { type: end }
`;
  let version: number;

  beforeAll(async () => {
    const compiled = compileWorkflowText(SOURCE);
    const documentClient = createTrackingDocumentClient(dynamo.client);
    const registry = new DynamoWorkflowRegistry(documentClient, dynamo.tableNames.workflows);
    const record = await registry.register({ name: 'flow', source: SOURCE });
    version = record.version;
    await new DynamoWorkflowDeployments(documentClient, dynamo.tableNames.workflows, registry).attach(
      'flow',
      version,
      {
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:dagtest-flow',
        versionArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:dagtest-flow:1',
        aliasArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:dagtest-flow:live',
        reporting: reportingPlanOf(compiled.plan!),
        params: {},
        definitionSha256: 'x',
      },
    );
  });

  const change = (taskId: string, detail: Partial<ExecutionStatusDetail>) =>
    status.handler({
      detail: {
        executionArn: `arn:aws:states:us-east-1:123456789012:execution:dagtest-flow:${taskId}`,
        stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:dagtest-flow:1',
        name: taskId,
        status: 'RUNNING',
        ...detail,
      },
    } as EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusDetail>);

  const at = (second: number) => new Date(Date.UTC(2026, 10, 1, 0, 0, second));
  const entered = (id: number, type: HistoryEventType, name: string): HistoryEvent => ({
    id,
    previousEventId: id - 1,
    type,
    timestamp: at(id),
    stateEnteredEventDetails: { name },
  });
  const exited = (id: number, type: HistoryEventType, name: string): HistoryEvent => ({
    id,
    previousEventId: id - 1,
    type,
    timestamp: at(id),
    stateExitedEventDetails: { name },
  });

  it('records the task and the events of start, router, callback and end from the history', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', version, input: {}, engine: 'stepfunctions' });
    await change(taskId, { status: 'RUNNING' });
    expect((await store.getTask(taskId))?.executionArn).toContain(taskId);

    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: at(1) },
        entered(2, 'TaskStateEntered', 'probe'),
        exited(3, 'TaskStateExited', 'probe'),
        entered(4, 'ChoiceStateEntered', 'route'),
        exited(5, 'ChoiceStateExited', 'route'),
        entered(6, 'TaskStateEntered', 'tell'),
        exited(7, 'TaskStateExited', 'tell'),
        entered(8, 'SucceedStateEntered', 'done'),
        exited(9, 'SucceedStateExited', 'done'),
        { id: 10, previousEventId: 9, type: 'ExecutionSucceeded', timestamp: at(10) },
      ],
    });
    await change(taskId, { status: 'SUCCEEDED', output: '{"probe":{"ok":true}}' });
    const task = await store.getTask(taskId);
    // Four states entered: what Step Functions bills, and the `stats` of GET /tasks/{id}.
    expect(task).toMatchObject({ status: 'SUCCEEDED', output: { probe: { ok: true } }, stateTransitions: 4 });
    const events = await store.getEvents(taskId);
    expect(events.map((e) => [e.node, e.type, e.status])).toEqual([
      ['begin', 'start', 'SUCCEEDED'],
      ['route', 'router', 'SUCCEEDED'],
      ['tell', 'callback', 'SUCCEEDED'],
      ['done', 'end', 'SUCCEEDED'],
    ]);
    expect(events.find((e) => e.node === 'route')).toMatchObject({
      startedAt: at(4).toISOString(),
      endedAt: at(5).toISOString(),
    });

    // EventBridge delivers at least once: the same change again changes nothing.
    await change(taskId, { status: 'SUCCEEDED', output: '{"probe":{"ok":true}}' });
    expect(await store.getEvents(taskId)).toEqual(events);
  });

  it('records a failed callback node with the error of its failure, and the task FAILED', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', version, input: {}, engine: 'stepfunctions' });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: at(1) },
        entered(2, 'ChoiceStateEntered', 'route'),
        exited(3, 'ChoiceStateExited', 'route'),
        entered(4, 'TaskStateEntered', 'tell'),
        { id: 5, previousEventId: 4, type: 'TaskScheduled', timestamp: at(5) },
        {
          id: 6,
          previousEventId: 5,
          type: 'TaskFailed',
          timestamp: at(6),
          taskFailedEventDetails: {
            resourceType: 'events',
            resource: 'putEvents',
            error: 'EventBridge.AccessDenied',
            cause: 'not allowed',
          },
        },
        {
          id: 7,
          previousEventId: 6,
          type: 'ExecutionFailed',
          timestamp: at(7),
          executionFailedEventDetails: { error: 'EventBridge.AccessDenied', cause: 'not allowed' },
        },
      ],
    });
    await change(taskId, { status: 'FAILED', error: 'EventBridge.AccessDenied', cause: 'not allowed' });
    expect(await store.getTask(taskId)).toMatchObject({
      status: 'FAILED',
      error: { error: 'EventBridge.AccessDenied', cause: 'not allowed' },
    });
    const tell = (await store.getEvents(taskId)).find((e) => e.node === 'tell');
    expect(tell).toMatchObject({
      status: 'FAILED',
      error: { error: 'EventBridge.AccessDenied', cause: 'not allowed' },
    });
  });

  it('says why a path into an offloaded output failed, on the task and on the node', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', version, input: {}, engine: 'stepfunctions' });
    // probe's output went to the object store; tell's payload template reads a field inside it.
    await store.startEvent({ taskId, node: 'probe', type: 'sync', attempt: 1 });
    const reference = { $payload: `s3://media/objects/${taskId}/probe/output-1.json`, bytes: 300_000 };
    await store.finishEvent({ taskId, node: 'probe', attempt: 1, status: 'SUCCEEDED', output: reference });
    const cause =
      "An error occurred while executing the state 'tell'. The JSONPath '$.nodes.probe.rows' specified for the field 'Detail.$' could not be found in the input";
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: at(1) },
        entered(2, 'TaskStateEntered', 'tell'),
        {
          id: 3,
          previousEventId: 2,
          type: 'ExecutionFailed',
          timestamp: at(3),
          executionFailedEventDetails: { error: 'States.Runtime', cause },
        },
      ],
    });
    await change(taskId, { status: 'FAILED', error: 'States.Runtime', cause });
    const task = await store.getTask(taskId);
    expect(task?.error?.cause).toContain(cause);
    expect(task?.error?.cause).toContain("The output of 'probe' is over 200 KiB");
    const tell = (await store.getEvents(taskId)).find((e) => e.node === 'tell');
    expect(tell).toMatchObject({ status: 'FAILED', error: task?.error });
  });

  it('numbers the attempt of a node failed before a redrive, and records folded end nodes', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', input: {}, engine: 'stepfunctions' });
    async function* history(): AsyncIterable<StatusHistoryEvent> {
      yield { id: 1, type: 'ExecutionStarted', timestamp: at(1) };
      yield { id: 2, type: 'TaskStateEntered', timestamp: at(2), stateName: 'tell' };
      yield {
        id: 3,
        previousEventId: 2,
        type: 'TaskFailed',
        timestamp: at(3),
        error: { error: 'Boom', cause: 'c' },
      };
      yield { id: 4, type: 'ExecutionFailed', timestamp: at(4) };
      yield { id: 5, type: 'ExecutionRedriven', timestamp: at(5) };
      yield { id: 6, type: 'TaskStateEntered', timestamp: at(6), stateName: 'tell' };
      yield { id: 7, type: 'TaskStateExited', timestamp: at(7), stateName: 'tell' };
    }
    await recordNodeEvents(
      taskId,
      {
        states: { tell: { node: 'tell', type: 'callback' } },
        decidedRouters: {},
        start: 'begin',
        foldedEnds: { tell: 'done' },
      },
      history(),
      { error: 'States.Runtime', cause: '' },
      store,
    );
    const events = await store.getEvents(taskId);
    expect(events.map((e) => [e.node, e.status, e.attempts])).toEqual([
      ['begin', 'SUCCEEDED', 1],
      ['tell', 'SUCCEEDED', 2],
      ['done', 'SUCCEEDED', 2],
    ]);
  });

  it('records a parallel node whose failure onError caught FAILED, though its state exits', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', input: {}, engine: 'stepfunctions' });
    // As Step Functions writes it: the Map fails, its Catch takes the failure, the state exits into it.
    async function* history(): AsyncIterable<StatusHistoryEvent> {
      yield { id: 1, type: 'ExecutionStarted', timestamp: at(1) };
      yield { id: 2, previousEventId: 1, type: 'MapStateEntered', timestamp: at(2), stateName: 'each' };
      yield { id: 3, previousEventId: 2, type: 'MapStateStarted', timestamp: at(3) };
      yield { id: 4, previousEventId: 3, type: 'MapStateFailed', timestamp: at(4) };
      yield { id: 5, previousEventId: 4, type: 'MapStateExited', timestamp: at(5), stateName: 'each' };
      yield {
        id: 6,
        previousEventId: 5,
        type: 'PassStateEntered',
        timestamp: at(6),
        stateName: 'each_error',
      };
      yield { id: 7, previousEventId: 6, type: 'PassStateExited', timestamp: at(7), stateName: 'each_error' };
      yield { id: 8, previousEventId: 7, type: 'MapStateEntered', timestamp: at(8), stateName: 'more' };
      yield { id: 9, previousEventId: 8, type: 'MapStateSucceeded', timestamp: at(9) };
      yield { id: 10, previousEventId: 9, type: 'MapStateExited', timestamp: at(10), stateName: 'more' };
      yield { id: 11, previousEventId: 10, type: 'ExecutionSucceeded', timestamp: at(11) };
    }
    await recordNodeEvents(
      taskId,
      {
        states: { each: { node: 'each', type: 'parallel' }, more: { node: 'more', type: 'parallel' } },
        decidedRouters: {},
        start: 'begin',
        foldedEnds: { more: 'done' },
      },
      history(),
      { error: 'States.Runtime', cause: '' },
      store,
    );
    const events = await store.getEvents(taskId);
    expect(events.map((e) => [e.node, e.status])).toEqual([
      ['begin', 'SUCCEEDED'],
      ['each', 'FAILED'],
      ['more', 'SUCCEEDED'],
      ['done', 'SUCCEEDED'],
    ]);
    expect(events.find((e) => e.node === 'each')?.error?.cause).toContain('$.errors.each');
  });

  it('records a parallel node over its tolerated failures FAILED, with the check that failed it', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', input: {}, engine: 'stepfunctions' });
    const exceeded = { error: 'ToleratedFailureExceeded', cause: '2 of 2 items failed' };
    async function* history(): AsyncIterable<StatusHistoryEvent> {
      yield { id: 1, type: 'ExecutionStarted', timestamp: at(1) };
      yield { id: 2, previousEventId: 1, type: 'MapStateEntered', timestamp: at(2), stateName: 'each' };
      yield { id: 3, previousEventId: 2, type: 'MapStateSucceeded', timestamp: at(3) };
      yield { id: 4, previousEventId: 3, type: 'MapStateExited', timestamp: at(4), stateName: 'each' };
      yield {
        id: 5,
        previousEventId: 4,
        type: 'TaskStateEntered',
        timestamp: at(5),
        stateName: 'each_tolerance',
      };
      yield { id: 6, previousEventId: 5, type: 'TaskScheduled', timestamp: at(6) };
      yield { id: 7, previousEventId: 6, type: 'TaskFailed', timestamp: at(7), error: exceeded };
      yield { id: 8, previousEventId: 7, type: 'ExecutionFailed', timestamp: at(8), error: exceeded };
    }
    await recordNodeEvents(
      taskId,
      {
        states: { each: { node: 'each', type: 'parallel' } },
        decidedRouters: {},
        start: 'begin',
        foldedEnds: {},
        toleranceChecks: { each: 'each_tolerance' },
      },
      history(),
      exceeded,
      store,
    );
    const each = (await store.getEvents(taskId)).find((e) => e.node === 'each');
    expect(each).toMatchObject({ status: 'FAILED', error: exceeded, endedAt: at(8).toISOString() });
  });

  it('records a Distributed Map node from its items stage to its results collector', async () => {
    const compiled = compileWorkflowText(`name: staged
nodes:
  begin: { type: start, next: split }
  split: { type: sync, operator: test/echo, next: each }
  each:
    type: parallel
    mode: distributed
    items: $.nodes.split.parts
    node: { type: sync, operator: test/echo }
    next: done
  done: { type: end }
`);
    const reporting = reportingPlanOf(compiled.plan!);
    expect(reporting.toleranceChecks).toEqual({ each_items: 'each', each: 'each_results' });
    const collect = async (failAt?: 'each_items' | 'each_results') => {
      const taskId = newTaskId();
      await store.createTask({ taskId, workflow: 'staged', input: {}, engine: 'stepfunctions' });
      const broken = { error: 'ItemsNotArray', cause: "The items of parallel node 'each' are missing" };
      async function* history(): AsyncIterable<StatusHistoryEvent> {
        let id = 1;
        const event = (type: string, stateName?: string, error?: typeof broken): StatusHistoryEvent => ({
          id,
          previousEventId: id - 1,
          type,
          timestamp: at(id++),
          ...(stateName ? { stateName } : {}),
          ...(error ? { error } : {}),
        });
        yield event('ExecutionStarted');
        for (const [type, name] of [
          ['Task', 'each_items'],
          ['Map', 'each'],
          ['Task', 'each_results'],
        ] as const) {
          yield event(`${type}StateEntered`, name);
          if (name === failAt) {
            yield event('TaskFailed', undefined, broken);
            yield event('ExecutionFailed', undefined, broken);
            return;
          }
          yield event(type === 'Map' ? 'MapStateSucceeded' : 'TaskSucceeded');
          yield event(`${type}StateExited`, name);
        }
        yield event('ExecutionSucceeded');
      }
      await recordNodeEvents(taskId, reporting, history(), broken, store);
      return (await store.getEvents(taskId)).find((e) => e.node === 'each');
    };
    // Started when the stage was entered (event 2), ended when the collector exited (event 10).
    expect(await collect()).toMatchObject({
      status: 'SUCCEEDED',
      startedAt: at(2).toISOString(),
      endedAt: at(10).toISOString(),
    });
    expect(await collect('each_items')).toMatchObject({
      status: 'FAILED',
      error: { error: 'ItemsNotArray' },
    });
    expect(await collect('each_results')).toMatchObject({
      status: 'FAILED',
      error: { error: 'ItemsNotArray' },
    });
  });

  it('records a parallel node of a branch stopped by a failing sibling FAILED, States.BranchFailed', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', input: {}, engine: 'stepfunctions' });
    const planned = { error: 'Planned', cause: 'attempt 1 of 1 planned failures' };
    // Branch 1 runs `each`, a Map; branch 2's task fails, so Step Functions aborts branch 1.
    async function* history(): AsyncIterable<StatusHistoryEvent> {
      yield { id: 1, type: 'ExecutionStarted', timestamp: at(1) };
      yield { id: 2, previousEventId: 1, type: 'ParallelStateEntered', timestamp: at(2), stateName: 'fork' };
      yield { id: 3, previousEventId: 2, type: 'ParallelStateStarted', timestamp: at(3) };
      yield { id: 4, previousEventId: 3, type: 'MapStateEntered', timestamp: at(4), stateName: 'each' };
      yield { id: 5, previousEventId: 4, type: 'MapStateStarted', timestamp: at(5) };
      yield { id: 6, previousEventId: 5, type: 'MapIterationStarted', timestamp: at(6) };
      yield { id: 7, previousEventId: 6, type: 'TaskStateEntered', timestamp: at(7), stateName: 'each_item' };
      yield { id: 8, previousEventId: 3, type: 'TaskStateEntered', timestamp: at(8), stateName: 'quick' };
      yield { id: 9, previousEventId: 8, type: 'TaskFailed', timestamp: at(9), error: planned };
      yield { id: 10, previousEventId: 7, type: 'TaskStateAborted', timestamp: at(10) };
      yield { id: 11, previousEventId: 10, type: 'MapIterationAborted', timestamp: at(11) };
      yield { id: 12, previousEventId: 11, type: 'MapStateAborted', timestamp: at(12) };
      yield { id: 13, previousEventId: 12, type: 'ParallelStateFailed', timestamp: at(13) };
      yield { id: 14, previousEventId: 13, type: 'ExecutionFailed', timestamp: at(14), error: planned };
    }
    await recordNodeEvents(
      taskId,
      {
        states: { each: { node: 'each', type: 'parallel' } },
        decidedRouters: {},
        start: 'begin',
        foldedEnds: {},
      },
      history(),
      planned,
      store,
    );
    const each = (await store.getEvents(taskId)).find((e) => e.node === 'each');
    expect(each).toMatchObject({ status: 'FAILED', error: { error: 'States.BranchFailed' } });
  });

  it('ends the work still running or waiting when the execution ends: the task has ended', async () => {
    const taskId = newTaskId();
    await store.createTask({ taskId, workflow: 'flow', version, input: {}, engine: 'stepfunctions' });
    // Left behind by a branch Step Functions stopped: an operator mid-call, async work waiting.
    await store.startEvent({ taskId, node: 'probe', type: 'sync', attempt: 1 });
    await store.startSegment({ taskId, node: 'each', order: 0, attempt: 2 });
    await store.startEvent({ taskId, node: 'review', type: 'async', attempt: 1 });
    await store.parkWork({
      taskId,
      workId: `${taskId}_review`,
      attempt: 1,
      taskToken: 'token-1',
      deadline: new Date(Date.now() + 60_000),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'ExecutionStarted', timestamp: at(1) },
        {
          id: 2,
          previousEventId: 1,
          type: 'ExecutionFailed',
          timestamp: at(2),
          executionFailedEventDetails: { error: 'Planned', cause: 'boom' },
        },
      ],
    });
    await change(taskId, { status: 'FAILED', error: 'Planned', cause: 'boom' });
    const stopped = { status: 'FAILED', error: { error: 'States.BranchFailed' } };
    const events = await store.getEvents(taskId);
    expect(events.find((e) => e.node === 'probe')).toMatchObject({ ...stopped, attempts: 1 });
    expect(events.find((e) => e.node === 'review')).toMatchObject({ ...stopped, attempts: 1 });
    expect(await store.getSegments(taskId)).toMatchObject([{ ...stopped, attempts: 2 }]);
    // The stopped operator's late end changes nothing; its task is FAILED.
    await expect(
      store.finishEvent({ taskId, node: 'probe', attempt: 1, status: 'SUCCEEDED', output: {} }),
    ).rejects.toThrow(StaleWriteError);
    expect((await store.getTask(taskId))?.status).toBe('FAILED');
  });

  it('ignores executions that are not tasks of this engine', async () => {
    await expect(change('not-a-task', { status: 'SUCCEEDED' })).resolves.toBeUndefined();
    expect(sfn.calls()).toHaveLength(0);
  });
});
