// Large payloads end to end on the embedded engine (real aws-local-stepfunctions, dynalite and the file
// object store): outputs over the threshold go to the object store, the context and the records hold
// references, and the next operator, script or worker receives the value.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import type { TaskResult, WorkItem } from '../../lib/local/engine.js';
import { PAYLOAD_THRESHOLD_BYTES, type PayloadReference, payloadUri } from '../../lib/runtime/payloads.js';
import { outputUri } from '../../lib/storage/object-store.js';
import { bigOutput } from '../fixtures/operators/test/big.js';
import { digestOf } from '../fixtures/operators/test/digest.js';
import { tempRootEngine } from '../support/temp-root-engine.js';

const local = tempRootEngine('payloads-test-');

async function run(yaml: string, input: unknown = {}): Promise<TaskResult> {
  const compiled = compileWorkflowText(yaml, { operatorExists: (op) => local.engine.catalog.has(op) });
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return local.engine.runTask(compiled, input);
}

type Nodes = Record<string, unknown>;

async function storedEventOutput(taskId: string, node: string): Promise<unknown> {
  const event = (await local.engine.store.getEvents(taskId)).find((e) => e.node === node);
  expect(event, `event of ${node}`).toBeDefined();
  return event!.output;
}

async function readJson(uri: string): Promise<unknown> {
  return JSON.parse(await readFile(fileURLToPath(uri), 'utf8'));
}

const MiB = 1024 * 1024;

const PIPE = `name: big-pipe
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/big, input: { bytes: $.input.bytes, seed: $.input.seed }, next: b }
  b: { type: sync, operator: test/digest, input: $.nodes.a, next: done }
  done: { type: end }
`;

