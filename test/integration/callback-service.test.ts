// The AWS callback path (lib/aws/callback-service.ts applyCallback, what the callback Lambda runs)
// against a real dynalite-backed tracking store, with Step Functions replaced by a responder that
// records what it is told. Every refused callback must leave the work's row exactly as it was (token
// included) and tell Step Functions nothing.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCallback, type TaskResponder } from '../../lib/aws/callback-service.js';
import { type LocalDynamo, startLocalDynamo } from '../../lib/local/dynalite.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../../lib/tracking/dynamo-store.js';
import { eventIdOf, newTaskId } from '../../lib/tracking/ids.js';

const T0 = new Date('2026-11-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

let local: LocalDynamo;

beforeAll(async () => {
  local = await startLocalDynamo();
});

afterAll(async () => {
  await local?.close();
});

/** A store whose clock the test sets: "after the timeout" without waiting for it. */
function storeAt(clock: { now: Date }): DynamoTrackingStore {
  return new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(local.client),
    tableNames: local.tableNames,
    clock: () => clock.now,
  });
}

type Call = { kind: 'succeed' | 'fail' | 'heartbeat'; token: string; payload?: unknown };

/** Step Functions as the callback service sees it; `refuse` makes the next resume fail with that error. */
class RecordingResponder implements TaskResponder {
  readonly calls: Call[] = [];
  refuse: string | undefined;

  async succeed(token: string, output: unknown): Promise<void> {
    this.answer({ kind: 'succeed', token, payload: output });
  }

  async fail(token: string, error: { error: string; cause: string }): Promise<void> {
    this.answer({ kind: 'fail', token, payload: error });
  }

  async heartbeat(token: string): Promise<void> {
    this.answer({ kind: 'heartbeat', token });
  }

  private answer(call: Call): void {
    if (this.refuse) {
      const error = new Error(this.refuse);
      error.name = this.refuse;
      throw error;
    }
    this.calls.push(call);
  }
}

async function rawRow(workId: string) {
  const [taskId] = workId.split('_');
  const db = createTrackingDocumentClient(local.client);
  const { Item } = await db.send(
    new GetCommand({ TableName: local.tableNames.events, Key: { taskId, eventId: workId } }),
  );
  return Item;
}

/** Async work parked at T0+1 s with a deadline at T0+60 s, as the dispatch Lambda leaves it. */
async function parked(options: { heartbeatSeconds?: number } = {}) {
  const clock = { now: at(1) };
  const store = storeAt(clock);
  const responder = new RecordingResponder();
  const taskId = newTaskId();
  const workId = eventIdOf(taskId, 'review');
  await store.createTask({ taskId, workflow: 'flow', input: {}, engine: 'stepfunctions' });
  await store.startEvent({ taskId, node: 'review', type: 'async', attempt: 1 });
  await store.parkWork({
    taskId,
    workId,
    attempt: 1,
    taskToken: `token-${workId}`,
    deadline: at(60),
    ...(options.heartbeatSeconds === undefined ? {} : { heartbeatSeconds: options.heartbeatSeconds }),
  });
  const deps = { store, responder };
  const post = (body: unknown, rawBytes?: number) => applyCallback(body, rawBytes, deps);
  return { clock, store, responder, workId, token: `token-${workId}`, post };
}

