// The tracking store against a real dynalite served in this process: no mocks, the same DynamoDB API
// calls as on AWS.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalDynamo, startLocalDynamo } from '../../lib/local/dynalite.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../../lib/tracking/dynamo-store.js';
import { eventIdOf, newTaskId, newTraceId, segmentIdOf } from '../../lib/tracking/ids.js';
import type { TraceRecord } from '../../lib/tracking/records.js';
import {
  InvalidCursorError,
  RecordTooLargeError,
  StaleCallbackError,
  StaleWriteError,
  TaskNotFoundError,
  WorkExpiredError,
  WorkNotFoundError,
} from '../../lib/tracking/store.js';

const T0 = new Date('2026-11-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let local: LocalDynamo;
let store: DynamoTrackingStore;

beforeAll(async () => {
  local = await startLocalDynamo();
  store = storeOn(local);
});

afterAll(async () => {
  await local?.close();
});

function storeOn(dynamo: LocalDynamo): DynamoTrackingStore {
  return new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(dynamo.client),
    tableNames: dynamo.tableNames,
  });
}

/** The row as stored, token included: what no public read may show. */
async function rawWork(table: 'events' | 'segments', key: Record<string, string>) {
  const db = createTrackingDocumentClient(local.client);
  const { Item } = await db.send(new GetCommand({ TableName: local.tableNames[table], Key: key }));
  return Item;
}

async function startedTask(workflow = 'media-flow') {
  const taskId = newTaskId();
  await store.createTask({ taskId, workflow, input: { source: 's3://bucket/clip.mp4' }, now: T0 });
  return taskId;
}

describe('tasks', () => {
  it('go from RUNNING to a final status once, and say so on duplicates', async () => {
    const taskId = newTaskId();
    const first = await store.createTask({
      taskId,
      workflow: 'media-flow',
      version: 3,
      input: { n: 1 },
      now: T0,
    });
    expect(first.created).toBe(true);
    expect(first.task).toEqual({
      taskId,
      workflow: 'media-flow',
      version: 3,
      status: 'RUNNING',
      input: { n: 1 },
      createdAt: '2026-11-01T10:00:00.000Z',
      updatedAt: '2026-11-01T10:00:00.000Z',
    });

    const again = await store.createTask({ taskId, workflow: 'media-flow', input: { n: 2 }, now: at(1) });
    expect(again).toEqual({ task: first.task, created: false });

    const done = await store.updateTaskStatus({
      taskId,
      status: 'SUCCEEDED',
      output: { ok: true },
      now: at(5),
    });
    expect(done.applied).toBe(true);
    expect(done.record).toMatchObject({
      status: 'SUCCEEDED',
      output: { ok: true },
      endedAt: at(5).toISOString(),
    });

    const duplicate = await store.updateTaskStatus({ taskId, status: 'SUCCEEDED', now: at(6) });
    expect(duplicate).toEqual({ applied: false, record: done.record });

    await expect(store.updateTaskStatus({ taskId, status: 'FAILED', now: at(7) })).rejects.toThrow(
      StaleWriteError,
    );
    await expect(store.updateTaskStatus({ taskId, status: 'RUNNING', now: at(7) })).rejects.toThrow(
      StaleWriteError,
    );
    await expect(store.redriveTask({ taskId })).rejects.toThrow(StaleWriteError);
    expect(await store.getTask(taskId)).toEqual(done.record);
  });

  it('reject updates of an unknown task, and read it as undefined', async () => {
    const taskId = newTaskId();
    await expect(store.updateTaskStatus({ taskId, status: 'ABORTED' })).rejects.toThrow(TaskNotFoundError);
    await expect(store.redriveTask({ taskId })).rejects.toThrow(TaskNotFoundError);
    expect(await store.getTask(taskId)).toBeUndefined();
  });

  it('redrive a failed task back to RUNNING, counting redrives', async () => {
    const taskId = await startedTask();
    await store.updateTaskStatus({
      taskId,
      status: 'FAILED',
      error: { error: 'Boom', cause: 'it broke' },
      now: at(1),
    });
    const redriven = await store.redriveTask({ taskId, now: at(2) });
    expect(redriven).toMatchObject({ status: 'RUNNING', redriveCount: 1, updatedAt: at(2).toISOString() });
    expect(redriven.error).toBeUndefined();
    expect(redriven.endedAt).toBeUndefined();
    await expect(store.redriveTask({ taskId })).rejects.toThrow(StaleWriteError);
  });

  it('return the same task for the same idempotency key of a workflow, even under concurrency', async () => {
    const key = `upload-${newTaskId()}`;
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        store.createTask({
          taskId: newTaskId(),
          workflow: 'media-flow',
          input: {},
          idempotencyKey: key,
          now: T0,
        }),
      ),
    );
    const taskIds = new Set(results.map((result) => result.task.taskId));
    expect(taskIds.size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(results[0]?.task.idempotencyKey).toBe(key);

    const otherWorkflow = await store.createTask({
      taskId: newTaskId(),
      workflow: 'other-flow',
      input: {},
      idempotencyKey: key,
      now: T0,
    });
    expect(taskIds.has(otherWorkflow.task.taskId)).toBe(false);

    const dayLater = await store.createTask({
      taskId: newTaskId(),
      workflow: 'media-flow',
      input: {},
      idempotencyKey: key,
      now: at(24 * 3600 + 1),
    });
    expect(dayLater.created).toBe(true);
    expect(taskIds.has(dayLater.task.taskId)).toBe(false);
  });

  it("list a workflow's tasks newest first, page by page", async () => {
    const workflow = `list-${Date.now()}`;
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const taskId = newTaskId();
      await store.createTask({ taskId, workflow, input: { i }, now: at(i) });
      created.push(taskId);
    }
    await store.createTask({ taskId: newTaskId(), workflow: `${workflow}-x`, input: {}, now: at(9) });

    const first = await store.listTasks({ workflow, limit: 3 });
    expect(first.tasks.map((task) => task.taskId)).toEqual(created.slice(2).reverse());
    expect(first.cursor).toBeDefined();
    const second = await store.listTasks({ workflow, limit: 3, cursor: first.cursor });
    expect(second.tasks.map((task) => task.taskId)).toEqual(created.slice(0, 2).reverse());

    const all = await store.listTasks({ limit: 1000 });
    expect(all.tasks.map((task) => task.taskId)).toEqual(expect.arrayContaining(created));
    await expect(store.listTasks({ workflow, cursor: 'not-a-cursor' })).rejects.toThrow(InvalidCursorError);
  });
});

