// Plan quality and compile speed (issue 6): how close the nesting of random fork/join DAGs gets to
// their critical path, against the level-by-level schedule, and how compile time grows with size.
// Fixed seeds: the same DAGs every run.  npx tsx bench/plan-bench.ts [--dags 500]
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { planNesting, scheduleNestPlan } from '../lib/compiler/barriers.js';
import { compileValidated } from '../lib/compiler/compile.js';
import { parseWorkflowSource } from '../lib/dag/parse.js';
import { validateWorkflow } from '../lib/dag/validate.js';
import { dagShapeToWorkflow } from '../test/support/arbitrary-dags.js';

const { values } = parseArgs({ options: { dags: { type: 'string', default: '500' } } });

/** A small deterministic generator (LCG), so every run plans the same DAGs. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

interface Shape {
  successors: number[][];
  durations: number[];
}

/** A random DAG in topological order: each node feeds 1–3 of the next `span` nodes. */
function randomShape(next: () => number, nodes: number, span = 10): Shape {
  const successors: number[][] = [];
  for (let i = 0; i < nodes; i++) {
    const later = nodes - i - 1;
    const out = new Set<number>();
    const fanOut = later === 0 ? 0 : 1 + Math.floor(next() * 3);
    for (let k = 0; k < fanOut; k++) out.add(i + 1 + Math.floor(next() * Math.min(later, span)));
    successors.push([...out].sort((a, b) => a - b));
  }
  for (let j = 1; j < nodes; j++)
    if (!successors.some((s) => s.includes(j))) successors[Math.floor(next() * j)]!.push(j);
  const durations = Array.from({ length: nodes }, () => 10 + Math.floor(next() * 990));
  return { successors, durations };
}

function criticalPath(shape: Shape): number {
  const finish: number[] = [];
  const start = new Array<number>(shape.durations.length).fill(0);
  shape.durations.forEach((d, i) => {
    finish[i] = start[i]! + d;
    for (const j of shape.successors[i]!) start[j] = Math.max(start[j]!, finish[i]!);
  });
  return Math.max(...finish);
}

function levelSchedule(shape: Shape): number {
  const level = new Array<number>(shape.durations.length).fill(0);
  shape.successors.forEach((outs, i) => {
    for (const j of outs) level[j] = Math.max(level[j]!, level[i]! + 1);
  });
  const longest = new Map<number, number>();
  shape.durations.forEach((d, i) => {
    longest.set(level[i]!, Math.max(longest.get(level[i]!) ?? 0, d));
  });
  return [...longest.values()].reduce((a, b) => a + b, 0);
}

/** Makespan of the plan of one strategy, and the wait and release states its barriers add. */
function plannedMakespan(
  shape: Shape,
  strategy: 'fastest' | 'cheapest',
  slack?: number,
): { makespan: number; barrierStates: number } {
  const order = shape.durations.map((_, i) => `n${i}`);
  const successors = new Map(order.map((id, i) => [id, shape.successors[i]!.map((j) => `n${j}`)]));
  const weight = (id: string) => shape.durations[Number(id.slice(1))]!;
  const plan = planNesting({ order, successors, weight }, strategy, slack === undefined ? {} : { slack });
  const producers = new Set(plan.barriers.flatMap((b) => b.producers));
  return {
    makespan: scheduleNestPlan(plan, weight).makespan,
    barrierStates: plan.barriers.length + producers.size,
  };
}

function summary(ratios: number[]): string {
  const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  const sorted = [...ratios].sort((a, b) => a - b);
  const p90 = sorted[Math.floor(sorted.length * 0.9)]!;
  return `mean ${mean.toFixed(3)}  p90 ${p90.toFixed(3)}  max ${Math.max(...ratios).toFixed(3)}`;
}

