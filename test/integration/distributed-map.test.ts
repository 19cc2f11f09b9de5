// Distributed Maps whose items and results pass the 256 KiB a state holds, end to end on the embedded
// engine (aws-local-stepfunctions, dynalite, the file object store): the items stage writes the
// producer's (offloaded) array as the ItemReader's object, the emulated ResultWriter writes the
// results as Step Functions lays them out, and the collector gives them back in item order.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import type { TaskResult } from '../../lib/local/engine.js';
import { isPayloadReference, type PayloadReference } from '../../lib/runtime/payloads.js';
import { outputUri } from '../../lib/storage/object-store.js';
import { validateAsl } from '../support/asl.js';
import { tempRootEngine } from '../support/temp-root-engine.js';

const local = tempRootEngine('distributed-map-test-');

const KiB = 1024;

/** gen -> each (one script per item) -> sum; `each` fails items whose `i` is a multiple of `failEvery`. */
function workflow(mode: 'inline' | 'distributed', extra = '') {
  return `name: big-map-${mode}
nodes:
  begin: { type: start, next: gen }
  gen:
    type: script
    language: javascript
    source: "return { items: Array.from({ length: ctx.input.n }, (_, i) => ({ i, pad: 'x'.repeat(ctx.input.pad) })) };"
    next: each
  each:
    type: parallel
    mode: ${mode}
    items: $.nodes.gen.items
    node:
      type: script
      language: javascript
      source: "if (ctx.input.failEvery && ctx.item.i % ctx.input.failEvery === 0) throw new Error('item ' + ctx.item.i + ' is bad'); return { v: ctx.item.i * 2, order: ctx.order, pad: ctx.item.pad };"${extra}
    next: sum
  sum:
    type: script
    language: javascript
    source: "const done = ctx.nodes.each.filter((x) => x !== null); return { total: done.reduce((a, x) => a + x.v, 0), n: ctx.nodes.each.length, nulls: ctx.nodes.each.length - done.length, ordered: done.every((x) => x.order === ctx.nodes.each.indexOf(x)) };"
    next: done
  done: { type: end, output: $.nodes.sum }
`;
}

async function run(yaml: string, input: unknown): Promise<TaskResult> {
  const compiled = compileWorkflowText(yaml);
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const check = validateAsl(compiled.asl!);
  expect(check.isValid, check.errors).toBe(true);
  return local.engine.runTask(compiled, input);
}

async function readJson(uri: string): Promise<unknown> {
  return JSON.parse(await readFile(fileURLToPath(uri), 'utf8'));
}