describe('applyCallback on dynalite', () => {
  it('answers malformed, unknown, oversized and stale-attempt callbacks as §7 says, changing nothing', async () => {
    const { workId, post, responder } = await parked();
    const before = await rawRow(workId);
    const refused: [unknown, number | undefined, number][] = [
      [{ id: workId, status: 'DONE' }, undefined, 400],
      [{ id: workId, attempt: 0, status: 'SUCCEEDED' }, undefined, 400],
      ['{"id":', undefined, 400],
      [{ id: `${workId.split('_')[0]}_ghost`, status: 'SUCCEEDED' }, undefined, 404],
      [{ id: 'not_a_work_id_at_all', status: 'SUCCEEDED' }, undefined, 404],
      [{ id: workId, status: 'SUCCEEDED', output: 'x'.repeat(256 * 1024) }, undefined, 413],
      [{ id: workId, status: 'SUCCEEDED' }, 300 * 1024, 413],
      [{ id: workId, attempt: 2, status: 'SUCCEEDED' }, undefined, 409],
      [{ id: workId, attempt: 2, status: 'HEARTBEAT' }, undefined, 409],
    ];
    for (const [body, bytes, status] of refused) {
      expect((await post(body, bytes)).status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(await rawRow(workId)).toEqual(before);
    }
    expect(responder.calls).toEqual([]);
  });

  it('answers a callback after the deadline 410, changing nothing, and one exactly at it 202', async () => {
    const late = await parked();
    late.clock.now = new Date(at(60).getTime() + 1);
    const before = await rawRow(late.workId);
    for (const status of ['SUCCEEDED', 'FAILED', 'HEARTBEAT'])
      expect((await late.post({ id: late.workId, status })).status).toBe(410);
    expect(await rawRow(late.workId)).toEqual(before);
    expect(late.responder.calls).toEqual([]);

    const onTime = await parked();
    onTime.clock.now = at(60);
    expect((await onTime.post({ id: onTime.workId, status: 'SUCCEEDED', output: 1 })).status).toBe(202);
    expect(onTime.responder.calls).toEqual([{ kind: 'succeed', token: onTime.token, payload: 1 }]);
  });

  it('answers a duplicate 409 and changes nothing: the first callback was recorded and sent once', async () => {
    const { workId, post, responder, token, clock } = await parked();
    clock.now = at(10);
    expect((await post({ id: workId, status: 'SUCCEEDED', output: { approved: true } })).status).toBe(202);
    const after = await rawRow(workId);
    expect(after).toMatchObject({ status: 'SUCCEEDED', output: '{"approved":true}' });
    clock.now = at(20);
    for (const body of [
      { id: workId, status: 'SUCCEEDED', output: { approved: false } },
      { id: workId, attempt: 1, status: 'FAILED' },
      { id: workId, status: 'HEARTBEAT' },
    ]) {
      expect((await post(body)).status).toBe(409);
      expect(await rawRow(workId)).toEqual(after);
    }
    // Long after the deadline, a duplicate of a timely callback is still "already finished".
    clock.now = at(999);
    expect((await post({ id: workId, status: 'SUCCEEDED' })).status).toBe(409);
    expect(responder.calls).toEqual([{ kind: 'succeed', token, payload: { approved: true } }]);
  });

  it('extends the heartbeat deadline on HEARTBEAT, so a callback past the first one is in time', async () => {
    const beating = await parked({ heartbeatSeconds: 30 });
    beating.clock.now = at(25);
    expect((await beating.post({ id: beating.workId, status: 'HEARTBEAT' })).status).toBe(202);
    expect((await rawRow(beating.workId))?.heartbeatDeadline).toBe(at(55).toISOString());
    beating.clock.now = at(50);
    expect((await beating.post({ id: beating.workId, status: 'SUCCEEDED' })).status).toBe(202);
    expect(beating.responder.calls.map((c) => c.kind)).toEqual(['heartbeat', 'succeed']);

    const silent = await parked({ heartbeatSeconds: 30 });
    silent.clock.now = at(50);
    const before = await rawRow(silent.workId);
    expect((await silent.post({ id: silent.workId, status: 'SUCCEEDED' })).status).toBe(410);
    expect(await rawRow(silent.workId)).toEqual(before);
    expect(silent.responder.calls).toEqual([]);
  });

  it('resolves a callback that races the timeout once: when Step Functions timed out first, 410 and nothing recorded', async () => {
    const { workId, post, responder, clock } = await parked();
    clock.now = at(59);
    responder.refuse = 'TaskTimedOut';
    expect((await post({ id: workId, status: 'SUCCEEDED', output: 1 })).status).toBe(410);
    const row = await rawRow(workId);
    expect(row).toMatchObject({ status: 'WAITING', attempts: 1 });
    expect(row).not.toHaveProperty('output');
    // The token stays taken: a retry of the callback cannot resume the node afterwards.
    responder.refuse = undefined;
    expect((await post({ id: workId, status: 'SUCCEEDED', output: 1 })).status).toBe(409);
    expect(responder.calls).toEqual([]);
  });

  it('resumes once for 50 concurrent duplicates: one 202, 49 409, Step Functions told once', async () => {
    const { workId, post, responder, token, clock } = await parked();
    clock.now = at(10);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, n) => post({ id: workId, status: 'SUCCEEDED', output: { n } })),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(49);
    expect(responder.calls).toHaveLength(1);
    expect(responder.calls[0]).toMatchObject({ kind: 'succeed', token });
    const row = await rawRow(workId);
    expect(row?.status).toBe('SUCCEEDED');
    expect(JSON.parse(String(row?.output))).toEqual(responder.calls[0]?.payload);
  });
});
