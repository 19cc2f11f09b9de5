// The embedded engine end to end on small test operators: real aws-local-stepfunctions, real
// dynalite, real runtime. Each test compiles a workflow and runs one task.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { EmbeddedEngine, type TaskResult, type WorkItem } from '../../lib/local/engine.js';

let engine: EmbeddedEngine;

beforeAll(async () => {
  engine = await EmbeddedEngine.start({ operatorsDir: 'test/fixtures/operators', retryDelayMs: 0 });
});

afterAll(async () => {
  await engine.close();
});

function compile(yaml: string, params: Record<string, unknown> = {}, optimize = true) {
  const compiled = compileWorkflowText(yaml, {
    params,
    optimize,
    operatorExists: (op) => engine.catalog.has(op),
  });
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return compiled;
}

async function run(yaml: string, input: unknown = {}, optimize = true): Promise<TaskResult> {
  return engine.runTask(compile(yaml, {}, optimize), input);
}

function eventOf(result: TaskResult, node: string) {
  const event = result.events.find((e) => e.node === node);
  expect(event, `event of ${node}`).toBeDefined();
  return event!;
}

const LINEAR = `name: linear
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { x: $.input.x }, next: b }
  b: { type: sync, operator: test/echo, input: { prev: $.nodes.a.echo.x }, next: done }
  done: { type: end }
`;

