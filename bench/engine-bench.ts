// Tasks per second of one 10-node workflow of no-op operators: `npx tsx bench/engine-bench.ts [--scale 1]`.
// The same compiled ASL runs four ways, so the differences say where the engine's time goes:
//   tracked    the embedded engine as `dag run` uses it (tracking in dynalite)
//   untracked  the same engine with a TrackingStore that keeps nothing (bench/null-store.ts)
//   raw+log    aws-local-stepfunctions alone with plain no-op handlers, its event log read to the end
//   raw        aws-local-stepfunctions alone with plain no-op handlers
// Each runs a warm-up, then a fixed number of tasks one after another and then 8 at a time.
// A last pass times the tracked engine's store calls to show what share of a task they take.
import '../lib/local/polyfill.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { StateMachine } from 'aws-local-stepfunctions';
import { type CompileResult, compileWorkflowText } from '../lib/compiler/compile.js';
import { startLocalDynamo } from '../lib/local/dynalite.js';
import { EmbeddedEngine } from '../lib/local/engine.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../lib/tracking/dynamo-store.js';
import type { TrackingStore } from '../lib/tracking/store.js';
import { noopChainWorkflow } from './noop-chain.js';
import { NullTrackingStore } from './null-store.js';
import { currentLoad, reportSummary } from './summary.js';

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' } } });
const SCALE = Number(values.scale);
const CONCURRENCY = 8;
const OPERATORS_DIR = join(import.meta.dirname, 'operators');

/** Fixed task counts per mode (times --scale), sized so that the whole run stays near a minute here. */
const PLAN = {
  tracked: { warmup: 5, tasks: 50 },
  untracked: { warmup: 50, tasks: 1000 },
  'raw+log': { warmup: 200, tasks: 4000 },
  raw: { warmup: 200, tasks: 4000 },
} as const;
type Mode = keyof typeof PLAN;

const { text: WORKFLOW, nodes: NODES } = noopChainWorkflow('bench-noop', 10);

interface Measured {
  readonly mode: Mode;
  readonly concurrency: number;
  readonly tasks: number;
  readonly ms: number;
  /** CPU time of this process (engine, dynalite and all), user + system. */
  readonly cpuMs: number;
}

/** Runs `count` tasks, `concurrency` at a time, and returns the wall time in ms. */
async function timeTasks(count: number, concurrency: number, runOne: () => Promise<void>): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await runOne();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return performance.now() - t0;
}

async function measureMode(mode: Mode, runOne: () => Promise<void>): Promise<Measured[]> {
  const warmup = Math.ceil(PLAN[mode].warmup * SCALE);
  const tasks = Math.ceil(PLAN[mode].tasks * SCALE);
  await timeTasks(warmup, CONCURRENCY, runOne);
  const measured: Measured[] = [];
  for (const concurrency of [1, CONCURRENCY]) {
    const cpu = process.cpuUsage();
    const ms = await timeTasks(tasks, concurrency, runOne);
    const { user, system } = process.cpuUsage(cpu);
    measured.push({ mode, concurrency, tasks, ms, cpuMs: (user + system) / 1000 });
    console.log(
      `${mode.padEnd(9)} x${concurrency}: ${tasks} tasks in ${ms.toFixed(0)} ms (${perSecond(tasks, ms)} tasks/s)`,
    );
  }
  return measured;
}

function engineRunner(
  engine: EmbeddedEngine,
  compiled: CompileResult,
  expectedTraces: number,
): () => Promise<void> {
  return async () => {
    const result = await engine.runTask(compiled, { n: 1 });
    if (result.status !== 'SUCCEEDED')
      throw new Error(`bench task ${result.taskId} ended ${result.status}: ${JSON.stringify(result.error)}`);
    if (result.traces.length !== expectedTraces)
      throw new Error(`expected ${expectedTraces} traces, got ${result.traces.length}`);
  };
}

/** aws-local-stepfunctions on the engine's ASL, with the same task input and context placeholders. */
function rawRunner(compiled: CompileResult, drainLog: boolean): () => Promise<void> {
  const asl = compiled.asl!;
  const machine = new StateMachine(asl as never, { validationOptions: { checkArn: true, checkPaths: true } });
  const noop = async () => null;
  const handlers = Object.fromEntries(
    Object.entries(asl.States)
      .filter(([, state]) => state.Type === 'Task')
      .map(([name]) => [name, noop]),
  );
  // The chain of sync nodes is fused into one Task (the `fuse-sync-chains` pass); any count will do.
  if (Object.keys(handlers).length === 0) throw new Error('expected Task states in the ASL');
  const workflow = compiled.plan!.dag.workflow.name;
  let id = 0;
  return async () => {
    const input = {
      task: { id: `raw-${++id}`, workflow },
      input: { n: 1 },
      params: {},
      nodes: {},
      errors: {},
    };
    const execution = machine.run(input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
      context: { Task: { Token: 'placeholder' }, State: { RetryCount: 0 } },
    });
    if (drainLog) for await (const _event of execution.eventLogs);
    await execution.result;
  };
}

