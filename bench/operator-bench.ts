// What running an operator costs per call, three ways: `npx tsx bench/operator-bench.ts [calls]`.
//   in-process      the module imported into this process and called (the embedded engine before
//                   operators were isolated; still how a Lambda or the Batch job runs its operator)
//   worker thread   one worker thread with tsx registered, called over postMessage
//   child process   OperatorProcessPool, as the embedded engine runs operators now (one process here)
// Each: the first call (start-up, tsx, the module's import), then `calls` no-op calls one after another.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { OperatorProcessPool } from '../lib/runtime/operator-processes.js';
import { OperatorCatalog, type OperatorEvent } from '../lib/runtime/operators.js';
import { currentLoad, median, reportSummary } from './summary.js';

const CALLS = Number(process.argv[2] ?? 5000);
const OPERATORS_DIR = join(import.meta.dirname, 'operators');
const NOOP = join(OPERATORS_DIR, 'bench', 'noop.ts');
const event: OperatorEvent = {
  task: { id: 'bench', workflow: 'bench' },
  node: { name: 'n', eventId: 'bench_n', attempt: 1 },
  input: { x: 1 },
};

type Call = () => Promise<unknown>;

interface Measured {
  readonly way: string;
  readonly firstMs: number;
  readonly samplesUs: number[];
}

async function measure(way: string, start: () => Promise<Call>): Promise<Measured> {
  const t0 = performance.now();
  const call = await start();
  await call();
  const firstMs = performance.now() - t0;
  for (let i = 0; i < Math.min(500, CALLS); i++) await call();
  const samplesUs: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const started = performance.now();
    await call();
    samplesUs.push((performance.now() - started) * 1000);
  }
  console.log(`${way}: first call ${firstMs.toFixed(0)} ms, median ${median(samplesUs).toFixed(1)} µs`);
  return { way, firstMs, samplesUs };
}

// The smallest worker-thread harness that loads a TypeScript operator: what a thread-based pool costs.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { register } = await import(workerData.tsx);
  register();
  const module = await import(workerData.url);
  parentPort.on('message', async (request) =>
    parentPort.postMessage({ id: request.id, value: await module.handler(request.event) }));
  parentPort.postMessage({ ready: true });
})();
`;

async function startWorkerThread(): Promise<{ call: Call; stop: () => Promise<number> }> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    execArgv: [],
    workerData: { tsx: import.meta.resolve('tsx/esm/api'), url: pathToFileURL(NOOP).href },
  });
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  let id = 0;
  const call: Call = () =>
    new Promise((resolve) => {
      const mine = ++id;
      const onMessage = (reply: { id: number; value: unknown }) => {
        if (reply.id !== mine) return;
        worker.off('message', onMessage);
        resolve(reply.value);
      };
      worker.on('message', onMessage);
      worker.postMessage({ id: mine, event });
    });
  return { call, stop: () => worker.terminate() };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const loadBefore = currentLoad();
  const measured: Measured[] = [];

  const catalog = new OperatorCatalog(OPERATORS_DIR);
  measured.push(
    await measure('in-process', async () => {
      const handler = await catalog.load('bench/noop');
      return async () => handler(event);
    }),
  );

  let stopThread = async () => 0;
  measured.push(
    await measure('worker thread', async () => {
      const thread = await startWorkerThread();
      stopThread = thread.stop;
      return thread.call;
    }),
  );
  await stopThread();

  const pool = new OperatorProcessPool(1);
  try {
    measured.push(
      await measure('child process', async () => () => pool.run('bench/noop', NOOP, event, 10_000)),
    );
  } finally {
    await pool.close();
  }

  const rows = measured.map(({ way, firstMs, samplesUs }) => {
    const sorted = [...samplesUs].sort((a, b) => a - b);
    const mean = samplesUs.reduce((sum, us) => sum + us, 0) / samplesUs.length;
    return [
      way,
      `${firstMs.toFixed(0)} ms`,
      `${median(samplesUs).toFixed(1)} µs`,
      `${mean.toFixed(1)} µs`,
      `${percentile(sorted, 99).toFixed(1)} µs`,
    ];
  });
  reportSummary({
    name: 'operator',
    load: { before: loadBefore, after: currentLoad() },
    tables: [
      {
        title: `A no-op TypeScript operator (bench/operators/bench/noop.ts), ${CALLS} sequential calls after the first`,
        header: ['way', 'first call', 'median', 'mean', 'p99'],
        rows,
      },
    ],
    notes: [],
  });
}

await main();