describe('events', () => {
  it('ignore a late RUNNING after SUCCEEDED and reject a late FAILED', async () => {
    const taskId = await startedTask();
    const started = await store.startEvent({ taskId, node: 'probe', type: 'sync', attempt: 1, now: at(1) });
    expect(started.applied).toBe(true);
    expect(started.record).toMatchObject({
      eventId: eventIdOf(taskId, 'probe'),
      status: 'RUNNING',
      attempts: 1,
    });

    const done = await store.finishEvent({
      taskId,
      node: 'probe',
      attempt: 1,
      status: 'SUCCEEDED',
      output: { durationSec: 42 },
      now: at(2),
    });
    expect(done.record).toMatchObject({
      status: 'SUCCEEDED',
      output: { durationSec: 42 },
      endedAt: at(2).toISOString(),
    });

    const lateStart = await store.startEvent({ taskId, node: 'probe', type: 'sync', attempt: 1, now: at(3) });
    expect(lateStart).toEqual({ applied: false, record: done.record });
    const laterAttempt = await store.startEvent({
      taskId,
      node: 'probe',
      type: 'sync',
      attempt: 2,
      now: at(3),
    });
    expect(laterAttempt).toEqual({ applied: false, record: done.record });

    const duplicate = await store.finishEvent({
      taskId,
      node: 'probe',
      attempt: 1,
      status: 'SUCCEEDED',
      now: at(4),
    });
    expect(duplicate).toEqual({ applied: false, record: done.record });
    await expect(
      store.finishEvent({ taskId, node: 'probe', attempt: 1, status: 'FAILED', now: at(4) }),
    ).rejects.toThrow(StaleWriteError);
    await expect(
      store.finishEvent({ taskId, node: 'probe', attempt: 2, status: 'SUCCEEDED', now: at(4) }),
    ).rejects.toThrow(StaleWriteError);
    expect(await store.getWork(eventIdOf(taskId, 'probe'))).toEqual(done.record);
  });

  it('let attempt 2 supersede a FAILED attempt 1, and then refuse attempt 1', async () => {
    const taskId = await startedTask();
    await store.startEvent({ taskId, node: 'encode', type: 'sync', attempt: 1, now: at(1) });
    const failed = await store.finishEvent({
      taskId,
      node: 'encode',
      attempt: 1,
      status: 'FAILED',
      error: { error: 'EncodeError', cause: 'bad frame' },
      now: at(2),
    });
    expect(failed.record).toMatchObject({
      status: 'FAILED',
      error: { error: 'EncodeError', cause: 'bad frame' },
    });

    const retry = await store.startEvent({ taskId, node: 'encode', type: 'sync', attempt: 2, now: at(3) });
    expect(retry.applied).toBe(true);
    expect(retry.record).toMatchObject({ status: 'RUNNING', attempts: 2, startedAt: at(1).toISOString() });
    expect(retry.record.error).toBeUndefined();
    expect(retry.record.endedAt).toBeUndefined();

    await expect(
      store.startEvent({ taskId, node: 'encode', type: 'sync', attempt: 1, now: at(4) }),
    ).resolves.toMatchObject({ applied: false, record: { attempts: 2, status: 'RUNNING' } });
    await expect(
      store.finishEvent({ taskId, node: 'encode', attempt: 1, status: 'SUCCEEDED', now: at(4) }),
    ).rejects.toThrow(StaleWriteError);

    const done = await store.finishEvent({
      taskId,
      node: 'encode',
      attempt: 2,
      status: 'SUCCEEDED',
      now: at(5),
    });
    expect(done.record).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });

  it('let a new attempt replace a RUNNING attempt that timed out', async () => {
    const taskId = await startedTask();
    await store.startEvent({ taskId, node: 'slow', type: 'sync', attempt: 1, now: at(1) });
    const second = await store.startEvent({ taskId, node: 'slow', type: 'sync', attempt: 2, now: at(301) });
    expect(second).toMatchObject({ applied: true, record: { attempts: 2, status: 'RUNNING' } });
    await expect(
      store.finishEvent({ taskId, node: 'slow', attempt: 1, status: 'SUCCEEDED', now: at(302) }),
    ).rejects.toThrow(StaleWriteError);
  });

  it('cannot finish what never started', async () => {
    const taskId = await startedTask();
    await expect(
      store.finishEvent({ taskId, node: 'ghost', attempt: 1, status: 'SUCCEEDED' }),
    ).rejects.toThrow(WorkNotFoundError);
  });

  it("come back in the order they started, whatever their names' order", async () => {
    const taskId = await startedTask();
    const nodes = ['zeta', 'alpha', 'mid'];
    for (const [index, node] of nodes.entries()) {
      await store.startEvent({ taskId, node, type: 'sync', attempt: 1, now: at(index) });
    }
    const events = await store.getEvents(taskId);
    expect(events.map((event) => event.node)).toEqual(nodes);
  });

  it('refuse an output over the item size limit', async () => {
    const taskId = await startedTask();
    await store.startEvent({ taskId, node: 'big', type: 'sync', attempt: 1 });
    await expect(
      store.finishEvent({
        taskId,
        node: 'big',
        attempt: 1,
        status: 'SUCCEEDED',
        output: 'x'.repeat(410 * 1024),
      }),
    ).rejects.toThrow(RecordTooLargeError);
  });
});

