// Cross-branch barriers (`--plan fastest`) as both engines run them: the shared logic
// (lib/runtime/barriers.ts) over the real barrier store on dynalite; on AWS the resume is
// SendTaskSuccess (a recording responder here), locally the engine's parked promise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsBarrierDeps } from '../../lib/aws/barrier-service.js';
import type { TaskResponder } from '../../lib/aws/callback-service.js';
import { type LocalDynamo, startLocalDynamo } from '../../lib/local/dynalite.js';
import {
  type BarrierDeps,
  BarrierPayloadError,
  parseBarrierPayload,
  passBarrier,
} from '../../lib/runtime/barriers.js';
import {
  type BarrierContext,
  BarrierDataTooLargeError,
  DynamoBarrierStore,
} from '../../lib/tracking/barrier-store.js';
import { createTrackingDocumentClient } from '../../lib/tracking/dynamo-store.js';
import { newTaskId } from '../../lib/tracking/ids.js';

let local: LocalDynamo;
let store: DynamoBarrierStore;

beforeAll(async () => {
  local = await startLocalDynamo();
  store = new DynamoBarrierStore(createTrackingDocumentClient(local.client), local.tableNames.barriers);
});

afterAll(async () => {
  await local?.close();
});

/** Resumes recorded instead of delivered: the token and what the wait state would output. */
function recording(): BarrierDeps & { resumed: { token: string; output: BarrierContext }[] } {
  const resumed: { token: string; output: BarrierContext }[] = [];
  return {
    store,
    resumed,
    resume: async (token, output) => {
      resumed.push({ token, output });
    },
  };
}

const task = (id: string) => ({ id, workflow: 'flow' });
/** The wait's branch context: what ran before the Parallel (`x`), and `w`, which ran in its branch. */
const WAITING = {
  task: { id: 't', workflow: 'flow' },
  input: { x: 1 },
  params: {},
  nodes: { x: 1, w: 'W' },
  errors: {},
};
const wait = (taskId: string, token: string, producers = ['a', 'b'], context: object = WAITING) =>
  parseBarrierPayload({
    action: 'wait',
    taskToken: token,
    task: task(taskId),
    consumer: 'c',
    producers,
    context,
  });
const release = (
  taskId: string,
  producer: string,
  nodes: Record<string, unknown> = { [producer]: producer },
) =>
  parseBarrierPayload({
    action: 'release',
    task: task(taskId),
    producer,
    consumers: ['c'],
    nodes,
    errors: {},
  });

describe('barriers', () => {
  it('resumes the wait once the last producer releases, its context merged with what they knew', async () => {
    const taskId = newTaskId();
    const deps = recording();
    await passBarrier(wait(taskId, 'T1'), deps);
    await passBarrier(release(taskId, 'a', { x: 1, a: 'A' }), deps);
    expect(deps.resumed).toEqual([]);
    await passBarrier(release(taskId, 'b', { x: 1, b: 'B' }), deps);
    expect(deps.resumed).toEqual([
      { token: 'T1', output: { ...WAITING, nodes: { x: 1, w: 'W', a: 'A', b: 'B' }, errors: {} } },
    ]);
  });

  it('resumes at once a wait whose producers all finished before it arrived', async () => {
    const taskId = newTaskId();
    const deps = recording();
    await passBarrier(release(taskId, 'b'), deps);
    await passBarrier(release(taskId, 'a'), deps);
    await passBarrier(wait(taskId, 'T1'), deps);
    expect(deps.resumed.map((r) => r.token)).toEqual(['T1']);
    expect(deps.resumed[0]!.output.nodes).toEqual({ x: 1, w: 'W', a: 'a', b: 'b' });
  });

  it('resumes exactly once when the wait and the releases race, and repeated releases change nothing', async () => {
    for (let round = 0; round < 15; round++) {
      const taskId = newTaskId();
      const deps = recording();
      await Promise.all([
        passBarrier(wait(taskId, `T${round}`), deps),
        passBarrier(release(taskId, 'a'), deps),
        passBarrier(release(taskId, 'b'), deps),
        passBarrier(release(taskId, 'a'), deps),
        passBarrier(release(taskId, 'b'), deps),
      ]);
      expect(deps.resumed.map((r) => r.token)).toEqual([`T${round}`]);
    }
  });

  it('a wait run again (redrive, restart) with a new token is resumed by the releases already made', async () => {
    const taskId = newTaskId();
    const deps = recording();
    await passBarrier(release(taskId, 'a'), deps);
    await passBarrier(release(taskId, 'b'), deps);
    await passBarrier(wait(taskId, 'first'), deps);
    await passBarrier(wait(taskId, 'second'), deps);
    expect(deps.resumed.map((r) => r.token)).toEqual(['first', 'second']);
  });

  it('gives the claim back when the resume fails, so a retried release delivers it', async () => {
    const taskId = newTaskId();
    const failing: BarrierDeps = {
      store,
      resume: async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
    };
    await passBarrier(wait(taskId, 'T1', ['a']), recording());
    await expect(passBarrier(release(taskId, 'a'), failing)).rejects.toThrow(/Rate exceeded/);
    const deps = recording();
    await passBarrier(release(taskId, 'a'), deps);
    expect(deps.resumed.map((r) => r.token)).toEqual(['T1']);
  });

  it('on AWS resumes with SendTaskSuccess, and a token Step Functions says is gone is no error', async () => {
    const sent: { token: string; output: unknown }[] = [];
    let refuse: string | undefined;
    const responder: TaskResponder = {
      succeed: async (token, output) => {
        if (refuse) throw Object.assign(new Error('gone'), { name: refuse });
        sent.push({ token, output });
      },
      fail: async () => {
        throw new Error('a barrier never fails a wait');
      },
      heartbeat: async () => {
        throw new Error('a barrier never heartbeats a wait');
      },
    };
    const deps = awsBarrierDeps(store, responder);
    const taskId = newTaskId();
    await passBarrier(wait(taskId, 'T1', ['a']), deps);
    await passBarrier(release(taskId, 'a', { a: 1 }), deps);
    expect(sent).toEqual([
      { token: 'T1', output: { ...WAITING, nodes: { x: 1, w: 'W', a: 1 }, errors: {} } },
    ]);

    refuse = 'TaskTimedOut';
    const other = newTaskId();
    await passBarrier(wait(other, 'T2', ['a']), deps);
    await expect(passBarrier(release(other, 'a'), deps)).resolves.toBeUndefined();
    refuse = 'ServiceUnavailable';
    const third = newTaskId();
    await passBarrier(wait(third, 'T3', ['a']), deps);
    await expect(passBarrier(release(third, 'a'), deps)).rejects.toThrow('gone');
  });

  it('refuses data over what one row holds, and payloads that are not a wait or a release', async () => {
    const taskId = newTaskId();
    const big = { blob: 'x'.repeat(420_000) };
    await expect(passBarrier(release(taskId, 'a', big), recording())).rejects.toBeInstanceOf(
      BarrierDataTooLargeError,
    );
    const huge = { ...WAITING, nodes: { blob: 'x'.repeat(420_000) } };
    await expect(passBarrier(wait(taskId, 'T9', ['a'], huge), recording())).rejects.toBeInstanceOf(
      BarrierDataTooLargeError,
    );
    expect(() => parseBarrierPayload({ action: 'wait', task: task(taskId), consumer: 'c' })).toThrow(
      BarrierPayloadError,
    );
    expect(() => parseBarrierPayload({ action: 'open' })).toThrow(/action/);
  });
});
