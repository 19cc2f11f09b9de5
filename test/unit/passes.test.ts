// Each optimisation pass alone: the plan before it and after it (dag-spec §6).
import { describe, expect, it } from 'vitest';
import { placeholderBindings } from '../../lib/compiler/bindings.js';
import { emitAsl } from '../../lib/compiler/emit.js';
import {
  dropStartPlaceholder,
  foldEnds,
  fuseSyncChains,
  type PlanPass,
  planForks,
  pruneDecidedRouters,
  runPasses,
} from '../../lib/compiler/passes.js';
import { planWorkflow } from '../../lib/compiler/plan.js';
import type { ExecutionPlan, PlanScope } from '../../lib/compiler/plan-types.js';
import { validateWorkflowText } from '../../lib/dag/validate.js';
import { validateAsl } from '../support/asl.js';

function planOf(yaml: string, options: Parameters<typeof planWorkflow>[1] = {}): ExecutionPlan {
  const { dag, diagnostics } = validateWorkflowText(yaml);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return planWorkflow(dag!, options);
}

/** The plan as `state(kind: nodes) -> next` lines, scopes indented. */
function shape(scope: PlanScope, indent = ''): string[] {
  const lines: string[] = [];
  for (const state of scope.states.values()) {
    const nodes = state.kind === 'task' ? `: ${state.nodes.join('+')}` : '';
    const next =
      state.kind === 'choice' ? '' : 'next' in state.transition ? ` -> ${state.transition.next}` : ' (end)';
    lines.push(`${indent}${state.name}(${state.kind}${nodes})${next}`);
    if (state.kind === 'parallel')
      for (const branch of state.branches) lines.push(...shape(branch, `${indent}  `));
  }
  return lines;
}

/** Runs one pass; returns the plan's shape before and after, and what the pass reported. */
function alone(yaml: string, pass: PlanPass, options: Parameters<typeof planWorkflow>[1] = {}) {
  const plan = planOf(yaml, options);
  const before = shape(plan.root);
  runPasses(plan, [pass]);
  const asl = emitAsl(plan, placeholderBindings());
  const check = validateAsl(asl);
  expect(check.isValid, check.errors).toBe(true);
  return { before, after: shape(plan.root), changes: plan.passes[0]!.changes, plan, asl };
}

const CHAIN = `name: chain
defaults: { retry: { maxAttempts: 2 } }
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, next: b }
  b: { type: sync, operator: test/echo, input: { v: $.nodes.a }, next: c }
  c: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;

describe('fuse-sync-chains', () => {
  it('runs a chain of sync nodes as one Task, keeping the nodes in order', () => {
    const { before, after, changes, asl } = alone(CHAIN, fuseSyncChains);
    expect(before).toEqual([
      'begin(pass) -> a',
      'a(task: a) -> b',
      'b(task: b) -> c',
      'c(task: c) -> done',
      'done(end) (end)',
    ]);
    expect(after).toEqual(['begin(pass) -> a', 'a(task: a+b+c) -> done', 'done(end) (end)']);
    expect(changes).toEqual(["'a', 'b', 'c' run as one Task 'a'"]);
    const state = asl.States.a as {
      Resource: string;
      Parameters: { chain: { node: string; input: string }[] };
    };
    expect(state.Resource).toMatch(/dag-chain-standard$/);
    expect(state.Parameters.chain.map((l) => l.node)).toEqual(['a', 'b', 'c']);
    // Templates travel as text: the runtime reads them against the context the chain has made.
    expect(JSON.parse(state.Parameters.chain[1]!.input)).toEqual({ v: '$.nodes.a' });
    expect(asl.States.a).toMatchObject({ ResultPath: '$.nodes', Retry: [{ MaxAttempts: 1 }] });
  });

  it('stops at fuse: false, onError, another retry policy, another operator group and at joins', () => {
    const yaml = `name: breaks
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, next: b }
  b: { type: sync, operator: test/echo, fuse: false, next: c }
  c: { type: sync, operator: test/echo, next: d }
  d: { type: sync, operator: test/echo, retry: { maxAttempts: 3 }, next: e }
  e: { type: sync, operator: media/probe, next: f }
  f: { type: sync, operator: test/echo, onError: g, next: g }
  g: { type: sync, operator: test/echo, next: [h, i] }
  h: { type: sync, operator: test/echo, next: j }
  i: { type: sync, operator: test/echo, next: j }
  j: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
    const { after, changes } = alone(yaml, fuseSyncChains, { strategy: 'cheapest' });
    expect(changes).toEqual([]);
    expect(after.filter((l) => l.includes('+'))).toEqual([]);
  });

  it('keeps the nodes of one chain within one Lambda run (15 minutes of time limits together)', () => {
    const long = `name: long
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, timeout: 600, next: b }
  b: { type: sync, operator: test/echo, timeout: 600, next: c }
  c: { type: sync, operator: test/echo, timeout: 200, next: done }
  done: { type: end }
`;
    expect(alone(long, fuseSyncChains).changes).toEqual(["'b', 'c' run as one Task 'b'"]);
  });
});

describe('the other passes alone', () => {
  it('drop-start makes StartAt the state after start', () => {
    const { before, after } = alone(CHAIN, dropStartPlaceholder);
    expect(before[0]).toBe('begin(pass) -> a');
    expect(after[0]).toBe('a(task: a) -> b');
  });

  it('fold-end ends the task in the state before a lone end', () => {
    const { after, plan } = alone(CHAIN, foldEnds);
    expect(after.at(-1)).toBe('c(task: c) (end)');
    expect(plan.root.states.get('c')).toMatchObject({ endsAs: 'done' });
  });

  it('prune-decided-routers removes a Choice params decide, and the branch not taken', () => {
    const yaml = `name: decided
params: { hd: true }
nodes:
  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: params.hd, next: big }], default: small }
  big: { type: sync, operator: test/echo, next: done }
  small: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
    const { before, after, plan } = alone(yaml, pruneDecidedRouters);
    expect(before).toContain('small(task: small) -> done');
    expect(after).toEqual(['begin(pass) -> big', 'big(task: big) -> done', 'done(end) (end)']);
    expect(plan.decidedRouters.get('r')).toBe('big');
  });

  it('plan-forks reports each fork with its barriers', () => {
    const yaml = `name: n
nodes:
  begin: { type: start, next: [a, b] }
  a: { type: sync, operator: test/echo, estimate: 0.4, next: d }
  b: { type: sync, operator: test/echo, estimate: 0.3, next: [c, d] }
  c: { type: sync, operator: test/echo, estimate: 0.4, next: j }
  d: { type: sync, operator: test/echo, estimate: 0.1, next: j }
  j: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
    expect(alone(yaml, planForks).changes).toEqual([
      "fork 'begin' to 'j' (4 units): nested at 0.8 s; 1 barrier(s) ('c' waits for 'b'): makespan 0.7 s, critical path 0.7 s",
    ]);
    expect(alone(yaml, planForks, { strategy: 'cheapest' }).changes).toEqual([
      "fork 'begin' to 'j' (4 units): nested, makespan 0.8 s, critical path 0.7 s",
    ]);
  });
});