describe('segments', () => {
  it('come back per node in item order, and move forward only', async () => {
    const taskId = await startedTask();
    const eventId = eventIdOf(taskId, 'a');
    for (const order of [10, 2, 0, 1]) {
      await store.startSegment({ taskId, node: 'a', order, attempt: 1, now: at(order) });
    }
    await store.startSegment({ taskId, node: 'a-b', order: 0, attempt: 1 });

    const segments = await store.getSegments(taskId, { eventId });
    expect(segments.map((segment) => segment.order)).toEqual([0, 1, 2, 10]);
    expect(segments.every((segment) => segment.eventId === eventId)).toBe(true);
    expect(await store.getSegments(taskId)).toHaveLength(5);

    await store.finishSegment({ taskId, node: 'a', order: 2, attempt: 1, status: 'SUCCEEDED', output: [2] });
    const late = await store.startSegment({ taskId, node: 'a', order: 2, attempt: 1 });
    expect(late).toMatchObject({ applied: false, record: { status: 'SUCCEEDED', output: [2] } });
    expect(late.record.segmentId).toBe(segmentIdOf(eventId, 2));
  });
});

describe('traces', () => {
  it('are written in batches and read back in time order', async () => {
    const taskId = await startedTask();
    const eventIds = [eventIdOf(taskId, 'transcode'), eventIdOf(taskId, 'merge')];
    const traces: TraceRecord[] = Array.from({ length: 60 }, (_, index) => {
      const eventId = eventIds[index % 2] as string;
      return {
        traceId: newTraceId(),
        taskId,
        eventId,
        segmentId: index % 2 === 0 ? segmentIdOf(eventId, index) : undefined,
        attempt: 1,
        resource: index % 3 === 0 ? 'gpu' : 'cpu',
        startedAt: at(index).toISOString(),
        endedAt: at(index + 1).toISOString(),
        durationMs: 1000,
        status: index === 7 ? 'FAILED' : 'SUCCEEDED',
        error: index === 7 ? { error: 'Oops', cause: 'failed' } : undefined,
      };
    });
    const shuffled = [...traces].sort(() => Math.random() - 0.5);

    const started = performance.now();
    await store.recordTraces([...shuffled, ...shuffled.slice(0, 5)]);
    const elapsedMs = performance.now() - started;

    const read = await store.getTraces(taskId);
    expect(read.map((trace) => trace.traceId)).toEqual(traces.map((trace) => trace.traceId));
    expect(read[7]).toEqual(JSON.parse(JSON.stringify(traces[7])));
    expect(read[8]?.error).toBeUndefined();
    const ofTranscode = await store.getTraces(taskId, { eventId: eventIds[0] });
    expect(ofTranscode).toHaveLength(30);
    expect(ofTranscode.map((trace) => trace.startedAt)).toEqual(
      [...ofTranscode.map((t) => t.startedAt)].sort(),
    );
    expect(elapsedMs).toBeLessThan(10_000);
  });

  it('records one trace at a time too', async () => {
    const taskId = await startedTask();
    const trace: TraceRecord = {
      traceId: newTraceId(),
      taskId,
      eventId: eventIdOf(taskId, 'probe'),
      attempt: 1,
      resource: 'cpu',
      startedAt: at(0).toISOString(),
      endedAt: at(2).toISOString(),
      durationMs: 2000,
      status: 'SUCCEEDED',
    };
    await store.recordTrace(trace);
    expect(await store.getTraces(taskId)).toEqual([trace]);
  });
});

