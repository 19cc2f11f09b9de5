// Plan quality checked by real runs (issue 6): a sample of the random fork/join DAGs of plan-bench.ts,
// each node a real operator that sleeps its duration, run on the embedded engine with `fastest` and
// with `cheapest`. The makespan is measured from the traces (first start to last end); the critical
// path is computed with the durations the traces measured, so operator timing noise does not count
// against the plan. What remains above 1 is the plan plus the engine's own time per state (tracking
// writes to dynalite, barrier calls).   npx tsx bench/plan-run-bench.ts [--dags 8]
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { compileWorkflowText } from '../lib/compiler/compile.js';
import { EmbeddedEngine, type TaskResult } from '../lib/local/engine.js';

const { values } = parseArgs({ options: { dags: { type: 'string', default: '6' } } });

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

/** Like plan-bench: each node feeds 1–3 of the next 10; durations 200–2,000 ms (what the node sleeps). */
function randomWorkflow(next: () => number, nodes: number) {
  const successors: number[][] = [];
  for (let i = 0; i < nodes; i++) {
    const later = nodes - i - 1;
    const out = new Set<number>();
    const fanOut = later === 0 ? 0 : 1 + Math.floor(next() * 3);
    for (let k = 0; k < fanOut; k++) out.add(i + 1 + Math.floor(next() * Math.min(later, 10)));
    successors.push([...out].sort((a, b) => a - b));
  }
  for (let j = 1; j < nodes; j++)
    if (!successors.some((s) => s.includes(j))) successors[Math.floor(next() * j)]!.push(j);
  const durations = Array.from({ length: nodes }, () => 200 + Math.floor(next() * 1800));
  const doc: { name: string; nodes: Record<string, unknown> } = {
    name: 'sampled-dag',
    nodes: { begin: { type: 'start', next: 'n0' }, done: { type: 'end' } },
  };
  successors.forEach((targets, i) => {
    const next =
      targets.length === 0 ? 'done' : targets.length === 1 ? `n${targets[0]}` : targets.map((t) => `n${t}`);
    doc.nodes[`n${i}`] = {
      type: 'sync',
      operator: 'test/sleep',
      input: { ms: durations[i] },
      estimate: durations[i]! / 1000,
      next,
    };
  });
  return { text: stringify(doc), successors };
}

/** The critical path with the durations the run measured, and the run's makespan, in ms. */
function measured(result: TaskResult, successors: number[][]): { makespan: number; criticalPath: number } {
  const byNode = new Map(result.traces.map((t) => [t.eventId.slice(result.taskId.length + 1), t]));
  const starts = result.traces.map((t) => Date.parse(t.startedAt));
  const ends = result.traces.map((t) => Date.parse(t.endedAt));
  const finish: number[] = [];
  const start = new Array<number>(successors.length).fill(0);
  successors.forEach((targets, i) => {
    finish[i] = start[i]! + (byNode.get(`n${i}`)?.durationMs ?? 0);
    for (const j of targets) start[j] = Math.max(start[j]!, finish[i]!);
  });
  return { makespan: Math.max(...ends) - Math.min(...starts), criticalPath: Math.max(...finish) };
}

const engine = await EmbeddedEngine.start({ operatorsDir: 'test/fixtures/operators', retryDelayMs: 0 });
const next = random(20261201);
const rows: string[] = [];
const ratios = { fastest: [] as number[], cheapest: [] as number[] };
try {
  for (let i = 0; i < Number(values.dags); i++) {
    const { text, successors } = randomWorkflow(next, 12 + Math.floor(next() * 14));
    const cells: string[] = [`${successors.length}`];
    for (const strategy of ['fastest', 'cheapest'] as const) {
      const compiled = compileWorkflowText(text, { strategy });
      const fork = compiled.plan!.forks[0];
      const planned = fork ? fork.makespan / fork.criticalPath : 1;
      const barriers = compiled.plan!.forks.reduce((sum, f) => sum + f.barriers.length, 0);
      const result = await engine.runTask(compiled, {});
      if (result.status !== 'SUCCEEDED')
        throw new Error(`${strategy} run ${result.status}: ${result.error?.cause}`);
      const run = measured(result, successors);
      ratios[strategy].push(run.makespan / run.criticalPath);
      cells.push(
        `${planned.toFixed(3)}`,
        `${(run.makespan / run.criticalPath).toFixed(3)}`,
        `${barriers}`,
        `${result.stats.stateTransitions}`,
      );
    }
    rows.push(`| ${cells.join(' | ')} |`);
  }
} finally {
  await engine.close();
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log('real runs on the embedded engine (sleeping operators, 200–2,000 ms per node):');
console.log(
  '| nodes | fastest planned | fastest run | barriers | transitions | cheapest planned | cheapest run | barriers | transitions |',
);
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(row);
console.log(
  `mean run makespan / critical path: fastest ${mean(ratios.fastest).toFixed(3)}, cheapest ${mean(ratios.cheapest).toFixed(3)}`,
);