describe('embedded engine', () => {
  it('runs a linear workflow and records task, events and traces by the id formulas', async () => {
    const result = await run(LINEAR, { x: 7 });
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { b: { echo: { prev: number } } }).b.echo.prev).toBe(7);
    expect(result.taskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(result.events.map((e) => e.node).sort()).toEqual(['a', 'b', 'begin', 'done']);
    for (const event of result.events) {
      expect(event.eventId).toBe(`${result.taskId}_${event.node}`);
      expect(event.status).toBe('SUCCEEDED');
      expect(event.attempts).toBe(1);
    }
    expect(result.traces).toHaveLength(2);
    expect(result.traces.every((t) => t.status === 'SUCCEEDED' && t.resource === 'cpu')).toBe(true);
    const task = await engine.store.getTask(result.taskId);
    expect(task?.status).toBe('SUCCEEDED');
    // a and b run as one fused Task (one event and trace each still); start is StartAt and the end
    // is folded into that Task.
    expect(task?.stateTransitions).toBe(1);
    expect(result.stats.stateTransitions).toBe(1);
  });

  describe('routers', () => {
    const ROUTED = `name: routed
nodes:
  begin: { type: start, next: r }
  r:
    type: router
    routes:
      - { when: "input.size > 10", next: big }
      - { when: "input.kind == 'clip'", next: clip }
    default: other
  big: { type: sync, operator: test/echo, next: done }
  clip: { type: sync, operator: test/echo, next: done }
  other: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
    it.each([
      [{ size: 11 }, 'big'],
      [{ size: 3, kind: 'clip' }, 'clip'],
      [{ size: '11' }, 'other'],
      [{}, 'other'],
      [{ size: null, kind: 5 }, 'other'],
    ])('input %j goes to %s; untaken branches have no event', async (input, expected) => {
      const result = await run(ROUTED, input);
      expect(result.status).toBe('SUCCEEDED');
      const ran = result.events.map((e) => e.node);
      expect(ran).toContain(expected);
      expect(ran).toContain('r');
      for (const branch of ['big', 'clip', 'other'].filter((b) => b !== expected))
        expect(ran).not.toContain(branch);
    });

    it('a router decided by params still has its event', async () => {
      const yaml = `name: decided
params: { fast: true }
nodes:
  begin: { type: start, next: r }
  r:
    type: router
    routes: [{ when: "params.fast == true", next: quick }]
    default: slow
  quick: { type: sync, operator: test/echo, next: done }
  slow: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
      const compiled = compile(yaml);
      expect(JSON.stringify(compiled.asl)).not.toContain('"slow"');
      const result = await engine.runTask(compiled, {});
      expect(result.events.map((e) => e.node).sort()).toEqual(['begin', 'done', 'quick', 'r']);
    });
  });

  it('passes template arrays holding null, "" and nested arrays through unchanged', async () => {
    // asl-validator (which the engine's StateMachine runs) refuses null and "" in a literal array:
    // these go through States.Array, alone and next to a reference.
    const yaml = `name: template-arrays
nodes:
  begin: { type: start, next: a }
  a:
    type: sync
    operator: test/echo
    input:
      literal: [1, null, "", "two\\nlines", [null, [""]], true]
      mixed: [$.input.x, null, ""]
    next: done
  done: { type: end, output: { list: [null, $.nodes.a.echo.mixed] } }
`;
    const result = await run(yaml, { x: 'x' });
    expect(result.status).toBe('SUCCEEDED');
    const { echo } = (await engine.store.getEvents(result.taskId)).find((e) => e.node === 'a')!.output as {
      echo: unknown;
    };
    expect(echo).toEqual({
      literal: [1, null, '', 'two\nlines', [null, ['']], true],
      mixed: ['x', null, ''],
    });
    expect(result.output).toEqual({ list: [null, ['x', null, '']] });
  });

  it('passes numbers and escaped strings in an array with references through unchanged', async () => {
    const list = ['$.input.x', 3, -7, 1e21, -1.5, 1e-7, 2 ** 53 + 2, Number.MAX_VALUE, "it's", '{x}'];
    const result = await run(
      JSON.stringify({
        name: 'intrinsic-numbers',
        nodes: {
          begin: { type: 'start', next: 'a' },
          a: { type: 'sync', operator: 'test/echo', input: { list }, next: 'done' },
          done: { type: 'end', output: '$.nodes.a.echo.list' },
        },
      }),
      { x: 'x' },
    );
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual([
      'x',
      3,
      -7,
      1e21,
      -1.5,
      1e-7,
      2 ** 53 + 2,
      Number.MAX_VALUE,
      "it's",
      '{x}',
    ]);
  });

  it('a join starts only after all its predecessors ended', async () => {
    const yaml = `name: joins
nodes:
  begin: { type: start, next: [a, b] }
  a: { type: sync, operator: test/sleep, input: { ms: 30 }, next: [c, d] }
  b: { type: sync, operator: test/sleep, input: { ms: 120 }, next: d }
  c: { type: sync, operator: test/sleep, input: { ms: 150 }, next: e }
  d: { type: sync, operator: test/sleep, input: { ms: 30 }, next: e }
  e: { type: sync, operator: test/sleep, input: { ms: 1 }, next: done }
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status).toBe('SUCCEEDED');
    const out = result.output as Record<string, { startedAt: number; endedAt: number }>;
    const edges = [
      ['a', 'c'],
      ['a', 'd'],
      ['b', 'd'],
      ['c', 'e'],
      ['d', 'e'],
    ] as const;
    for (const [from, to] of edges) expect(out[to]!.startedAt).toBeGreaterThanOrEqual(out[from]!.endedAt);
  });

  it('a parallel node of 100 items gives 100 segments and its outputs in item order', async () => {
    const yaml = `name: hundred
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    node: { type: sync, operator: test/double, input: { item: $.item } }
    next: done
  done: { type: end }
`;
    const items = Array.from({ length: 100 }, (_, i) => i);
    const result = await run(yaml, { items });
    expect(result.status).toBe('SUCCEEDED');
    const outputs = (result.output as { each: { value: number; order: number }[] }).each;
    expect(outputs.map((o) => o.value)).toEqual(items.map((i) => i * 2));
    expect(result.segments).toHaveLength(100);
    const eventId = `${result.taskId}_each`;
    expect(result.segments.map((s) => s.segmentId).sort()).toEqual(
      items.map((i) => `${eventId}_${i}`).sort(),
    );
    expect(result.segments.every((s) => s.status === 'SUCCEEDED' && s.eventId === eventId)).toBe(true);
    expect(result.traces.filter((t) => t.segmentId !== undefined)).toHaveLength(100);
    expect(eventOf(result, 'each')).toMatchObject({ type: 'parallel', status: 'SUCCEEDED', attempts: 1 });
  });

  it('honours maxConcurrency (traces never overlap more than allowed)', async () => {
    const yaml = `name: bounded
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    maxConcurrency: 2
    node: { type: sync, operator: test/sleep, input: { ms: 40, value: $.item } }
    next: done
  done: { type: end }
`;
    const result = await run(yaml, { items: [1, 2, 3, 4, 5, 6] });
    expect(result.status).toBe('SUCCEEDED');
    const spans = (result.output as { each: { startedAt: number; endedAt: number }[] }).each;
    // The most items running at one instant (counting the spans that overlap one item would also count
    // two that ran one after the other while that item, delayed on a busy machine, ran on).
    const edges = spans
      .flatMap((s) => [
        [s.startedAt, 1],
        [s.endedAt, -1],
      ])
      .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
    let running = 0;
    let peak = 0;
    for (const [, step] of edges) {
      running += step!;
      peak = Math.max(peak, running);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('retries give one trace per attempt, numbered from 1', async () => {
    const yaml = `name: retrying
nodes:
  begin: { type: start, next: f }
  f: { type: sync, operator: test/flaky, input: { failures: 2 }, retry: { maxAttempts: 3 }, next: done }
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.traces.map((t) => [t.attempt, t.status])).toEqual([
      [1, 'FAILED'],
      [2, 'FAILED'],
      [3, 'SUCCEEDED'],
    ]);
    expect(result.traces[0]!.error).toEqual({ error: 'Flaky', cause: 'attempt 1 fails' });
    expect(eventOf(result, 'f')).toMatchObject({ status: 'SUCCEEDED', attempts: 3 });
  });

  it('onError sends a failed node to its handler, with the error at errors.<node>', async () => {
    const yaml = `name: recovering
nodes:
  begin: { type: start, next: risky }
  risky: { type: sync, operator: test/fail, input: { name: Boom, message: it broke }, onError: recover, next: done }
  recover: { type: sync, operator: test/echo, input: { why: $.errors.risky }, next: done }
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { recover: { echo: unknown } }).recover.echo).toEqual({
      why: { error: 'Boom', cause: 'it broke' },
    });
    expect(eventOf(result, 'risky').status).toBe('FAILED');
    expect(eventOf(result, 'recover').status).toBe('SUCCEEDED');
  });

  it('a failing operator fails the task with its error', async () => {
    const yaml = `name: failing
nodes:
  begin: { type: start, next: f }
  f: { type: sync, operator: test/fail, input: { name: Broken, message: no good }, next: done }
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status).toBe('FAILED');
    expect(result.error).toEqual({ error: 'Broken', cause: 'no good' });
    expect(eventOf(result, 'f').status).toBe('FAILED');
    expect(result.events.map((e) => e.node)).not.toContain('done');
    expect((await engine.store.getTask(result.taskId))?.error).toEqual({ error: 'Broken', cause: 'no good' });
  });

  it('an end with status failed fails the task with its error and cause', async () => {
    const yaml = `name: refusing
nodes:
  begin: { type: start, next: no }
  no: { type: end, status: failed, error: Refused, cause: Not today. }
`;
    const result = await run(yaml);
    expect(result.status).toBe('FAILED');
    expect(result.error).toEqual({ error: 'Refused', cause: 'Not today.' });
  });

  it('a javascript script with an endless loop fails with ScriptTimeout within its limit', async () => {
    const yaml = `name: looping
nodes:
  begin: { type: start, next: spin }
  spin: { type: script, language: javascript, source: "while (true) {}", timeout: 0.5, next: done }
  done: { type: end }
`;
    const started = Date.now();
    const result = await run(yaml);
    expect(result.status).toBe('FAILED');
    expect(result.error?.error).toBe('ScriptTimeout');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('scripts see the context and their value is the output', async () => {
    const yaml = `name: scripting
params: { factor: 3 }
nodes:
  begin: { type: start, next: a }
  a: { type: script, language: jsonata, source: '{ "triple": input.x * params.factor }', next: b }
  b: { type: script, language: javascript, source: "return { plusOne: ctx.nodes.a.triple + 1 };", next: done }
  done: { type: end, output: { result: $.nodes.b.plusOne } }
`;
    const result = await run(yaml, { x: 5 });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ result: 16 });
    expect(result.traces).toHaveLength(2);
  });

  it('async work waits for its callback and resumes exactly once', async () => {
    const yaml = `name: waiting
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: review, input: { x: $.input.x }, timeout: 60, next: done }
  done: { type: end }
`;
    const waiting = new Promise<WorkItem>((resolve) => {
      engine.emitWaiting = resolve;
    });
    const task = run(yaml, { x: 1 });
    const item = await waiting;
    engine.emitWaiting = undefined;
    expect(item).toMatchObject({ attempt: 1, node: { name: 'review' }, input: { x: 1 } });
    expect(item.id).toMatch(/_review$/);
    const event = await engine.store.getWork(item.id);
    expect(event?.status).toBe('WAITING');
    expect(JSON.stringify(event)).not.toContain('local-');
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        engine.callback({ id: item.id, status: 'SUCCEEDED', output: { approved: true } }),
      ),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(9);
    const result = await task;
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { review: unknown }).review).toEqual({ approved: true });
    expect(eventOf(result, 'review')).toMatchObject({ status: 'SUCCEEDED', type: 'async' });
    expect((await engine.callback({ id: 'nope_review', status: 'SUCCEEDED' })).status).toBe(404);
    expect((await engine.callback({ id: item.id, status: 'DONE' })).status).toBe(400);
  });

  it('async work with an operator runs it as the worker (via lambda and via batch on the gpu)', async () => {
    const yaml = `name: workers
nodes:
  begin: { type: start, next: [a, b] }
  a: { type: async, via: lambda, operator: test/echo, input: { n: 1 }, next: done }
  b: { type: async, via: batch, operator: test/echo, input: { n: 2 }, next: done }
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.traces.map((t) => t.resource).sort()).toEqual(['cpu', 'gpu']);
    expect(eventOf(result, 'a').status).toBe('SUCCEEDED');
  });

  it.each([
    [30, 'SUCCEEDED'],
    [20, 'FAILED'],
  ])(
    'with toleratedFailurePercentage %i one failed item of four gives %s; failed items are null',
    async (percentage, status) => {
      const yaml = `name: tolerant
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    toleratedFailurePercentage: ${percentage}
    node: { type: sync, operator: test/double, input: { item: $.item, failOn: [3] } }
    next: done
  done: { type: end }
`;
      const result = await run(yaml, { items: [1, 2, 3, 4] });
      expect(result.status).toBe(status);
      if (status === 'SUCCEEDED') {
        expect((result.output as { each: unknown[] }).each).toEqual([
          { value: 2, order: 0 },
          { value: 4, order: 1 },
          null,
          { value: 8, order: 3 },
        ]);
      } else {
        expect(result.error?.error).toBe('ToleratedFailureExceeded');
      }
      expect(result.segments.filter((s) => s.status === 'FAILED')).toHaveLength(1);
    },
  );

  it('an http callback node posts its payload to the URL', async () => {
    const received: unknown[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ method: req.method, body: JSON.parse(body) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const yaml = `name: hooked
nodes:
  begin: { type: start, next: tell }
  tell:
    type: callback
    target: { kind: http, url: "http://127.0.0.1:${port}/hook", method: PUT }
    payload: { taskId: $.task.id, x: $.input.x }
    next: done
  done: { type: end }
`;
      const result = await run(yaml, { x: 42 });
      expect(result.status).toBe('SUCCEEDED');
      expect(received).toEqual([{ method: 'PUT', body: { taskId: result.taskId, x: 42 } }]);
      expect(result.traces).toHaveLength(0);
      expect(eventOf(result, 'tell')).toMatchObject({ type: 'callback', status: 'SUCCEEDED' });
    } finally {
      server.close();
    }
  });

  it('redrives a failed task from where it failed, reusing what succeeded', async () => {
    const yaml = `name: redriven
nodes:
  begin: { type: start, next: [a, each] }
  a: { type: sync, operator: test/echo, input: { v: 1 }, next: b }
  b: { type: sync, operator: test/flaky, input: { failures: 1 }, next: done }
  each:
    type: parallel
    items: $.input.items
    node: { type: sync, operator: test/flaky, input: { failures: 1 } }
    next: done
  done: { type: end }
`;
    const compiled = compile(yaml);
    const failed = await engine.runTask(compiled, { items: [1, 2] });
    expect(failed.status).toBe('FAILED');
    const redriven = await (
      await engine.startTask(compiled, undefined, { taskId: failed.taskId, redrive: true })
    ).done;
    expect(redriven.status).toBe('SUCCEEDED');
    expect(redriven.taskId).toBe(failed.taskId);
    const event = (node: string) => redriven.events.find((e) => e.node === node);
    expect(event('a')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(event('b')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(event('done')?.status).toBe('SUCCEEDED');
    // `a` ran once: its output was reused, not recomputed.
    expect(redriven.traces.filter((t) => t.eventId.endsWith('_a'))).toHaveLength(1);
    expect(redriven.segments.every((s) => s.status === 'SUCCEEDED')).toBe(true);
    expect((redriven.output as { b: unknown }).b).toEqual({ attempt: 2 });
    const again = engine.startTask(compiled, undefined, { taskId: failed.taskId, redrive: true });
    await expect(again).rejects.toThrow(/SUCCEEDED|RUNNING/);
  });

  it('optimised and unoptimised plans give the same events, outputs and statuses', async () => {
    const yaml = `name: same
params: { mode: a }
nodes:
  begin: { type: start, next: r }
  r:
    type: router
    routes: [{ when: "params.mode == 'a'", next: x }]
    default: y
  x: { type: sync, operator: test/echo, input: { v: 1 }, next: [p, q] }
  y: { type: sync, operator: test/echo, input: { v: 2 }, next: [p, q] }
  p: { type: sync, operator: test/echo, input: { v: 3 }, next: z }
  q: { type: sync, operator: test/echo, input: { v: 4 }, next: z }
  z: { type: sync, operator: test/echo, input: { p: $.nodes.p.echo, q: $.nodes.q.echo }, next: done }
  done: { type: end, output: { z: $.nodes.z.echo } }
`;
    const optimized = await run(yaml, {}, true);
    const plain = await run(yaml, {}, false);
    expect(optimized.status).toBe(plain.status);
    expect(optimized.output).toEqual(plain.output);
    const shape = (r: TaskResult) => r.events.map((e) => `${e.node}:${e.status}:${e.attempts}`).sort();
    expect(shape(optimized)).toEqual(shape(plain));
  });
});

describe('fused chains of sync nodes', () => {
  const CHAIN = `name: chain
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { x: $.input.x }, next: b }
  b: { type: sync, operator: test/flaky, input: { failures: 1 }, next: c }
  c: { type: sync, operator: test/echo, input: { a: $.nodes.a.echo.x, b: $.nodes.b.attempt }, next: done }
  done: { type: end, output: $.nodes.c.echo }
`;

  it('run in one Task, with one event per node and one trace per attempt; a redrive runs only what failed', async () => {
    const compiled = compile(CHAIN);
    expect(compiled.plan!.root.states.get('a')).toMatchObject({ kind: 'task', nodes: ['a', 'b', 'c'] });
    const failed = await engine.runTask(compiled, { x: 5 });
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.error).toBe('Flaky');
    const result = await engine.runTask(compiled, undefined, { taskId: failed.taskId, redrive: true });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ a: 5, b: 2 });
    const attempts = Object.fromEntries(result.events.map((e) => [e.node, e.attempts]));
    expect(attempts).toMatchObject({ a: 1, b: 2, c: 1 });
    const tracesOf = (node: string) => result.traces.filter((t) => t.eventId.endsWith(`_${node}`));
    expect(tracesOf('a')).toHaveLength(1);
    expect(tracesOf('b').map((t) => `${t.attempt}:${t.status}`)).toEqual(['1:FAILED', '2:SUCCEEDED']);
    expect(tracesOf('c')).toHaveLength(1);
    // The same events, outputs and statuses as one Task per node.
    const plainCompiled = compile(CHAIN, {}, false);
    const plainFailed = await engine.runTask(plainCompiled, { x: 5 });
    const plain = await engine.runTask(plainCompiled, undefined, {
      taskId: plainFailed.taskId,
      redrive: true,
    });
    const shapeOf = (r: TaskResult) => r.events.map((e) => `${e.node}:${e.status}:${e.attempts}`).sort();
    expect(shapeOf(result)).toEqual(shapeOf(plain));
    expect(result.output).toEqual(plain.output);
    expect(result.stats.stateTransitions).toBeLessThan(plain.stats.stateTransitions);
  });

  it('a missing reference fails the chain with States.Runtime, as a Parameters path would', async () => {
    const broken = CHAIN.replace('failures: 1', 'failures: 0').replace(
      'b: $.nodes.b.attempt',
      'b: $.input.missing',
    );
    const result = await run(broken, { x: 1 });
    expect(result.status).toBe('FAILED');
    expect(result.error?.error).toBe('States.Runtime');
    expect(result.events.find((e) => e.node === 'c')).toBeUndefined();
  });
});

describe('cross-branch barriers (--plan fastest)', () => {
  // The N: d needs a and b, c only b. Nesting alone runs c after a too; a barrier lets c go after b.
  const N = `name: n-shape
nodes:
  begin: { type: start, next: [a, b] }
  a: { type: sync, operator: test/sleep, input: { ms: 200, value: a }, estimate: 0.4, next: d }
  b: { type: sync, operator: test/sleep, input: { ms: 150, value: b }, estimate: 0.3, next: [c, d] }
  c: { type: sync, operator: test/sleep, input: { ms: 200, value: $.nodes.b.value }, estimate: 0.4, next: join }
  d: { type: sync, operator: test/sleep, input: { ms: 50, value: $.nodes.a.value }, estimate: 0.1, next: join }
  join: { type: sync, operator: test/echo, input: { c: $.nodes.c.value, d: $.nodes.d.value }, next: done }
  done: { type: end, output: $.nodes.join.echo }
`;
  const timesOf = (result: TaskResult, node: string) => {
    const trace = result.traces.find((t) => t.eventId.endsWith(`_${node}`))!;
    return { start: Date.parse(trace.startedAt), end: Date.parse(trace.endedAt) };
  };

  it('waits across branches for exactly the producers, and records only business nodes', async () => {
    const compiled = compileWorkflowText(N, { operatorExists: (op) => engine.catalog.has(op) });
    const waits = [...compiled.plan!.forks.flatMap((f) => f.barriers)];
    expect(waits).toEqual([{ consumer: 'c', producers: ['b'] }]);
    const result = await engine.runTask(compiled, {});
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ c: 'b', d: 'a' });
    expect(result.events.map((e) => e.node).sort()).toEqual(['a', 'b', 'begin', 'c', 'd', 'done', 'join']);
    expect(result.events.every((e) => e.status === 'SUCCEEDED' && e.attempts === 1)).toBe(true);
    // Every dependency held: a node started only after each of its predecessors ended.
    const t = (n: string) => timesOf(result, n);
    expect(t('c').start).toBeGreaterThanOrEqual(t('b').end);
    expect(t('d').start).toBeGreaterThanOrEqual(Math.max(t('a').end, t('b').end));
    expect(t('join').start).toBeGreaterThanOrEqual(Math.max(t('c').end, t('d').end));
    // The wait and the release are two more states than the nesting alone enters.
    const cheapest = await engine.runTask(
      compileWorkflowText(N, { strategy: 'cheapest', operatorExists: (op) => engine.catalog.has(op) }),
      {},
    );
    expect(cheapest.output).toEqual(result.output);
    expect(result.stats.stateTransitions).toBe(cheapest.stats.stateTransitions + 2);
  });

  it('a barrier whose producer fails fails the task, and the redrive passes it', async () => {
    const flaky = N.replace(
      'b: { type: sync, operator: test/sleep, input: { ms: 150, value: b }',
      'b: { type: sync, operator: test/flaky, input: { failures: 1 }',
    ).replace('value: $.nodes.b.value', 'value: $.nodes.b.attempt');
    const compiled = compileWorkflowText(flaky, { operatorExists: (op) => engine.catalog.has(op) });
    expect(compiled.plan!.forks.flatMap((f) => f.barriers)).toEqual([{ consumer: 'c', producers: ['b'] }]);
    const failed = await engine.runTask(compiled, {});
    expect(failed.status).toBe('FAILED');
    expect(failed.events.find((e) => e.node === 'c')).toBeUndefined();
    // c's wait, in the branch b's failure stopped, is not left behind, and no record stays open.
    const waits = (engine as unknown as { barrierWaits: Map<string, { taskId: string }> }).barrierWaits;
    expect([...waits.values()].filter((w) => w.taskId === failed.taskId)).toEqual([]);
    expect(failed.events.filter((e) => e.status === 'RUNNING' || e.status === 'WAITING')).toEqual([]);
    const again = await engine.runTask(compiled, undefined, { taskId: failed.taskId, redrive: true });
    expect(again.status).toBe('SUCCEEDED');
    expect(again.events.find((e) => e.node === 'b')!.attempts).toBe(2);
  });
});

/** Work items handed out to outside workers, as `dag run` and `dag serve` hear of them. */
function watchWaiting(on: EmbeddedEngine = engine) {
  const seen: WorkItem[] = [];
  const wakers: (() => void)[] = [];
  on.emitWaiting = (item) => {
    seen.push(item);
    for (const wake of wakers.splice(0)) wake();
  };
  return {
    seen,
    async next(match: (item: WorkItem) => boolean): Promise<WorkItem> {
      for (;;) {
        const index = seen.findIndex(match);
        if (index >= 0) return seen.splice(index, 1)[0]!;
        await new Promise<void>((wake) => wakers.push(wake));
      }
    },
    stop: () => {
      on.emitWaiting = undefined;
    },
  };
}

/** Everything tracking holds about a task: a refused callback must leave all of it as it was. */
async function records(taskId: string) {
  const [task, events, segments, traces] = await Promise.all([
    engine.store.getTask(taskId),
    engine.store.getEvents(taskId),
    engine.store.getSegments(taskId),
    engine.store.getTraces(taskId),
  ]);
  return { task, events, segments, traces };
}

const REVIEWED = `name: reviewed
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: reviewed, timeout: 60, next: after }
  after: { type: sync, operator: test/echo, input: { review: $.nodes.review }, next: done }
  done: { type: end }