const count = Number(values.dags);
const shapes: Shape[] = [];
{
  const next = random(20261124);
  for (let i = 0; i < count; i++) shapes.push(randomShape(next, 10 + Math.floor(next() * 191)));
}
const next = random(20261124);
const nested: number[] = [];
const fastest: number[] = [];
const levels: number[] = [];
const barrierStates: number[] = [];
const nodeCounts: number[] = [];
let worseThanLevels = 0;
let planningMs = 0;
for (let i = 0; i < count; i++) {
  const shape = randomShape(next, 10 + Math.floor(next() * 191));
  const cp = criticalPath(shape);
  const cheap = plannedMakespan(shape, 'cheapest');
  const started = performance.now();
  const fast = plannedMakespan(shape, 'fastest');
  planningMs += performance.now() - started;
  const level = levelSchedule(shape);
  nested.push(cheap.makespan / cp);
  fastest.push(fast.makespan / cp);
  levels.push(level / cp);
  barrierStates.push(fast.barrierStates);
  nodeCounts.push(shape.durations.length);
  if (cheap.makespan > level + 1e-9) worseThanLevels++;
}
const withBarriers = barrierStates.filter((n) => n > 0).length;
const statesPerNode = barrierStates.reduce((a, b) => a + b, 0) / nodeCounts.reduce((a, b) => a + b, 0);
console.log(`plan quality over ${count} random fork/join DAGs (10-200 nodes), makespan / critical path:`);
console.log('  fastest at other slacks (the default is 1%): slack, mean/max ratio, barrier states per DAG');
for (const slack of [0, 0.005, 0.01, 0.02, 0.05]) {
  const runs = shapes.map((shape) => ({ shape, plan: plannedMakespan(shape, 'fastest', slack) }));
  const ratios = runs.map(({ shape, plan }) => plan.makespan / criticalPath(shape));
  const states = runs.reduce((sum, { plan }) => sum + plan.barrierStates, 0) / runs.length;
  console.log(`    ${(slack * 100).toFixed(1)}%  ${summary(ratios)}  states ${states.toFixed(1)}`);
}
console.log(`  fastest (barriers)               ${summary(fastest)}`);
console.log(`  cheapest (nesting, no barriers)  ${summary(nested)}`);
console.log(`  level by level                   ${summary(levels)}`);
console.log(`  nestings slower than the level schedule: ${worseThanLevels}`);
console.log(
  `  fastest: barriers in ${withBarriers} of ${count} DAGs; barrier states per DAG mean ${(barrierStates.reduce((a, b) => a + b, 0) / count).toFixed(1)}, max ${Math.max(...barrierStates)}; ${statesPerNode.toFixed(3)} per node; planning ${(planningMs / count).toFixed(1)} ms per DAG`,
);

console.log(
  '\ncompile time, median of 7 after 2 warm-up runs (parse = YAML, positions only on diagnostics; validate; plan + passes + emit), wall and CPU ms:',
);
for (const size of (process.env.SIZES ?? '100,1000,10000').split(',').map(Number)) {
  const shape = randomShape(random(size), size, 8);
  const text = stringify(
    dagShapeToWorkflow({ successors: shape.successors, estimates: shape.durations.map((d) => d / 1000) }),
  );
  const laps: { parse: number; validate: number; compile: number; total: number; cpu: number }[] = [];
  let memory = 0;
  for (let run = 0; run < 9; run++) {
    const before = process.memoryUsage().heapUsed;
    const cpuBefore = process.cpuUsage();
    let mark = performance.now();
    const lap = () => {
      const now = performance.now();
      const took = now - mark;
      mark = now;
      return took;
    };
    const parsed = parseWorkflowSource(text);
    const parse = lap();
    const validated = validateWorkflow(parsed);
    const validate = lap();
    if (!validated.dag)
      throw new Error(`the ${size}-node DAG is invalid: ${JSON.stringify(validated.diagnostics[0])}`);
    const result = compileValidated(validated.dag);
    const compile = lap();
    if (!result.asl)
      throw new Error(`the ${size}-node DAG did not compile: ${JSON.stringify(result.diagnostics[0])}`);
    const cpu = process.cpuUsage(cpuBefore);
    if (run < 2) continue; // warm-up: the JIT, not the compiler
    laps.push({
      parse,
      validate,
      compile,
      total: parse + validate + compile,
      cpu: (cpu.user + cpu.system) / 1000,
    });
    memory = Math.max(memory, process.memoryUsage().heapUsed - before);
  }
  laps.sort((a, b) => a.total - b.total);
  const m = laps[Math.floor(laps.length / 2)]!;
  const cpus = laps.map((l) => l.cpu).sort((a, b) => a - b);
  console.log(
    `  ${String(size).padStart(6)} nodes  parse ${m.parse.toFixed(0).padStart(5)} ms  validate ${m.validate.toFixed(0).padStart(5)} ms  plan+emit ${m.compile.toFixed(0).padStart(5)} ms  total ${m.total.toFixed(0).padStart(6)} ms  (cpu ${cpus[Math.floor(cpus.length / 2)]!.toFixed(0)} ms)  heap +${(memory / 1048576).toFixed(0)} MiB`,
  );
}
