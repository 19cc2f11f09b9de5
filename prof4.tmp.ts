import { stringify } from 'yaml';
import { planWorkflow } from './lib/compiler/plan.js';
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
const n = 10000;
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
const text = stringify(dagShapeToWorkflow({ successors, estimates: durations.map((d) => d / 1000) }));
const v = validateWorkflow(parseWorkflowSource(text));
for (let rep = 0; rep < 8; rep++) planWorkflow(v.dag!, {});