`;

describe('callbacks, timeouts and heartbeats of async work (dag-spec §7)', () => {
  it('answers each refused callback as §7 says, and changes nothing', async () => {
    const waiting = watchWaiting();
    try {
      const handle = await engine.startTask(compile(REVIEWED), {});
      const item = await waiting.next((i) => i.task.id === handle.taskId);
      const taskId = handle.taskId;
      const before = await records(taskId);
      expect(before.events.find((e) => e.node === 'review')?.status).toBe('WAITING');
      const refused: [unknown, number][] = [
        [{ id: item.id, status: 'DONE' }, 400],
        [{ id: item.id }, 400],
        [{ id: item.id, status: 'SUCCEEDED', extra: true }, 400],
        [[item.id, 'SUCCEEDED'], 400],
        [{ id: `${taskId}_nope`, status: 'SUCCEEDED' }, 404],
        [{ id: 'not_a_work_id_at_all', status: 'SUCCEEDED' }, 404],
        [{ id: item.id, status: 'SUCCEEDED', output: 'x'.repeat(256 * 1024) }, 413],
        [{ id: item.id, attempt: 2, status: 'SUCCEEDED' }, 409],
        [{ id: item.id, attempt: 2, status: 'HEARTBEAT' }, 409],
      ];
      for (const [body, status] of refused) {
        expect((await engine.callback(body)).status, JSON.stringify(body).slice(0, 80)).toBe(status);
        expect(await records(taskId)).toEqual(before);
      }
      expect((await engine.callback({ id: item.id, status: 'SUCCEEDED', output: { ok: 1 } })).status).toBe(
        202,
      );
      const result = await handle.done;
      expect(result.status).toBe('SUCCEEDED');
      const after = await records(taskId);
      for (const body of [
        { id: item.id, status: 'SUCCEEDED', output: { ok: 2 } },
        { id: item.id, attempt: 1, status: 'FAILED' },
        { id: item.id, status: 'HEARTBEAT' },
      ]) {
        expect((await engine.callback(body)).status).toBe(409);
        expect(await records(taskId)).toEqual(after);
      }
      expect(after.events.find((e) => e.node === 'review')).toMatchObject({
        status: 'SUCCEEDED',
        attempts: 1,
      });
      expect(after.traces.filter((t) => t.eventId.endsWith('_after'))).toHaveLength(1);
    } finally {
      waiting.stop();
    }
  });

  it.each([
    ['timeout: 1', 'States.Timeout'],
    ['timeout: 30, heartbeat: 1', 'States.HeartbeatTimeout'],
  ])(
    'with %s and no callback the attempt fails %s; a callback after it is 410 and changes nothing',
    async (limits, error) => {
      const yaml = `name: too-late
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: late, ${limits}, next: done }
  done: { type: end }
