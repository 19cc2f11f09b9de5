// Parallel nodes at size (issue 6, item 5): a task whose producer returns N items and whose parallel
// node runs a no-op operator per item, inline and Distributed (items and results through the object
// store), on the embedded engine; then the map-store function alone on the file store (staging N
// items, collecting N results), with its time and heap.   npx tsx bench/map-bench.ts
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileWorkflowText } from '../lib/compiler/compile.js';
import { EmbeddedEngine } from '../lib/local/engine.js';
import { runMapStore } from '../lib/runtime/map-store.js';
import { payloadSettings } from '../lib/runtime/payloads.js';
import { FileObjectStore, OBJECT_ROOT_ENV, outputUri } from '../lib/storage/object-store.js';
import { currentLoad, median, reportSummary } from './summary.js';

const ITEM_PAD = 200;

function workflow(mode: 'inline' | 'distributed') {
  return `name: map-bench-${mode}
nodes:
  begin: { type: start, next: gen }
  gen:
    type: script
    language: javascript
    source: "return { items: Array.from({ length: ctx.input.n }, (_, i) => ({ i, pad: 'x'.repeat(${ITEM_PAD}) })) };"
    next: each
  each:
    type: parallel
    mode: ${mode}
    items: $.nodes.gen.items
    node: { type: sync, operator: bench/noop, input: { i: $.item.i } }
    next: done
  done: { type: end }
`;
}

const load = { before: currentLoad() };
const dir = await mkdtemp(join(tmpdir(), 'map-bench-'));
const root = pathToFileURL(dir).href;
process.env[OBJECT_ROOT_ENV] = root;
const engine = await EmbeddedEngine.start({ operatorsDir: 'bench/operators', retryDelayMs: 0 });
const runs: string[][] = [];
const micro: string[][] = [];
try {
  for (const n of [100, 500, 2000, 5000]) {
    // Items of ~220 bytes: up to ~900 of them stay under the 200 KiB offload threshold.
    for (const mode of ['inline', 'distributed'] as const) {
      if (mode === 'inline' && n > 900) {
        runs.push([`${n}`, mode, 'fails: items in an offloaded output', '', '']);
        continue;
      }
      const compiled = compileWorkflowText(workflow(mode));
      const t0 = performance.now();
      const result = await engine.runTask(compiled, { n });
      const seconds = (performance.now() - t0) / 1000;
      if (result.status !== 'SUCCEEDED') throw new Error(`${mode} ${n}: ${JSON.stringify(result.error)}`);
      runs.push([
        `${n}`,
        mode,
        `${seconds.toFixed(2)} s`,
        `${((seconds * 1000) / n).toFixed(2)} ms`,
        `${result.stats.stateTransitions}`,
      ]);
    }
  }

  // The map-store function alone: stage N items held in an offloaded output, collect N results.
  const store = new FileObjectStore();
  const settings = payloadSettings({ root: () => root });
  for (const n of [1_000, 10_000, 100_000]) {
    const taskId = `bench-${n}`;
    const items = Array.from({ length: n }, (_, i) => ({ i, pad: 'x'.repeat(ITEM_PAD) }));
    const source = outputUri(root, taskId, 'gen', 'output-1.json');
    await store.put(source, JSON.stringify({ items }));
    const stageMs: number[] = [];
    const collectMs: number[] = [];
    let heap = 0;
    const manifestKey = `map-results/bench/${n}/manifest.json`;
    const resultsKey = `map-results/bench/${n}/SUCCEEDED_0.json`;
    // Results in reverse order, as a ResultWriter may give them.
    const results = items.map((item, order) => ({ order, output: { v: item.i } })).reverse();
    await store.put(outputUri(root, resultsKey), JSON.stringify(results));
    await store.put(
      outputUri(root, manifestKey),
      JSON.stringify({ ResultFiles: { SUCCEEDED: [{ Key: resultsKey }], FAILED: [], PENDING: [] } }),
    );
    for (let round = 0; round < 5; round++) {
      const before = process.memoryUsage().heapUsed;
      let t0 = performance.now();
      await runMapStore(
        {
          action: 'stage',
          task: { id: taskId, workflow: 'bench' },
          node: 'each',
          items: '$.nodes.gen.items',
          nodes: { gen: { $payload: source } },
        },
        settings,
      );
      stageMs.push(performance.now() - t0);
      t0 = performance.now();
      await runMapStore(
        {
          action: 'collect',
          task: { id: taskId, workflow: 'bench' },
          node: 'each',
          toleratedFailurePercentage: 0,
          written: { Bucket: 'dag-objects', Key: manifestKey },
        },
        settings,
      );
      collectMs.push(performance.now() - t0);
      heap = Math.max(heap, process.memoryUsage().heapUsed - before);
    }
    micro.push([
      `${n}`,
      `${(Buffer.byteLength(JSON.stringify(items)) / 2 ** 20).toFixed(1)} MiB`,
      `${median(stageMs).toFixed(0)} ms`,
      `${median(collectMs).toFixed(0)} ms`,
      `${(heap / 2 ** 20).toFixed(0)} MiB`,
    ]);
  }
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}

reportSummary({
  name: 'map',
  load: { ...load, after: currentLoad() },
  tables: [
    {
      title: 'A parallel node of N no-op items on the embedded engine (one run each)',
      header: ['items', 'mode', 'task', 'per item', 'transitions'],
      rows: runs,
    },
    {
      title: 'The map-store function alone, file store (median of 5)',
      header: ['items', 'items JSON', 'stage', 'collect', 'heap growth (max)'],
      rows: micro,
    },
  ],
  notes: [
    'Distributed: the items stage, the Map (its ItemReader and ResultWriter emulated, not counted) and the collector.',
  ],
});