describe('parked work and callbacks', () => {
  const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAT0k-secret-task-token';

  async function parkedEvent(options: { attempt?: number; heartbeatSeconds?: number } = {}) {
    const attempt = options.attempt ?? 1;
    const taskId = await startedTask();
    const workId = eventIdOf(taskId, 'review');
    await store.startEvent({ taskId, node: 'review', type: 'async', attempt, now: at(1) });
    const parked = await store.parkWork({
      taskId,
      workId,
      attempt,
      taskToken: `${TOKEN}-${workId}`,
      deadline: at(3601),
      heartbeatSeconds: options.heartbeatSeconds,
      now: at(1),
    });
    return { taskId, workId, parked, token: `${TOKEN}-${workId}` };
  }

  it('store the token on the row and mark it WAITING, without showing the token', async () => {
    const { taskId, workId, parked, token } = await parkedEvent({ heartbeatSeconds: 60 });
    expect(parked).toMatchObject({
      status: 'WAITING',
      waitingAttempt: 1,
      deadline: at(3601).toISOString(),
      heartbeatDeadline: at(61).toISOString(),
    });
    expect(parked).not.toHaveProperty('taskToken');
    expect((await rawWork('events', { taskId, eventId: workId }))?.taskToken).toBe(token);
  });

  it('hand the token to exactly one of 50 concurrent claims', async () => {
    const { taskId, workId, token } = await parkedEvent();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => store.claimWork({ workId, attempt: 1, now: at(10) })),
    );
    const claimed = results.filter((result) => result.status === 'fulfilled');
    expect(claimed).toEqual([{ status: 'fulfilled', value: { taskToken: token, attempt: 1 } }]);
    const refusals = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    expect(refusals).toHaveLength(49);
    expect(refusals.every((reason) => reason instanceof StaleCallbackError)).toBe(true);

    const row = await rawWork('events', { taskId, eventId: workId });
    expect(row?.taskToken).toBeUndefined();
    expect(row?.claimedAt).toBe(at(10).toISOString());
  });

  it('claim the waiting attempt when the callback names none', async () => {
    const { workId, token } = await parkedEvent({ attempt: 2 });
    await expect(store.claimWork({ workId, now: at(10) })).resolves.toEqual({ taskToken: token, attempt: 2 });
  });

  it('refuse another attempt with StaleCallbackError and change nothing', async () => {
    const { taskId, workId } = await parkedEvent({ attempt: 2 });
    const before = await rawWork('events', { taskId, eventId: workId });
    await expect(store.claimWork({ workId, attempt: 1, now: at(10) })).rejects.toThrow(StaleCallbackError);
    await expect(store.claimWork({ workId, attempt: 1, now: at(10) })).rejects.toMatchObject({
      reason: 'another-attempt',
      httpStatus: 409,
    });
    expect(await rawWork('events', { taskId, eventId: workId })).toEqual(before);
  });

  it('refuse a callback after the deadline with WorkExpiredError, keeping the token', async () => {
    const { taskId, workId, token } = await parkedEvent();
    await expect(store.claimWork({ workId, attempt: 1, now: at(3602) })).rejects.toThrow(WorkExpiredError);
    await expect(store.claimWork({ workId, now: at(3602) })).rejects.toMatchObject({ httpStatus: 410 });
    expect((await rawWork('events', { taskId, eventId: workId }))?.taskToken).toBe(token);
  });

  it('answer a late duplicate of a timely callback as already finished (409), not expired', async () => {
    const { taskId, workId } = await parkedEvent();
    await store.claimWork({ workId, attempt: 1, now: at(10) });
    await store.finishEvent({
      taskId,
      node: 'review',
      attempt: 1,
      status: 'SUCCEEDED',
      output: {},
      now: at(11),
    });
    await expect(store.claimWork({ workId, attempt: 1, now: at(9999) })).rejects.toMatchObject({
      name: 'StaleCallbackError',
      reason: 'not-waiting',
    });
  });

  it('refuse unknown and malformed ids with WorkNotFoundError', async () => {
    const unknown = eventIdOf(newTaskId(), 'review');
    await expect(store.claimWork({ workId: unknown, now: at(10) })).rejects.toThrow(WorkNotFoundError);
    await expect(store.claimWork({ workId: 'not an id', now: at(10) })).rejects.toThrow(WorkNotFoundError);
    await expect(store.heartbeatWork({ workId: unknown, now: at(10) })).rejects.toThrow(WorkNotFoundError);
    await expect(
      store.parkWork({ taskId: newTaskId(), workId: unknown, attempt: 1, taskToken: 't', deadline: at(10) }),
    ).rejects.toThrow(WorkNotFoundError);
  });

  it('extend the heartbeat deadline on a heartbeat, and expire work whose heartbeats stop', async () => {
    const { workId, token } = await parkedEvent({ heartbeatSeconds: 60 });
    const beat = await store.heartbeatWork({ workId, attempt: 1, now: at(50) });
    expect(beat).toEqual({ taskToken: token, attempt: 1, heartbeatDeadline: at(110).toISOString() });
    await expect(store.claimWork({ workId, now: at(100) })).resolves.toMatchObject({ taskToken: token });

    const silent = await parkedEvent({ heartbeatSeconds: 60 });
    await expect(store.heartbeatWork({ workId: silent.workId, now: at(62) })).rejects.toThrow(
      WorkExpiredError,
    );
    await expect(store.claimWork({ workId: silent.workId, now: at(62) })).rejects.toThrow(WorkExpiredError);
  });

  it('refuse to park an attempt that is not the newest, or a row that SUCCEEDED', async () => {
    const { taskId, workId } = await parkedEvent({ attempt: 2 });
    await expect(
      store.parkWork({ taskId, workId, attempt: 1, taskToken: 'old', deadline: at(100), now: at(2) }),
    ).rejects.toThrow(StaleWriteError);
    await store.finishEvent({ taskId, node: 'review', attempt: 2, status: 'SUCCEEDED', now: at(3) });
    await expect(
      store.parkWork({ taskId, workId, attempt: 3, taskToken: 'new', deadline: at(100), now: at(4) }),
    ).rejects.toThrow(StaleWriteError);
  });

  it('park and claim async work inside a parallel node by its segment id', async () => {
    const taskId = await startedTask();
    const workId = segmentIdOf(eventIdOf(taskId, 'transcode'), 4);
    await store.startSegment({ taskId, node: 'transcode', order: 4, attempt: 1, now: at(1) });
    await store.parkWork({ taskId, workId, attempt: 1, taskToken: TOKEN, deadline: at(100), now: at(1) });
    expect(await store.getWork(workId)).toMatchObject({ status: 'WAITING', order: 4 });
    await expect(store.claimWork({ workId, attempt: 1, now: at(2) })).resolves.toEqual({
      taskToken: TOKEN,
      attempt: 1,
    });
  });

  it('expire waiting work only once a deadline has passed, and answer every later callback 410', async () => {
    const { taskId, workId, token } = await parkedEvent();
    await expect(store.expireWork({ workId, attempt: 1, taskToken: token, now: at(3601) })).resolves.toEqual({
      outcome: 'waiting',
      nextDeadline: at(3601).toISOString(),
    });
    await expect(store.expireWork({ workId, attempt: 1, taskToken: token, now: at(3602) })).resolves.toEqual({
      outcome: 'expired',
      reason: 'timeout',
      deadline: at(3601).toISOString(),
    });
    const row = await rawWork('events', { taskId, eventId: workId });
    expect(row?.taskToken).toBeUndefined();
    expect(row?.expiredAt).toBe(at(3601).toISOString());
    await expect(store.claimWork({ workId, now: at(3603) })).rejects.toThrow(WorkExpiredError);
    await expect(store.heartbeatWork({ workId, now: at(3603) })).rejects.toThrow(WorkExpiredError);
    await expect(store.expireWork({ workId, attempt: 1, taskToken: token, now: at(3603) })).resolves.toEqual({
      outcome: 'gone',
    });
    expect(await rawWork('events', { taskId, eventId: workId })).toEqual(row);
  });

  it('answer 410 for an attempt that missed its heartbeat, also once it is recorded FAILED', async () => {
    const { taskId, workId, token } = await parkedEvent({ heartbeatSeconds: 60 });
    await expect(store.expireWork({ workId, attempt: 1, taskToken: token, now: at(62) })).resolves.toEqual({
      outcome: 'expired',
      reason: 'heartbeat',
      deadline: at(61).toISOString(),
    });
    const error = { error: 'States.HeartbeatTimeout', cause: 'no heartbeat' };
    await store.finishEvent({ taskId, node: 'review', attempt: 1, status: 'FAILED', error, now: at(62) });
    // The heartbeat deadline left the row with the token; the attempt's own deadline is far off.
    await expect(store.claimWork({ workId, attempt: 1, now: at(63) })).rejects.toMatchObject({
      name: 'WorkExpiredError',
      deadline: at(61).toISOString(),
    });
    // A new attempt starts afresh.
    await store.startEvent({ taskId, node: 'review', type: 'async', attempt: 2, now: at(64) });
    await store.parkWork({
      taskId,
      workId,
      attempt: 2,
      taskToken: 'token-2',
      deadline: at(200),
      now: at(64),
    });
    expect(await store.getWork(workId)).not.toHaveProperty('expiredAt');
    await expect(store.claimWork({ workId, now: at(65) })).resolves.toEqual({
      taskToken: 'token-2',
      attempt: 2,
    });
  });

  it('look again at the deadline a heartbeat moved, and never expire another token or attempt', async () => {
    const { workId, token } = await parkedEvent({ heartbeatSeconds: 60 });
    await store.heartbeatWork({ workId, now: at(50) });
    await expect(store.expireWork({ workId, attempt: 1, taskToken: token, now: at(62) })).resolves.toEqual({
      outcome: 'waiting',
      nextDeadline: at(110).toISOString(),
    });
    await expect(store.expireWork({ workId, attempt: 1, taskToken: 'other', now: at(200) })).resolves.toEqual(
      {
        outcome: 'gone',
      },
    );
    await expect(store.expireWork({ workId, attempt: 2, taskToken: token, now: at(200) })).resolves.toEqual({
      outcome: 'gone',
    });
    await expect(store.claimWork({ workId, now: at(100) })).resolves.toMatchObject({ taskToken: token });
  });

  it('let exactly one of a claim and an expiry racing take the token', async () => {
    const rows = await Promise.all(Array.from({ length: 20 }, () => parkedEvent()));
    // The claim is in time (exactly at the deadline), the expiry just after it; the claims start a
    // little later row by row, so that either lands first.
    const races = await Promise.all(
      rows.map(({ workId, token }, index) =>
        Promise.allSettled([
          sleep(index % 10).then(() => store.claimWork({ workId, now: at(3601) })),
          store.expireWork({ workId, attempt: 1, taskToken: token, now: at(3601.001) }),
        ]),
      ),
    );
    for (const [claim, expiry] of races) {
      expect(expiry?.status).toBe('fulfilled');
      const outcome = expiry?.status === 'fulfilled' ? expiry.value.outcome : undefined;
      if (claim?.status === 'fulfilled') expect(outcome).toBe('gone');
      else {
        expect(claim?.reason).toBeInstanceOf(WorkExpiredError);
        expect(outcome).toBe('expired');
      }
    }
  });

  it('never show a token in a public read', async () => {
    const { taskId, workId, token } = await parkedEvent({ heartbeatSeconds: 30 });
    const segmentId = segmentIdOf(eventIdOf(taskId, 'fan'), 0);
    await store.startSegment({ taskId, node: 'fan', order: 0, attempt: 1 });
    await store.parkWork({ taskId, workId: segmentId, attempt: 1, taskToken: token, deadline: at(100) });
    const reads = [
      await store.getWork(workId),
      await store.getWork(segmentId),
      await store.getEvents(taskId),
      await store.getSegments(taskId),
      await store.startEvent({ taskId, node: 'review', type: 'async', attempt: 1 }),
      await store.listTasks({ workflow: 'media-flow', limit: 1000 }),
    ];
    expect(JSON.stringify(reads)).not.toContain(token);
    expect(JSON.stringify(reads)).not.toContain('taskToken');
  });
});

describe('dynalite on disk', () => {
  it('keeps records across a close and a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dag-tracking-'));
    try {
      const first = await startLocalDynamo({ path: dir });
      const taskId = newTaskId();
      const firstStore = storeOn(first);
      await firstStore.createTask({ taskId, workflow: 'disk-flow', input: { keep: true } });
      await firstStore.startEvent({ taskId, node: 'probe', type: 'sync', attempt: 1 });
      await first.close();

      const second = await startLocalDynamo({ path: dir });
      try {
        const secondStore = storeOn(second);
        expect(await secondStore.getTask(taskId)).toMatchObject({
          workflow: 'disk-flow',
          input: { keep: true },
        });
        expect(await secondStore.getEvents(taskId)).toHaveLength(1);
        expect((await secondStore.listTasks({ workflow: 'disk-flow' })).tasks).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