`;
      const result = await run(yaml);
      expect(result.status).toBe('FAILED');
      expect(result.error?.error).toBe(error);
      const review = eventOf(result, 'review');
      expect(review).toMatchObject({ status: 'FAILED', attempts: 1 });
      const before = await records(result.taskId);
      expect(before.events.find((e) => e.node === 'review')?.error?.error).toBe(error);
      for (const body of [
        { id: review.eventId, status: 'SUCCEEDED' },
        { id: review.eventId, attempt: 1, status: 'FAILED' },
        { id: review.eventId, status: 'HEARTBEAT' },
      ]) {
        expect((await engine.callback(body)).status).toBe(410);
        expect(await records(result.taskId)).toEqual(before);
      }
    },
  );

  it('retries an attempt that missed its heartbeat, and HEARTBEAT callbacks keep the next one alive', async () => {
    const yaml = `name: beating
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: beats, timeout: 30, heartbeat: 1, retry: { maxAttempts: 2 }, next: done }
  done: { type: end }
`;
    const waiting = watchWaiting();
    try {
      const handle = await engine.startTask(compile(yaml), {});
      const first = await waiting.next((i) => i.task.id === handle.taskId && i.attempt === 1);
      // Attempt 1 hears nothing: after its heartbeat timeout, attempt 2 is handed out.
      const second = await waiting.next((i) => i.task.id === handle.taskId && i.attempt === 2);
      expect(second.id).toBe(first.id);
      expect((await engine.callback({ id: first.id, attempt: 1, status: 'SUCCEEDED' })).status).toBe(409);
      // Heartbeats for twice the heartbeat interval: without them attempt 2 would time out as 1 did.
      for (let beat = 0; beat < 5; beat++) {
        await sleep(400);
        expect((await engine.callback({ id: second.id, attempt: 2, status: 'HEARTBEAT' })).status).toBe(202);
      }
      expect((await engine.callback({ id: second.id, status: 'SUCCEEDED', output: { n: 2 } })).status).toBe(
        202,
      );
      const result = await handle.done;
      expect(result.status).toBe('SUCCEEDED');
      expect(eventOf(result, 'review')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
      expect((result.output as { review: unknown }).review).toEqual({ n: 2 });
    } finally {
      waiting.stop();
    }
  });

  it('resolves a callback racing the timeout exactly once: the node succeeds or the callback is 410', async () => {
    const yaml = `name: racing
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: races, timeout: 1, next: after }
  after: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
    const compiled = compile(yaml);
    const waiting = watchWaiting();
    try {
      const offsets = [-8, -4, -2, -1, 0, 1, 2, 4, 8];
      const outcomes = await Promise.all(
        offsets.map(async (offset) => {
          const handle = await engine.startTask(compiled, {});
          const item = await waiting.next((i) => i.task.id === handle.taskId);
          const { deadline } = (await engine.store.getWork(item.id)) as { deadline: string };
          await sleep(Math.max(0, Date.parse(deadline) + offset - Date.now()));
          const answer = await engine.callback({ id: item.id, status: 'SUCCEEDED', output: { offset } });
          const again = await engine.callback({ id: item.id, status: 'SUCCEEDED' });
          return { answer: answer.status, again: again.status, result: await handle.done };
        }),
      );
      for (const { answer, again, result } of outcomes) {
        expect([202, 410]).toContain(answer);
        expect(again).not.toBe(202);
        const traces = result.traces.filter((t) => t.eventId.endsWith('_after'));
        if (answer === 202) {
          expect(result.status).toBe('SUCCEEDED');
          expect(eventOf(result, 'review')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
          expect(traces).toHaveLength(1);
        } else {
          expect(result.status).toBe('FAILED');
          expect(result.error?.error).toBe('States.Timeout');
          expect(eventOf(result, 'review')).toMatchObject({ status: 'FAILED', attempts: 1 });
          expect(traces).toHaveLength(0);
        }
      }
    } finally {
      waiting.stop();
    }
  });

  it('resumes the node once for 50 concurrent duplicate callbacks: one 202, 49 409, the next node runs once', async () => {
    const waiting = watchWaiting();
    try {
      const handle = await engine.startTask(compile(REVIEWED), {});
      const item = await waiting.next((i) => i.task.id === handle.taskId);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, n) =>
          engine.callback({ id: item.id, status: 'SUCCEEDED', output: { n } }),
        ),
      );
      expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
      expect(answers.filter((a) => a.status === 409)).toHaveLength(49);
      const result = await handle.done;
      expect(result.status).toBe('SUCCEEDED');
      const output = result.output as { review: { n: number }; after: { echo: { review: unknown } } };
      expect(output.after.echo.review).toEqual(output.review);
      expect(eventOf(result, 'after')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(result.traces.filter((t) => t.eventId.endsWith('_after'))).toHaveLength(1);
    } finally {
      waiting.stop();
    }
  });
});