describe('Distributed Map through the object store', () => {
  it('runs items and results over 256 KiB: staged, written, collected in order', async () => {
    const n = 300;
    const result = await run(workflow('distributed'), { n, pad: KiB });
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    expect(result.output).toEqual({ total: n * (n - 1), n, nulls: 0, ordered: true });

    const task = await local.engine.store.getTask(result.taskId);
    const nodes = task?.output as unknown;
    expect(nodes).toEqual(result.output);
    // The producer's output and the collected results are both objects, each over 256 KiB.
    const gen = (await local.engine.store.getEvents(result.taskId)).find((e) => e.node === 'gen')?.output;
    expect(isPayloadReference(gen)).toBe(true);
    expect((gen as PayloadReference).bytes).toBeGreaterThan(256 * KiB);
    const items = await readJson(outputUri(local.root, result.taskId, 'each', 'items.json'));
    expect(items).toHaveLength(n);
    expect(Buffer.byteLength(JSON.stringify(items))).toBeGreaterThan(256 * KiB);
    const collected = (await readJson(outputUri(local.root, result.taskId, 'each', 'output-1.json'))) as {
      order: number;
    }[];
    expect(collected.map((x) => x.order)).toEqual([...Array(n).keys()]);

    const events = await local.engine.store.getEvents(result.taskId);
    expect(events.find((e) => e.node === 'each')).toMatchObject({ type: 'parallel', status: 'SUCCEEDED' });
    const segments = await local.engine.store.getSegments(result.taskId);
    expect(segments).toHaveLength(n);
    expect(segments.every((s) => s.status === 'SUCCEEDED')).toBe(true);
  });

  it('behaves as the inline Map does on small items, at two transitions more', async () => {
    const input = { n: 7, pad: 3 };
    const inline = await run(workflow('inline'), input);
    const distributed = await run(workflow('distributed'), input);
    expect(distributed.status).toBe('SUCCEEDED');
    expect(distributed.output).toEqual(inline.output);
    const summary = (r: TaskResult) => r.events.map((e) => [e.node, e.type, e.status]).sort();
    expect(summary(distributed)).toEqual(summary(inline));
    const outputs = async (r: TaskResult) =>
      (await local.engine.store.getSegments(r.taskId)).map((s) => [s.order, s.status, s.output]);
    expect(await outputs(distributed)).toEqual(await outputs(inline));
    // The items stage and the collector; the emulated ItemReader and ResultWriter are no transitions.
    expect(distributed.stats.stateTransitions - inline.stats.stateTransitions).toBe(2);
  });

  it('an inline Map cannot read items inside an offloaded output; the Distributed one can', async () => {
    const input = { n: 300, pad: KiB };
    const inline = await run(workflow('inline'), input);
    expect(inline.status).toBe('FAILED');
    // The failure says why the path found nothing, and what to do, on the task and on the node.
    expect(inline.error).toMatchObject({
      error: 'States.Runtime',
      cause: expect.stringContaining("'$.nodes.gen.items'"),
    });
    expect(inline.error?.cause).toContain("The output of 'gen' is over 200 KiB");
    expect(inline.error?.cause).toContain('set `mode: distributed`');
    const events = await local.engine.store.getEvents(inline.taskId);
    expect(events.find((e) => e.node === 'each')?.error?.cause).toContain('set `mode: distributed`');
    const distributed = await run(workflow('distributed'), input);
    expect(distributed.status).toBe('SUCCEEDED');
  });

  it('reads items from the task input by ItemsPath, with no stage, and checks the count', async () => {
    const yaml = `name: input-items
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    mode: distributed
    items: $.input.files
    node: { type: script, language: jsonata, source: '{ "name": item, "at": order }' }
    next: done
  done: { type: end, output: $.nodes.each }
`;
    const compiled = compileWorkflowText(yaml);
    expect(compiled.asl?.States.each_items).toBeUndefined();
    const result = await run(yaml, { files: ['a', 'b', 'c'] });
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    expect(result.output).toEqual([
      { name: 'a', at: 0 },
      { name: 'b', at: 1 },
      { name: 'c', at: 2 },
    ]);
  });

  it('tolerates failed items up to the share, as null, and fails the node beyond it', async () => {
    const tolerant = (percentage: number) =>
      workflow('distributed').replace(
        '    mode: distributed',
        `    mode: distributed\n    toleratedFailurePercentage: ${percentage}`,
      );
    const input = { n: 12, pad: 3, failEvery: 4 }; // items 0, 4, 8 fail: 25%
    const within = await run(tolerant(30), input);
    expect(within.status, JSON.stringify(within.error)).toBe('SUCCEEDED');
    expect(within.output).toMatchObject({ n: 12, nulls: 3, total: 2 * (66 - 12) });
    const segments = await local.engine.store.getSegments(within.taskId);
    expect(segments.filter((s) => s.status === 'FAILED').map((s) => s.order)).toEqual([0, 4, 8]);

    const beyond = await run(tolerant(20), input);
    expect(beyond.status).toBe('FAILED');
    expect(beyond.error?.error).toBe('ToleratedFailureExceeded');
    const stored = await local.engine.store.getEvents(beyond.taskId);
    expect(stored.find((e) => e.node === 'each')).toMatchObject({
      status: 'FAILED',
      error: { error: 'ToleratedFailureExceeded' },
    });
  });

  it('without tolerance fails with the first failed item’s own error, and onError takes it', async () => {
    const input = { n: 6, pad: 3, failEvery: 4 }; // items 0 and 4 fail
    const strict = await run(workflow('distributed'), input);
    expect(strict.status).toBe('FAILED');
    expect(strict.error?.cause).toContain('Item 0');
    expect(strict.error?.cause).toContain('item 0 is bad');

    const rescued = workflow('distributed')
      .replace(
        '    next: sum\n  sum:',
        '    onError: rescue\n    next: sum\n  rescue: { type: end, output: $.errors.each }\n  sum:',
      )
      .replace(
        '  done: { type: end, output: $.nodes.sum }\n',
        '  done: { type: end, output: $.nodes.sum }\n',
      );
    const result = await run(rescued, input);
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({
      error: strict.error?.error,
      cause: expect.stringContaining('Item 0'),
    });
    expect(JSON.stringify(result.output)).not.toContain('dagEmulated');
  });

  it('a redrive reruns only the failed items, and the node succeeds', async () => {
    const yaml = `name: redriven
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    mode: distributed
    items: $.input.items
    node: { type: sync, operator: test/flaky, input: { failures: $.item } }
    next: done
  done: { type: end, output: $.nodes.each }
`;
    const compiled = compileWorkflowText(yaml, { operatorExists: (op) => local.engine.catalog.has(op) });
    // Items 1 and 3 fail their first attempt; 0 and 2 never fail.
    const failed = await local.engine.runTask(compiled, { items: [0, 1, 0, 1] });
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.error).toBe('Flaky');
    const again = await local.engine.runTask(compiled, undefined, { taskId: failed.taskId, redrive: true });
    expect(again.status, JSON.stringify(again.error)).toBe('SUCCEEDED');
    expect(again.output).toEqual([{ attempt: 1 }, { attempt: 2 }, { attempt: 1 }, { attempt: 2 }]);
    const segments = await local.engine.store.getSegments(again.taskId);
    expect(segments.map((s) => [s.order, s.status, s.attempts])).toEqual([
      [0, 'SUCCEEDED', 1],
      [1, 'SUCCEEDED', 2],
      [2, 'SUCCEEDED', 1],
      [3, 'SUCCEEDED', 2],
    ]);
    expect((await local.engine.store.getEvents(again.taskId)).find((e) => e.node === 'each')).toMatchObject({
      status: 'SUCCEEDED',
    });
  });
});
