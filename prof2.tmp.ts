import { stringify } from 'yaml';
import { addBarriers } from './lib/compiler/barriers.js';
import { placeholderBindings } from './lib/compiler/bindings.js';
import { emitAsl } from './lib/compiler/emit.js';
import { limitDiagnostics } from './lib/compiler/limits.js';
import { OPTIMIZATION_PASSES, runPasses } from './lib/compiler/passes.js';
import { planWorkflow } from './lib/compiler/plan.js';
import { nestAndDag } from './lib/compiler/structure.js';
import { parseWorkflowSource } from './lib/dag/parse.js';
import { validateWorkflow } from './lib/dag/validate.js';
import { dagShapeToWorkflow } from './test/support/arbitrary-dags.js';

function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
for (const n of [1000, 10000]) {
  const next = random(n);
  const successors: number[][] = [];
  const has = new Set<number>();
  for (let i = 0; i < n; i++) {
    const later = n - i - 1;
    const out = new Set<number>();
    const f = later === 0 ? 0 : 1 + Math.floor(next() * 3);
    for (let k = 0; k < f; k++) out.add(i + 1 + Math.floor(next() * Math.min(later, 8)));
    successors.push([...out].sort((a, b) => a - b));
    for (const j of out) has.add(j);
  }
  for (let j = 1; j < n; j++) if (!has.has(j)) successors[Math.floor(next() * j)]!.push(j);
  const durations = Array.from({ length: n }, () => 10 + Math.floor(next() * 990));
  const order = durations.map((_, i) => `n${i}`);
  const dag = {
    order,
    successors: new Map(order.map((id, i) => [id, successors[i]!.map((j) => `n${j}`)])),
    weight: (id: string) => durations[Number(id.slice(1))]!,
  };
  const text = stringify(dagShapeToWorkflow({ successors, estimates: durations.map((d) => d / 1000) }));
  const v = validateWorkflow(parseWorkflowSource(text));
  const lap = (label: string, f: () => unknown) => {
    const t = performance.now();
    const r = f();
    return [label, performance.now() - t, r] as const;
  };
  for (let rep = 0; rep < 5; rep++) {
    const a = lap('nest', () => nestAndDag(dag));
    const b = lap('barriers', () => addBarriers(dag, a[2] as never));
    const c = lap('plan', () => planWorkflow(v.dag!, {}));
    const d = lap('passes', () => runPasses(c[2] as never, OPTIMIZATION_PASSES));
    const e = lap('emit', () => emitAsl(c[2] as never, placeholderBindings()));
    const f = lap('limits', () => limitDiagnostics(c[2] as never, e[2] as never));
    if (rep >= 2) console.log(n, [a, b, c, d, e, f].map(([l, t]) => `${l} ${t.toFixed(0)}`).join('  '));
  }
}