describe('resuming a task that a stopped engine was running', () => {
  const RESUMABLE = `name: resumable
nodes:
  begin: { type: start, next: prep }
  prep: { type: sync, operator: test/echo, input: { v: 1 }, next: risky }
  risky: { type: sync, operator: test/flaky, input: { failures: 1 }, onError: fallback, next: fine }
  fine: { type: sync, operator: test/echo, next: fan }
  fallback: { type: sync, operator: test/echo, next: fan }
  fan:
    type: parallel
    items: $.input.items
    node: { type: async, via: queue, queue: resumable, timeout: 600, input: { item: $.item } }
    next: review
  review: { type: async, via: queue, queue: resumable, timeout: 600, next: done }
  done: { type: end, output: { fan: $.nodes.fan, review: $.nodes.review } }
`;

  it('reuses what succeeded, replays a caught failure, and waits again for work held outside', async () => {
    const compiled = compile(RESUMABLE);
    const first = await EmbeddedEngine.start({
      store: engine.store,
      operatorsDir: 'test/fixtures/operators',
    });
    const firstWaiting = watchWaiting(first);
    const handle = await first.startTask(compiled, { items: ['a', 'b', 'c'] });
    const taskId = handle.taskId;
    const items = await Promise.all(
      [0, 1, 2].map((order) => firstWaiting.next((i) => i.segment?.order === order)),
    );
    expect(
      (await first.callback({ id: items[0]!.id, attempt: 1, status: 'SUCCEEDED', output: 'A' })).status,
    ).toBe(202);
    await first.close();
    expect((await handle.done).status).toBe('RUNNING');
    expect((await engine.store.getTask(taskId))?.status).toBe('RUNNING');

    const second = await EmbeddedEngine.start({
      store: engine.store,
      operatorsDir: 'test/fixtures/operators',
      retryDelayMs: 0,
    });
    const secondWaiting = watchWaiting(second);
    try {
      const resumed = await second.startTask(compiled, undefined, { taskId, resume: true });
      expect(resumed.reparked).toEqual([
        { id: items[1]!.id, attempt: 1 },
        { id: items[2]!.id, attempt: 1 },
      ]);
      expect((await second.callback({ id: items[0]!.id, status: 'SUCCEEDED' })).status).toBe(409);
      expect(
        (await second.callback({ id: items[1]!.id, attempt: 1, status: 'SUCCEEDED', output: 'B' })).status,
      ).toBe(202);
      const put = await second.callback({ id: items[2]!.id, attempt: 1, status: 'SUCCEEDED', output: 'C' });
      expect(put.status).toBe(202);
      const review = await secondWaiting.next((i) => i.task.id === taskId);
      expect(review.node.name).toBe('review');
      expect((await second.callback({ id: review.id, status: 'SUCCEEDED', output: 'R' })).status).toBe(202);
      const result = await resumed.done;
      expect(result.status).toBe('SUCCEEDED');
      expect(result.output).toEqual({ fan: ['A', 'B', 'C'], review: 'R' });
      // The segments were not handed out again: the only item the second engine gave out is review's.
      expect(secondWaiting.seen).toEqual([]);
      const queued = second.queues.receive('resumable', { max: 10 });
      expect(queued.map((m) => (JSON.parse(m.body) as WorkItem).id)).toEqual([review.id]);
      const shape = result.events.map((e) => `${e.node}:${e.status}:${e.attempts}`).sort();
      expect(shape).toEqual(
        ['begin', 'prep', 'risky', 'fallback', 'fan', 'review', 'done']
          .map((node) => `${node}:${node === 'risky' ? 'FAILED' : 'SUCCEEDED'}:1`)
          .sort(),
      );
      expect(result.segments.map((s) => `${s.order}:${s.status}:${s.attempts}`)).toEqual([
        '0:SUCCEEDED:1',
        '1:SUCCEEDED:1',
        '2:SUCCEEDED:1',
      ]);
      // One trace per operator attempt that ran: prep, risky and fallback ran once, before the stop.
      expect(result.traces.map((t) => `${t.eventId.split('_')[1]}:${t.attempt}:${t.status}`).sort()).toEqual([
        'fallback:1:SUCCEEDED',
        'prep:1:SUCCEEDED',
        'risky:1:FAILED',
      ]);
    } finally {
      secondWaiting.stop();
      await second.close();
    }
  });

  it('times out at once, and retries, work whose deadline passed while no engine ran', async () => {
    const yaml = `name: overdue
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: overdue, timeout: 1, retry: { maxAttempts: 2 }, next: done }
  done: { type: end }
`;
    const compiled = compile(yaml);
    const first = await EmbeddedEngine.start({
      store: engine.store,
      operatorsDir: 'test/fixtures/operators',
    });
    const firstWaiting = watchWaiting(first);
    const handle = await first.startTask(compiled, {});
    const item = await firstWaiting.next(() => true);
    await first.close();
    const { deadline } = (await engine.store.getWork(item.id)) as { deadline: string };
    await sleep(Math.max(0, Date.parse(deadline) - Date.now() + 50));

    const second = await EmbeddedEngine.start({
      store: engine.store,
      operatorsDir: 'test/fixtures/operators',
      retryDelayMs: 0,
    });
    const secondWaiting = watchWaiting(second);
    try {
      const resumed = await second.startTask(compiled, undefined, { taskId: handle.taskId, resume: true });
      const retry = await secondWaiting.next(() => true);
      expect(retry).toMatchObject({ id: item.id, attempt: 2 });
      expect((await second.callback({ id: item.id, attempt: 1, status: 'SUCCEEDED' })).status).toBe(409);
      expect(
        (await second.callback({ id: item.id, attempt: 2, status: 'SUCCEEDED', output: 2 })).status,
      ).toBe(202);
      const result = await resumed.done;
      expect(result.status).toBe('SUCCEEDED');
      expect(eventOf(result, 'review')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    } finally {
      secondWaiting.stop();
      await second.close();
    }
  });

  it('refuses to resume a task that is not running', async () => {
    const result = await run(LINEAR, { x: 1 });
    await expect(
      engine.startTask(compile(LINEAR), undefined, { taskId: result.taskId, resume: true }),
    ).rejects.toThrow(/SUCCEEDED/);
  });
});