/** Forwards to a store and adds up the time spent in each method (meaningful for sequential runs). */
function timedStore(store: TrackingStore, totals: Map<string, { calls: number; ms: number }>): TrackingStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await value.apply(target, args);
        } finally {
          const total = totals.get(String(property)) ?? { calls: 0, ms: 0 };
          total.calls++;
          total.ms += performance.now() - t0;
          totals.set(String(property), total);
        }
      };
    },
  });
}

/** Where a tracked task's time goes: sequential tasks with every store call timed. */
async function storeShare(
  compiled: CompileResult,
): Promise<{ tasks: number; ms: number; totals: Map<string, { calls: number; ms: number }> }> {
  const dynamo = await startLocalDynamo();
  const totals = new Map<string, { calls: number; ms: number }>();
  const store = new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(dynamo.client),
    tableNames: dynamo.tableNames,
  });
  const engine = await EmbeddedEngine.start({
    operatorsDir: OPERATORS_DIR,
    retryDelayMs: 0,
    store: timedStore(store, totals),
  });
  try {
    const runOne = engineRunner(engine, compiled, NODES.length);
    await timeTasks(Math.ceil(PLAN.tracked.warmup * SCALE), 1, runOne);
    totals.clear();
    const tasks = Math.ceil(25 * SCALE);
    const ms = await timeTasks(tasks, 1, runOne);
    return { tasks, ms, totals };
  } finally {
    await engine.close();
    await dynamo.close();
  }
}

function perSecond(tasks: number, ms: number): string {
  return ((tasks / ms) * 1000).toFixed(0);
}

async function main(): Promise<void> {
  const loadBefore = currentLoad();
  const tracked = await EmbeddedEngine.start({ operatorsDir: OPERATORS_DIR, retryDelayMs: 0 });
  const untracked = await EmbeddedEngine.start({
    operatorsDir: OPERATORS_DIR,
    retryDelayMs: 0,
    store: new NullTrackingStore(),
  });
  const compiled = compileWorkflowText(WORKFLOW, { operatorExists: (op) => tracked.catalog.has(op) });
  const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || !compiled.asl)
    throw new Error(`bench workflow does not compile: ${JSON.stringify(errors)}`);

  const measured: Measured[] = [];
  try {
    measured.push(...(await measureMode('tracked', engineRunner(tracked, compiled, NODES.length))));
    measured.push(...(await measureMode('untracked', engineRunner(untracked, compiled, 0))));
  } finally {
    await tracked.close();
    await untracked.close();
  }
  measured.push(...(await measureMode('raw+log', rawRunner(compiled, true))));
  measured.push(...(await measureMode('raw', rawRunner(compiled, false))));
  const share = await storeShare(compiled);

  const rawOf = (concurrency: number) =>
    measured.find((m) => m.mode === 'raw' && m.concurrency === concurrency)!;
  const rows = measured.map((m) => {
    const raw = rawOf(m.concurrency);
    const overhead = m.ms / m.tasks / (raw.ms / raw.tasks);
    return [
      m.mode,
      String(m.concurrency),
      String(m.tasks),
      (m.ms / 1000).toFixed(2),
      perSecond(m.tasks, m.ms),
      (m.ms / m.tasks).toFixed(3),
      (m.cpuMs / m.tasks).toFixed(3),
      `${overhead.toFixed(1)}x`,
    ];
  });
  const storeMs = [...share.totals.values()].reduce((sum, t) => sum + t.ms, 0);
  const perTask = share.ms / share.tasks;
  const storeRows = [...share.totals.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(([method, t]) => [
      method,
      (t.calls / share.tasks).toFixed(1),
      (t.ms / share.tasks).toFixed(2),
      `${((t.ms / share.ms) * 100).toFixed(0)}%`,
    ]);
  // Can pass 100%: the event-log follower's writes overlap the operator runtime's.
  storeRows.push([
    '(all store calls)',
    '',
    (storeMs / share.tasks).toFixed(2),
    `${((storeMs / share.ms) * 100).toFixed(0)}%`,
  ]);
  storeRows.push(['(whole task)', '', perTask.toFixed(2), '100%']);

  reportSummary({
    name: 'engine',
    load: { before: loadBefore, after: currentLoad() },
    tables: [
      {
        title: `10 no-op Task states per task; overhead = time per task / raw's at the same concurrency`,
        header: ['mode', 'concurrency', 'tasks', 'seconds', 'tasks/s', 'ms/task', 'cpu ms/task', 'overhead'],
        rows,
      },
      {
        title: `Tracked engine, ${share.tasks} sequential tasks: wall time inside TrackingStore calls (dynalite); calls overlap, so shares may add up to over 100%`,
        header: ['store method', 'calls/task', 'ms/task', 'share of task'],
        rows: storeRows,
      },
    ],
    notes: [],
  });
}

await main();
