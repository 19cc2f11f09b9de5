// Faults of operators on the embedded engine (real aws-local-stepfunctions, dynalite, operator
// processes): an operator that throws, runs over its time limit or ends its own process fails that
// attempt only, with one trace per attempt, is retried per policy, then goes to onError or fails the
// task with its error recorded; the engine goes on serving other tasks.

import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { EmbeddedEngine, type TaskResult } from '../../lib/local/engine.js';
import { OperatorCrashedError, OperatorProcessPool } from '../../lib/runtime/operator-processes.js';
import type { OperatorEvent } from '../../lib/runtime/operators.js';

const OPERATORS = 'test/fixtures/operators';
let engine: EmbeddedEngine;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'operator-faults-'));
  engine = await EmbeddedEngine.start({ operatorsDir: OPERATORS, retryDelayMs: 0 });
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

function compile(yaml: string) {
  const compiled = compileWorkflowText(yaml, { operatorExists: (op) => engine.catalog.has(op) });
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return compiled;
}

function run(yaml: string, input: unknown = {}): Promise<TaskResult> {
  return engine.runTask(compile(yaml), input);
}

function eventOf(result: TaskResult, node: string) {
  const event = result.events.find((e) => e.node === node);
  expect(event, `event of ${node}`).toBeDefined();
  return event!;
}

/** `attempt:status:error` of a node's traces, in attempt order. */
function tracesOf(result: TaskResult, node: string): string[] {
  return result.traces
    .filter((t) => t.eventId === `${result.taskId}_${node}`)
    .sort((a, b) => a.attempt - b.attempt || (a.segmentId ?? '').localeCompare(b.segmentId ?? ''))
    .map((t) => `${t.attempt}:${t.status}${t.error ? `:${t.error.error}` : ''}`);
}

