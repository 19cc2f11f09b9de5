// The operator runtime against real dynalite: what it records for each attempt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../lib/local/dynalite.js';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../../lib/tracking/dynamo-store.js';
import { newTaskId } from '../../lib/tracking/ids.js';

let dynamo: LocalDynamo;
let store: DynamoTrackingStore;
let runtime: OperatorRuntime;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  store = new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(dynamo.client),
    tableNames: dynamo.tableNames,
  });
  runtime = new OperatorRuntime(store);
});

afterAll(async () => {
  await dynamo.close();
});

describe('OperatorRuntime', () => {
  it('records the event, one trace per attempt, and the error of a failed attempt', async () => {
    const taskId = newTaskId();
    const task = { id: taskId, workflow: 'flow' };
    await store.createTask({ taskId, workflow: 'flow', input: {} });
    const fail = () => {
      const error = new Error('no luck');
      error.name = 'Unlucky';
      throw error;
    };
    await expect(
      runtime.run({ task, node: 'op', nodeType: 'sync', attempt: 1, input: {} }, fail),
    ).rejects.toMatchObject({
      name: 'Unlucky',
      message: 'no luck',
    });
    await runtime.run({ task, node: 'op', nodeType: 'sync', attempt: 2, input: {} }, () => ({ ok: true }));
    const [event] = await store.getEvents(taskId);
    expect(event).toMatchObject({ node: 'op', status: 'SUCCEEDED', attempts: 2, output: { ok: true } });
    const traces = await store.getTraces(taskId);
    expect(traces.map((t) => [t.attempt, t.status, t.error?.error])).toEqual([
      [1, 'FAILED', 'Unlucky'],
      [2, 'SUCCEEDED', undefined],
    ]);
  });

  it('numbers the attempts of a redriven execution after the recorded ones (its retry count starts again)', async () => {
    const taskId = newTaskId();
    const task = { id: taskId, workflow: 'flow' };
    await store.createTask({ taskId, workflow: 'flow', input: {} });
    const fail = () => {
      throw new Error('down');
    };
    for (const attempt of [1, 2]) {
      await expect(
        runtime.run({ task, node: 'op', nodeType: 'sync', attempt, input: {} }, fail),
      ).rejects.toThrow('down');
    }
    // The redriven execution asks for attempt 1 again.
    await runtime.run({ task, node: 'op', nodeType: 'sync', attempt: 1, input: {} }, (event) => ({
      attempt: event.node.attempt,
    }));
    const [event] = await store.getEvents(taskId);
    expect(event).toMatchObject({ status: 'SUCCEEDED', attempts: 3, output: { attempt: 3 } });
    expect((await store.getTraces(taskId)).map((t) => t.attempt)).toEqual([1, 2, 3]);
  });
});
