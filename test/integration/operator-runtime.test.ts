// The operator runtime against real dynalite: what it records for each attempt.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../lib/local/dynalite.js';
import { OperatorRuntime, silentLog } from '../../lib/runtime/operator-runtime.js';
import { payloadSettings } from '../../lib/runtime/payloads.js';
import { BRANCH_FAILED, finishStoppedWork } from '../../lib/runtime/stopped-work.js';
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

  it('keeps the end of an attempt its task stopped while the operator ran: the late outcome only adds its trace', async () => {
    const taskId = newTaskId();
    const task = { id: taskId, workflow: 'flow' };
    await store.createTask({ taskId, workflow: 'flow', input: {} });
    const logged: Record<string, unknown>[] = [];
    const watched = new OperatorRuntime(store, (entry) => logged.push(entry));
    const output = await watched.run(
      { task, node: 'op', nodeType: 'sync', attempt: 1, input: {} },
      async () => {
        // A branch beside this one failed and the task ended meanwhile.
        expect(await finishStoppedWork(store, taskId, 'FAILED')).toBe(1);
        return { late: true };
      },
    );
    expect(output).toEqual({ late: true });
    const [event] = await store.getEvents(taskId);
    expect(event).toMatchObject({ status: 'FAILED', attempts: 1, error: { error: BRANCH_FAILED } });
    expect((await store.getTraces(taskId)).map((t) => [t.attempt, t.status])).toEqual([[1, 'SUCCEEDED']]);
    expect(logged).toEqual([expect.objectContaining({ level: 'WARN' })]);
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

  describe('large payloads (threshold lowered to 64 bytes)', () => {
    let dir: string;
    let small: OperatorRuntime;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'runtime-payloads-'));
      const root = pathToFileURL(dir).href;
      small = new OperatorRuntime(
        store,
        silentLog,
        payloadSettings({ thresholdBytes: 64, root: () => root }),
      );
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('records the reference in the segment row, under the attempt that succeeded', async () => {
      const taskId = newTaskId();
      const task = { id: taskId, workflow: 'flow' };
      await store.createTask({ taskId, workflow: 'flow', input: {} });
      const at = { task, node: 'fan', nodeType: 'parallel' as const, order: 4, input: {} };
      await expect(
        small.run({ ...at, attempt: 1 }, () => {
          throw new Error('flaky');
        }),
      ).rejects.toThrow('flaky');
      const big = { text: 'y'.repeat(100) };
      const output = await small.run({ ...at, attempt: 2 }, () => big);
      const uri = (output as { $payload: string }).$payload;
      expect(path.relative(dir, fileURLToPath(uri))).toBe(path.join(taskId, 'fan', '4', 'output-2.json'));
      expect(output).toEqual({ $payload: uri, bytes: JSON.stringify(big).length });
      const [segment] = await store.getSegments(taskId);
      expect(segment).toMatchObject({ order: 4, attempts: 2, status: 'SUCCEEDED', output });
      expect(JSON.parse(await readFile(fileURLToPath(uri), 'utf8'))).toEqual(big);
    });

    it('a missing payload fails the attempt, recorded with its error, before the work runs', async () => {
      const taskId = newTaskId();
      const task = { id: taskId, workflow: 'flow' };
      await store.createTask({ taskId, workflow: 'flow', input: {} });
      const missing = pathToFileURL(path.join(dir, 'nothing.json')).href;
      let ran = false;
      await expect(
        small.run({ task, node: 'op', nodeType: 'sync', attempt: 1, input: [{ $payload: missing }] }, () => {
          ran = true;
        }),
      ).rejects.toMatchObject({ name: 'PayloadNotFoundError' });
      expect(ran).toBe(false);
      const [event] = await store.getEvents(taskId);
      expect(event).toMatchObject({ status: 'FAILED', error: { error: 'PayloadNotFoundError' } });
      expect((await store.getTraces(taskId)).map((t) => t.error?.error)).toEqual(['PayloadNotFoundError']);
    });
  });
});
