// Each optimisation pass alone: the plan before it and after it (dag-spec §6).
import { describe, expect, it } from 'vitest';
import { placeholderBindings } from '../../lib/compiler/bindings.js';
import { emitAsl } from '../../lib/compiler/emit.js';
import {
  chooseMapMode,
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
defaults: { timeout: 30 }
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
    expect(asl.States.a).toMatchObject({ ResultPath: '$.nodes' });
    expect(asl.States.a).not.toHaveProperty('Retry');
  });

  it('leaves retried nodes alone: one Task Retry would share one budget among nodes that each have their own', () => {
    // Found by the records property: c failing twice used up the fused Task's three attempts, so d,
    // which would have succeeded on its own retry, failed the task.
    const retried = CHAIN.replace('defaults: { timeout: 30 }', 'defaults: { retry: { maxAttempts: 3 } }');
    expect(alone(retried, fuseSyncChains).changes).toEqual([]);
    const mixed = CHAIN.replace(
      'c: { type: sync, operator: test/echo, next: done }',
      'c: { type: sync, operator: test/echo, retry: { maxAttempts: 2 }, next: done }',
    );
    expect(alone(mixed, fuseSyncChains).changes).toEqual(["'a', 'b' run as one Task 'a'"]);
    const once = CHAIN.replace('defaults: { timeout: 30 }', 'defaults: { retry: { maxAttempts: 1 } }');
    expect(alone(once, fuseSyncChains).changes).toEqual(["'a', 'b', 'c' run as one Task 'a'"]);
  });

  it('stops at fuse: false, onError, a retried node, another operator group and at joins', () => {
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

describe('Distributed Maps through the object store', () => {
  const MAP = (mode: string, items = '$.nodes.split.parts', extra = '') => `name: big
input: { type: object, properties: { files: { type: array, maxItems: 100000 } } }
params: { hd: true }
nodes:
  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: params.hd, next: split }], default: other }
  other: { type: sync, operator: test/echo, next: done }
  split: { type: sync, operator: test/echo, next: each }
  each:
    type: parallel${mode}
    items: ${items}
    node: { type: sync, operator: test/echo, input: { f: $.item } }${extra}
    next: done
  done: { type: end }
`;

  it('mode: distributed stages node-output items before the Map and collects results after it, optimised or not', () => {
    const plan = planOf(MAP('\n    mode: distributed'));
    expect(shape(plan.root)).toEqual([
      'begin(pass) -> r',
      'r(choice)',
      'split(task: split) -> each_items',
      'each_items(map-items) -> each',
      'each(map) -> each_results',
      'each_results(map-results) -> done',
      'done(end) (end)',
      'other(task: other) -> done',
    ]);
    const asl = emitAsl(plan, placeholderBindings());
    const check = validateAsl(asl);
    expect(check.isValid, check.errors).toBe(true);
    expect(asl.States.each).toMatchObject({
      ItemReader: { Parameters: { 'Bucket.$': '$.nodes.each.bucket', 'Key.$': '$.nodes.each.key' } },
      ResultWriter: { Parameters: { Bucket: 'dag-objects', Prefix: 'map-results/big/each' } },
    });
    expect(asl.States.each).not.toHaveProperty('ItemsPath');
    expect(asl.States.each_items).toMatchObject({
      Parameters: { action: 'stage', node: 'each', items: '$.nodes.split.parts' },
      ResultPath: '$.nodes.each',
    });
    // The Map's result goes beside the staged count, which the collector checks the results against.
    expect(asl.States.each).toMatchObject({ ResultPath: '$.nodes.each.run' });
    expect(asl.States.each_results).toMatchObject({
      Parameters: { 'written.$': '$.nodes.each.run.ResultWriterDetails', 'count.$': '$.nodes.each.count' },
    });
  });

  it('choose-map-mode gives a Map it makes Distributed the same states, keeping where routers lead and what ends the task', () => {
    const declared = MAP('', '$.input.files');
    const { before, after, changes, plan, asl } = alone(declared, chooseMapMode);
    expect(before).toContain('each(map) -> done');
    expect(after).toContain('each(map) -> each_results');
    expect(after).toContain('each_results(map-results) -> done');
    expect(changes).toHaveLength(2);
    expect(asl.States.each).toMatchObject({ ItemsPath: '$.input.files', ResultPath: '$.nodes.each' });
    expect(asl.States.each_results).toMatchObject({
      Parameters: { 'count.$': 'States.ArrayLength($.input.files)' },
    });
    // After the other passes: the decided router now leads into the items stage, and the end is
    // folded into the collector rather than the Map.
    const staged = planOf(MAP('', '$.nodes.split.parts', '\n    toleratedFailurePercentage: 5'));
    runPasses(staged, [pruneDecidedRouters, dropStartPlaceholder, foldEnds]);
    const map = staged.root.states.get('each');
    expect(map).toMatchObject({ kind: 'map', mode: 'inline', toleranceState: 'each_tolerance' });
    (map as { mode: string }).mode = 'distributed';
    runPasses(staged, [chooseMapMode]);
    expect(shape(staged.root)).toEqual([
      'split(task: split) -> each_items',
      'each_items(map-items) -> each',
      'each(map) -> each_results',
      'each_results(map-results) (end)',
    ]);
    expect(staged.root.states.get('each_results')).toMatchObject({ endsAs: 'done' });
    expect(staged.root.states.has('each_tolerance')).toBe(false);
    const emitted = emitAsl(staged, placeholderBindings());
    expect(emitted.States.each_results).toMatchObject({
      Parameters: { action: 'collect', toleratedFailurePercentage: 5 },
      End: true,
    });
    expect(plan.optimized).toBe(true);
  });

  it('an onError path takes the failures of the stage, the Map and the collector', () => {
    const yaml = `name: rescued
nodes:
  begin: { type: start, next: split }
  split: { type: sync, operator: test/echo, next: each }
  each:
    type: parallel
    mode: distributed
    items: $.nodes.split.parts
    node: { type: sync, operator: test/echo }
    onError: rescue
    next: done
  rescue: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`;
    const asl = emitAsl(planOf(yaml), placeholderBindings());
    for (const state of ['each_items', 'each', 'each_results'])
      expect(asl.States[state], state).toMatchObject({ Catch: [{ Next: 'each_error' }] });
  });
});