describe('large payloads', () => {
  it('a 5 MiB output passes end to end: stored as an object, referenced in context and records', async () => {
    const bytes = 5 * MiB;
    const result = await run(PIPE, { bytes, seed: 'five' });
    expect(result.status).toBe('SUCCEEDED');
    const output = result.output as Nodes;
    const uri = payloadUri(local.root, { taskId: result.taskId, node: 'a', attempt: 1 });
    const reference: PayloadReference = { $payload: uri, bytes };
    expect(output.a).toEqual(reference);
    // b received the exact value, not the reference.
    expect(output.b).toEqual(digestOf(bigOutput(bytes, 'five')));
    expect(await storedEventOutput(result.taskId, 'a')).toEqual(reference);
    expect((await local.engine.store.getTask(result.taskId))?.output).toEqual(output);
    expect(await readJson(uri)).toEqual(bigOutput(bytes, 'five'));
    // What `dag run --json` prints stays small.
    expect(JSON.stringify(result).length).toBeLessThan(20_000);
  });

  it('an output of exactly the threshold stays inline; one byte more is offloaded', async () => {
    const inline = await run(PIPE, { bytes: PAYLOAD_THRESHOLD_BYTES, seed: 'edge' });
    expect(inline.status).toBe('SUCCEEDED');
    const value = bigOutput(PAYLOAD_THRESHOLD_BYTES, 'edge');
    expect((inline.output as Nodes).a).toEqual(value);
    expect(await storedEventOutput(inline.taskId, 'a')).toEqual(value);
    expect((inline.output as Nodes).b).toEqual(digestOf(value));
    await expect(readdir(path.join(local.dir, inline.taskId))).rejects.toMatchObject({ code: 'ENOENT' });

    const over = await run(PIPE, { bytes: PAYLOAD_THRESHOLD_BYTES + 1, seed: 'edge' });
    expect((over.output as Nodes).a).toEqual({
      $payload: payloadUri(local.root, { taskId: over.taskId, node: 'a', attempt: 1 }),
      bytes: PAYLOAD_THRESHOLD_BYTES + 1,
    });
    expect((over.output as Nodes).b).toEqual(digestOf(bigOutput(PAYLOAD_THRESHOLD_BYTES + 1, 'edge')));
  });

  it('offloads parallel items one by one; a merge-like operator receives the array of values', async () => {
    const yaml = `name: big-parallel
nodes:
  begin: { type: start, next: fan }
  fan:
    type: parallel
    items: $.input.items
    node: { type: sync, operator: test/big, input: { bytes: $.item.bytes, seed: $.item.seed } }
    next: merge
  merge: { type: sync, operator: test/digest, input: { parts: $.nodes.fan }, next: done }
  done: { type: end }
`;
    const items = [
      { bytes: 300_000, seed: 'p0' },
      { bytes: 1_000, seed: 'p1' },
      { bytes: 400_000, seed: 'p2' },
    ];
    const result = await run(yaml, { items });
    expect(result.status).toBe('SUCCEEDED');
    const values = items.map((item) => bigOutput(item.bytes, item.seed));
    const at = (order: number) =>
      payloadUri(local.root, { taskId: result.taskId, node: 'fan', order, attempt: 1 });
    const fan = (result.output as Nodes).fan;
    expect(fan).toEqual([
      { $payload: at(0), bytes: 300_000 },
      values[1],
      { $payload: at(2), bytes: 400_000 },
    ]);
    expect((result.output as Nodes).merge).toEqual(digestOf({ parts: values }));
    const segments = await local.engine.store.getSegments(result.taskId);
    expect(segments.map((s) => s.output)).toEqual(fan);
    expect(await readJson(at(2))).toEqual(values[2]);
  });

  it('a script receives an offloaded value, and its own large output is offloaded too', async () => {
    const yaml = `name: big-script
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/big, input: { bytes: 300000, seed: s }, next: measure }
  measure:
    type: script
    language: javascript
    source: "return { chars: ctx.nodes.a.data.length, copy: ctx.nodes.a.data + ctx.nodes.a.data };"
    next: check
  check: { type: sync, operator: test/digest, input: $.nodes.measure, next: done }
  done: { type: end }
`;
    const result = await run(yaml);
    expect(result.status).toBe('SUCCEEDED');
    const data = bigOutput(300_000, 's').data;
    const output = result.output as Nodes;
    expect(output.measure).toMatchObject({
      $payload: payloadUri(local.root, { taskId: result.taskId, node: 'measure', attempt: 1 }),
    });
    expect(output.check).toEqual(digestOf({ chars: data.length, copy: data + data }));
  });

  it('async work: items carry references, the worker resolves them and offloads its output', async () => {
    const yaml = `name: big-async
nodes:
  begin: { type: start, next: gen }
  gen: { type: async, via: lambda, operator: test/big, input: { bytes: 300000, seed: w }, next: sum }
  sum: { type: async, via: batch, operator: test/digest, input: $.nodes.gen, next: review }
  review: { type: async, via: queue, queue: review, input: { big: $.nodes.gen }, timeout: 60, next: done }
  done: { type: end }
`;
    const waiting = new Promise<WorkItem>((resolve) => {
      local.engine.emitWaiting = resolve;
    });
    const task = run(yaml);
    const item = await waiting;
    local.engine.emitWaiting = undefined;
    const taskId = item.task.id;
    const gen = { $payload: payloadUri(local.root, { taskId, node: 'gen', attempt: 1 }), bytes: 300_000 };
    // External work gets the reference as the context holds it (the worker resolves it).
    expect(item.input).toEqual({ big: gen });
    expect(
      (await local.engine.callback({ id: item.id, status: 'SUCCEEDED', output: { ok: true } })).status,
    ).toBe(202);
    const result = await task;
    expect(result.status).toBe('SUCCEEDED');
    const output = result.output as Nodes;
    expect(output.gen).toEqual(gen);
    expect(await storedEventOutput(taskId, 'gen')).toEqual(gen);
    expect(output.sum).toEqual(digestOf(bigOutput(300_000, 'w')));
  });

  it('resolves a reference in the task input written by someone else (bytes omitted)', async () => {
    const uri = outputUri(local.root, 'uploaded', 'result.json');
    await mkdir(path.join(local.dir, 'uploaded'), { recursive: true });
    await writeFile(path.join(local.dir, 'uploaded', 'result.json'), JSON.stringify({ n: [1, 2, 3] }));
    const yaml = `name: ref-input
nodes:
  begin: { type: start, next: b }
  b: { type: sync, operator: test/digest, input: { got: $.input.big }, next: done }
  done: { type: end }
`;
    const result = await run(yaml, { big: { $payload: uri } });
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as Nodes).b).toEqual(digestOf({ got: { n: [1, 2, 3] } }));
  });

  describe('errors and limits', () => {
    const CONSUMER = `name: consumer
nodes:
  begin: { type: start, next: b }
  b: { type: sync, operator: test/digest, input: $.input, next: done }
  done: { type: end }
`;

    it('a reference whose object is missing fails the attempt with PayloadNotFoundError', async () => {
      const uri = outputUri(local.root, 'gone', 'a', 'output-1.json');
      const result = await run(CONSUMER, { list: [1, { $payload: uri, bytes: 10 }] });
      expect(result.status).toBe('FAILED');
      expect(result.error?.error).toBe('PayloadNotFoundError');
      expect(result.error?.cause).toContain(uri);
      expect(result.error?.cause).toContain("node 'b'");
      expect(result.traces.map((t) => [t.status, t.error?.error])).toEqual([
        ['FAILED', 'PayloadNotFoundError'],
      ]);
    });

    it('a reference outside the object local.root is refused with PayloadOutsideRootError', async () => {
      const outside = pathToFileURL(path.resolve('package.json')).href;
      const result = await run(CONSUMER, { big: { $payload: outside } });
      expect(result.status).toBe('FAILED');
      expect(result.error?.error).toBe('PayloadOutsideRootError');
      expect(result.error?.cause).toContain(outside);
    });

    it('a template reading a field inside an offloaded output fails the task with States.Runtime', async () => {
      const yaml = `name: field-of-big
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/big, input: { bytes: 300000 }, next: b }
  b: { type: sync, operator: test/digest, input: { data: $.nodes.a.data }, next: done }
  done: { type: end }
`;
      const result = await run(yaml);
      expect(result.status).toBe('FAILED');
      expect(result.error?.error).toBe('States.Runtime');
    });

    it('a router condition on a field inside an offloaded output is false; exists($payload) tells', async () => {
      const yaml = `name: route-on-big
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/big, input: { bytes: $.input.bytes }, next: r }
  r:
    type: router
    routes:
      - { when: "exists(nodes.a.data)", next: inline }
      - { when: "exists(nodes.a['$payload'])", next: offloaded }
    default: other
  inline: { type: sync, operator: test/echo, input: { route: inline }, next: done }
  offloaded: { type: sync, operator: test/echo, input: { route: offloaded }, next: done }
  other: { type: sync, operator: test/echo, input: { route: other }, next: done }
  done: { type: end }
`;
      const small = await run(yaml, { bytes: 100 });
      expect(Object.keys(small.output as Nodes)).toContain('inline');
      const big = await run(yaml, { bytes: 300_000 });
      expect(big.status).toBe('SUCCEEDED');
      expect(Object.keys(big.output as Nodes)).toContain('offloaded');
    });
  });
});