/** Whether a process runs (a zombie waiting for its parent to reap it does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    // No /proc entry, or no /proc: ask the kernel.
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const ONCE = (operator: string, input: string, extra = '') => `name: once
nodes:
  begin: { type: start, next: x }
  x: { type: sync, operator: ${operator}, input: ${input}, retry: { maxAttempts: 2 }${extra}, next: done }
  done: { type: end }
`;

describe('an operator that ends its own process', () => {
  it.each([
    ['process.exit(3)', 'test/exit', '{ code: 3, failures: 1 }', /exited with code 3/],
    ['process.abort()', 'test/exit', '{ how: abort, failures: 1 }', /killed by SIGABRT/],
    ['SIGKILL to itself', 'test/exit', '{ how: kill, failures: 1 }', /killed by SIGKILL/],
    [
      'an uncaught exception from a timer',
      'test/crash-later',
      '{ failures: 1 }',
      /exited with code 1\): uncaught Error: thrown from a timer in attempt 1/,
    ],
  ])(
    '(%s) fails that attempt with OperatorCrashedError, and the retry succeeds',
    async (_, operator, input, cause) => {
      const result = await run(ONCE(operator, input));
      expect(result.status).toBe('SUCCEEDED');
      expect((result.output as { x: unknown }).x).toEqual({ attempt: 2 });
      expect(tracesOf(result, 'x')).toEqual(['1:FAILED:OperatorCrashedError', '2:SUCCEEDED']);
      const failed = result.traces.find((t) => t.attempt === 1)!;
      expect(failed.error?.cause).toMatch(cause);
      expect(failed.error?.cause).toContain(`Operator '${operator}' ended its process before answering`);
      expect(eventOf(result, 'x')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    },
  );

  it('after its retries goes to onError, with the crash at errors.<node>', async () => {
    const result = await run(`name: crash-caught
nodes:
  begin: { type: start, next: x }
  x: { type: sync, operator: test/exit, input: { code: 7 }, retry: { maxAttempts: 2 }, onError: recover, next: done }
  recover: { type: sync, operator: test/echo, input: { why: $.errors.x }, next: done }
  done: { type: end }
`);
    expect(result.status).toBe('SUCCEEDED');
    const why = (result.output as { recover: { echo: { why: { error: string; cause: string } } } }).recover
      .echo.why;
    expect(why.error).toBe('OperatorCrashedError');
    expect(why.cause).toMatch(/exited with code 7/);
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:OperatorCrashedError', '2:FAILED:OperatorCrashedError']);
    expect(eventOf(result, 'x')).toMatchObject({ status: 'FAILED', attempts: 2 });
    expect(eventOf(result, 'recover').status).toBe('SUCCEEDED');
  });

  it('without onError fails the task, the crash recorded on the event and the task', async () => {
    const result = await run(ONCE('test/exit', '{ code: 2 }'));
    expect(result.status).toBe('FAILED');
    expect(result.error?.error).toBe('OperatorCrashedError');
    expect(result.error?.cause).toMatch(/exited with code 2/);
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:OperatorCrashedError', '2:FAILED:OperatorCrashedError']);
    const event = (await engine.store.getEvents(result.taskId)).find((e) => e.node === 'x');
    expect(event).toMatchObject({ status: 'FAILED', attempts: 2, error: result.error });
    expect((await engine.store.getTask(result.taskId))?.error).toEqual(result.error);
  });

  it('inside a parallel node fails only its own item attempt; every item retries on its own', async () => {
    const result = await run(
      `name: crash-items
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    node: { type: sync, operator: test/exit, input: { failures: 1 }, retry: { maxAttempts: 2 } }
    next: done
  done: { type: end }
`,
      { items: [1, 2, 3] },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { each: unknown[] }).each).toEqual([
      { attempt: 2 },
      { attempt: 2 },
      { attempt: 2 },
    ]);
    expect(result.segments.map((s) => [s.order, s.status, s.attempts])).toEqual([
      [0, 'SUCCEEDED', 2],
      [1, 'SUCCEEDED', 2],
      [2, 'SUCCEEDED', 2],
    ]);
    expect(tracesOf(result, 'each')).toEqual([
      ...Array(3).fill('1:FAILED:OperatorCrashedError'),
      ...Array(3).fill('2:SUCCEEDED'),
    ]);
  });

  it('as async work (via lambda) fails that attempt through its callback, and the retry succeeds', async () => {
    const result = await run(`name: crash-async
nodes:
  begin: { type: start, next: x }
  x: { type: async, via: lambda, operator: test/exit, input: { failures: 1 }, retry: { maxAttempts: 2 }, next: done }
  done: { type: end }
`);
    expect(result.status).toBe('SUCCEEDED');
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:OperatorCrashedError', '2:SUCCEEDED']);
    expect(eventOf(result, 'x')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });

  it('leaves a task running beside it on the same engine untouched', async () => {
    const faulty = await engine.startTask(
      compile(`name: faulty
nodes:
  begin: { type: start, next: [x, y] }
  x: { type: sync, operator: test/exit, retry: { maxAttempts: 3 }, next: z }
  y: { type: sync, operator: test/crash-later, input: { failures: 2 }, retry: { maxAttempts: 3 }, next: z }
  z: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`),
      {},
    );
    const healthy = await engine.startTask(
      compile(`name: healthy
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/sleep, input: { ms: 200, value: 1 }, next: b }
  b: { type: sync, operator: test/echo, input: { after: $.nodes.a.value }, next: done }
  done: { type: end }
`),
      {},
    );
    const [failed, succeeded] = await Promise.all([faulty.done, healthy.done]);
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.error).toBe('OperatorCrashedError');
    // Only x fails for good (y crashes twice, then answers): its branch runs all its attempts.
    expect(tracesOf(failed, 'x')).toEqual(
      Array.from({ length: 3 }, (_, i) => `${i + 1}:FAILED:OperatorCrashedError`),
    );
    expect(succeeded.status).toBe('SUCCEEDED');
    expect((succeeded.output as { b: { echo: unknown } }).b.echo).toEqual({ after: 1 });
    expect(tracesOf(succeeded, 'a')).toEqual(['1:SUCCEEDED']);
  });
});

describe('an operator over its time limit', () => {
  it('is stopped with everything it started, fails that attempt with States.Timeout, and the retry succeeds', async () => {
    const record = join(dir, 'hung.json');
    const result = await run(ONCE('test/hang', `{ hangs: 1, record: '${record}' }`, ', timeout: 1'));
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { x: unknown }).x).toEqual({ attempt: 2 });
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:States.Timeout', '2:SUCCEEDED']);
    expect(result.traces.find((t) => t.attempt === 1)?.error?.cause).toBe(
      "Operator 'test/hang' ran longer than its time limit of 1 s; its process was stopped.",
    );
    expect(eventOf(result, 'x')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    // The attempt's process is gone before its failure is recorded; what it spawned goes with it.
    const hung = JSON.parse(await readFile(record, 'utf8')) as { pid: number; childPid: number };
    expect(running(hung.pid)).toBe(false);
    await vi.waitFor(() => expect(running(hung.childPid)).toBe(false), { timeout: 10_000 });
  });

  it('is stopped by the engine’s queue consumer too (`via: queue`), at its attempt’s time', async () => {
    const record = join(dir, 'hung-queue.json');
    const yaml = `name: queued
nodes:
  begin: { type: start, next: x }
  x:
    type: async
    via: queue
    operator: test/hang
    input: { hangs: 1, record: '${record}' }
    timeout: 1
    retry: { maxAttempts: 2 }
    next: done
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    expect((result.output as { x: unknown }).x).toEqual({ attempt: 2 });
    // The consumer stopped attempt 1 at its time; its trace may land just after the task ended.
    await vi.waitFor(
      async () => {
        const traces = await engine.store.getTraces(result.taskId);
        expect(traces.find((t) => t.attempt === 1)).toMatchObject({
          status: 'FAILED',
          error: { error: 'States.Timeout', cause: expect.stringContaining('its process was stopped') },
        });
      },
      { timeout: 10_000 },
    );
    const hung = JSON.parse(await readFile(record, 'utf8')) as { pid: number; childPid: number };
    await vi.waitFor(() => expect(running(hung.pid)).toBe(false), { timeout: 10_000 });
    await vi.waitFor(() => expect(running(hung.childPid)).toBe(false), { timeout: 10_000 });
  });

  it('is stopped even in a loop that never yields', async () => {
    const result = await run(ONCE('test/hang', '{ hangs: 1, spin: true }', ', timeout: 1'));
    expect(result.status).toBe('SUCCEEDED');
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:States.Timeout', '2:SUCCEEDED']);
  });

  it('fails the task after its retries, with States.Timeout on the event and the task', async () => {
    const result = await run(ONCE('test/hang', 'null', ', timeout: 1'));
    expect(result.status).toBe('FAILED');
    expect(result.error).toEqual({
      error: 'States.Timeout',
      cause: "Operator 'test/hang' ran longer than its time limit of 1 s; its process was stopped.",
    });
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:States.Timeout', '2:FAILED:States.Timeout']);
    const event = (await engine.store.getEvents(result.taskId)).find((e) => e.node === 'x');
    expect(event).toMatchObject({ status: 'FAILED', attempts: 2, error: result.error });
    expect((await engine.store.getTask(result.taskId))?.error).toEqual(result.error);
  });

  it('goes to onError after its retries', async () => {
    const result = await run(`name: timeout-caught
nodes:
  begin: { type: start, next: x }
  x: { type: sync, operator: test/hang, timeout: 1, onError: recover, next: done }
  recover: { type: sync, operator: test/echo, input: { why: $.errors.x.error }, next: done }
  done: { type: end }
`);
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { recover: { echo: unknown } }).recover.echo).toEqual({ why: 'States.Timeout' });
    expect(tracesOf(result, 'x')).toEqual(['1:FAILED:States.Timeout']);
    expect(eventOf(result, 'x')).toMatchObject({ status: 'FAILED', attempts: 1 });
  });

  it('in a fused chain is stopped on its own limit; the redrive runs only the node that timed out', async () => {
    const compiled = compile(`name: fused-hang
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { x: 1 }, next: b }
  b: { type: sync, operator: test/hang, input: { hangs: 1 }, timeout: 1, next: done }
  done: { type: end }
`);
    const tasks = Object.values(compiled.asl!.States).filter((s) => s.Type === 'Task');
    expect(tasks).toHaveLength(1);
    expect((tasks[0]!.Parameters as { chain: { node: string }[] }).chain.map((l) => l.node)).toEqual([
      'a',
      'b',
    ]);
    const failed = await engine.runTask(compiled, {});
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.error).toBe('States.Timeout');
    const result = await engine.runTask(compiled, undefined, { taskId: failed.taskId, redrive: true });
    expect(result.status).toBe('SUCCEEDED');
    expect(tracesOf(result, 'a')).toEqual(['1:SUCCEEDED']);
    expect(tracesOf(result, 'b')).toEqual(['1:FAILED:States.Timeout', '2:SUCCEEDED']);
    expect(eventOf(result, 'a')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(eventOf(result, 'b')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect((result.output as { b: unknown }).b).toEqual({ attempt: 2 });
  });
});

describe('operator processes', () => {
  const event = (input: unknown): OperatorEvent => ({
    task: { id: 't', workflow: 'w' },
    node: { name: 'n', eventId: 't_n', attempt: 1 },
    input,
  });
  const file = (operator: string) => resolve(OPERATORS, `${operator}.ts`);

  it('are reused between attempts, and see the environment of the host that started them', async () => {
    vi.stubEnv('OPERATOR_FAULTS_PROBE', 'set by the host');
    const pool = new OperatorProcessPool(1);
    try {
      const probe = () =>
        pool.run('test/env', file('test/env'), event({ name: 'OPERATOR_FAULTS_PROBE' }), 10_000) as Promise<{
          value: string;
          pid: number;
        }>;
      const [first, second] = [await probe(), await probe()];
      expect(first.value).toBe('set by the host');
      expect(second.pid).toBe(first.pid);
      expect(first.pid).not.toBe(process.pid);
    } finally {
      vi.unstubAllEnvs();
      await pool.close();
    }
  });

  it('run one attempt each: over the limit attempts wait their turn, and a process that died is replaced', async () => {
    const pool = new OperatorProcessPool(1);
    try {
      const ran = await Promise.all(
        [1, 2].map((value) => pool.run('test/sleep', file('test/sleep'), event({ ms: 100, value }), 10_000)),
      );
      const [a, b] = ran as { startedAt: number; endedAt: number }[];
      expect(b!.startedAt >= a!.endedAt || a!.startedAt >= b!.endedAt).toBe(true);
      const pid = (
        (await pool.run('test/env', file('test/env'), event({ name: 'PATH' }), 10_000)) as { pid: number }
      ).pid;
      await expect(pool.run('test/exit', file('test/exit'), event({}), 10_000)).rejects.toThrow(
        OperatorCrashedError,
      );
      const after = (await pool.run('test/env', file('test/env'), event({ name: 'PATH' }), 10_000)) as {
        pid: number;
      };
      expect(after.pid).not.toBe(pid);
      expect(pool.size).toBe(1);
    } finally {
      await pool.close();
    }
  });
});
