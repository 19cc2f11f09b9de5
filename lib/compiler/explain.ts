// Renderers of the business DAG and of an execution plan, for `dag plan` and `dag graph`: JSON (the map
// from business nodes to states that tracking reads), text, Mermaid and Graphviz DOT. Pure projections:
// the same plan always gives the same output.
import type { ConditionExpr, ConditionPath, LiteralValue } from '../dag/condition-ast.js';
import { commonPostDominator, immediatePostDominators, VIRTUAL_EXIT } from '../dag/graph.js';
import { nextList, type WorkflowNode } from '../dag/schema.js';
import type { ValidatedDag } from '../dag/validate.js';
import { paramsDecidedRoute, pruneDecidedRouters, seconds } from './passes.js';
import { barrierReleaseState } from './plan.js';
import type { ChoiceState, ExecutionPlan, MapState, PlanScope, PlanState } from './plan-types.js';

// ---- the plan as data --------------------------------------------------------------------------

export type PlanStateKind = PlanState['kind'] | 'item' | 'item-failed';

export interface PlanJsonState {
  readonly name: string;
  /** The plan's kind; `item` is the Task a Map runs per item, `item-failed` its failed-item marker. */
  readonly kind: PlanStateKind;
  /** `/` for the top level, else the enclosing states: `/probe_fork/1` (branch 1), `/transcode` (items). */
  readonly scope: string;
  /** Business nodes this state runs (or, for an error or tolerance state, finishes). */
  readonly nodes: readonly string[];
  readonly next?: string;
  readonly end?: true;
  /** Where the state's failure goes (through the error-shaping Pass). */
  readonly catch?: string;
  readonly routes?: readonly { readonly when: string; readonly next: string }[];
  readonly default?: string;
  /** A Parallel's branches, by their first state. */
  readonly branches?: readonly string[];
  /** A Map's per-item state and mode. */
  readonly itemState?: string;
  readonly mode?: 'inline' | 'distributed';
  /** A barrier wait: the unit it holds back, and the units of other branches it waits for. */
  readonly consumer?: string;
  readonly producers?: readonly string[];
  /** A barrier release: the unit whose end it announces, and the consumers waiting for it. */
  readonly producer?: string;
  readonly consumers?: readonly string[];
}

export interface PlanJsonBusinessNode {
  readonly name: string;
  readonly type: WorkflowNode['type'];
  /**
   * The states whose entry means this node ran, its own first. The start node, once it has no
   * state of its own, maps to StartAt. Empty for decided routers and pruned nodes.
   */
  readonly states: readonly string[];
}

export interface PlanJson {
  readonly workflow: string;
  readonly optimized: boolean;
  readonly params: Readonly<Record<string, unknown>>;
  readonly startAt: string;
  readonly passes: readonly { readonly pass: string; readonly changes: readonly string[] }[];
  readonly businessNodes: readonly PlanJsonBusinessNode[];
  readonly states: readonly PlanJsonState[];
  /** Routers that `params` decided at compile time: they run (tracking records them) with no state. */
  readonly decidedRouters: readonly { readonly router: string; readonly next: string }[];
  /** Nodes that never run: unreachable from start, or on a branch a decided router does not take. */
  readonly pruned: readonly { readonly node: string; readonly reason: 'unreachable' | 'branch-not-taken' }[];
}

/** Name of the Pass that marks a failed item inside a tolerant Map; emit.ts names it the same way. */
function failedItemState(node: string): string {
  return `${node}_failed`;
}

interface VisitedState {
  readonly state: PlanState;
  readonly scope: string;
}

/** Every plan state, depth first in emission order, each with its scope path. */
function visitStates(plan: ExecutionPlan): VisitedState[] {
  const out: VisitedState[] = [];
  const walk = (scope: PlanScope, path: string) => {
    for (const state of scope.states.values()) {
      out.push({ state, scope: path });
      if (state.kind === 'parallel')
        state.branches.forEach((branch, i) => {
          walk(branch, `${path === '/' ? '' : path}/${state.name}/${i + 1}`);
        });
    }
  };
  walk(plan.root, '/');
  return out;
}

/** The business nodes a state runs, by kind (a Parallel runs none itself: its branches do). */
function nodesRunBy(state: PlanState): string[] {
  const folded = state.kind !== 'choice' && state.endsAs !== undefined ? [state.endsAs] : [];
  return [...ownNodesRunBy(state), ...folded];
}

function ownNodesRunBy(state: PlanState): string[] {
  switch (state.kind) {
    case 'task':
      return [...state.nodes];
    case 'parallel':
    case 'barrier-wait':
    case 'barrier-release':
      return [];
    case 'pass':
      return state.node !== undefined ? [state.node] : [];
    default:
      return [state.node];
  }
}

function isTolerant(dag: ValidatedDag, node: string): boolean {
  const n = dag.nodes.get(node);
  return n?.type === 'parallel' && (n.toleratedFailurePercentage ?? 0) > 0;
}

/** Whether a Map has the failed-item Pass: it tolerates failures, or its collector decides them. */
function catchesItems(dag: ValidatedDag, state: MapState): boolean {
  return state.storeBacked === true || isTolerant(dag, state.node);
}

/** The plan as JSON: passes, states with their scopes, and the business node -> states map. */
export function planToJson(plan: ExecutionPlan): PlanJson {
  const dag = plan.dag;
  const states: PlanJsonState[] = [];
  for (const { state, scope } of visitStates(plan)) {
    states.push(stateJson(plan, state, scope));
    if (state.kind === 'map') {
      const itemScope = `${scope === '/' ? '' : scope}/${state.name}`;
      states.push({ name: state.itemState, kind: 'item', scope: itemScope, nodes: [state.node], end: true });
      if (catchesItems(dag, state))
        states.push({
          name: failedItemState(state.node),
          kind: 'item-failed',
          scope: itemScope,
          nodes: [state.node],
          end: true,
        });
    }
  }

  const statesOf = new Map<string, string[]>([...dag.nodes.keys()].map((n) => [n, []]));
  for (const s of states) for (const n of s.nodes) statesOf.get(n)?.push(s.name);
  const startStates = statesOf.get(dag.start)!;
  if (startStates.length === 0) startStates.push(plan.root.startAt);

  const active = activeGraph(plan);
  const pruned: PlanJson['pruned'][number][] = [];
  for (const name of dag.nodes.keys()) {
    if (statesOf.get(name)!.length > 0 || (plan.decidedRouters.has(name) && active.nodes.has(name))) continue;
    if (!active.nodes.has(name))
      pruned.push({
        node: name,
        reason: dag.unreachable.includes(name) ? 'unreachable' : 'branch-not-taken',
      });
    // A node that can run but has no state is a planner bug; it is left out of `pruned` so that
    // checks of the map (every node that can run has a state) catch it.
  }

  return {
    workflow: dag.workflow.name,
    optimized: plan.optimized,
    params: plan.params,
    startAt: plan.root.startAt,
    passes: plan.passes.map((p) => ({ pass: p.pass, changes: [...p.changes] })),
    businessNodes: [...dag.nodes].map(([name, node]) => ({
      name,
      type: node.type,
      states: statesOf.get(name)!,
    })),
    states,
    decidedRouters: active.order
      .filter((router) => plan.decidedRouters.has(router))
      .map((router) => ({ router, next: decidedRoute(plan, router)! })),
    pruned,
  };
}

function stateJson(plan: ExecutionPlan, state: PlanState, scope: string): PlanJsonState {
  const base = { name: state.name, kind: state.kind, scope, nodes: nodesRunBy(state) };
  if (state.kind === 'choice') {
    return {
      ...base,
      routes: state.routes.map((route, i) => ({ when: routeText(plan, state, i), next: route.next })),
      default: state.default,
    };
  }
  const transition = 'next' in state.transition ? { next: state.transition.next } : { end: true as const };
  const caught = 'catch' in state && state.catch ? { catch: state.catch.next } : {};
  return { ...base, ...transition, ...caught, ...kindDetail(state) };
}

function kindDetail(state: Exclude<PlanState, ChoiceState>): Partial<PlanJsonState> {
  switch (state.kind) {
    case 'parallel':
      return { branches: state.branches.map((b) => b.startAt) };
    case 'map':
      return { itemState: state.itemState, mode: state.mode };
    case 'barrier-wait':
      return { consumer: state.consumer, producers: [...state.producers] };
    case 'barrier-release':
      return { producer: state.producer, consumers: [...state.consumers] };
    default:
      return {};
  }
}

/** Successors of a state within its scope: next, Choice routes, Catch. */
function targetsOf(state: PlanState): string[] {
  if (state.kind === 'choice') return [...new Set([...state.routes.map((r) => r.next), state.default])];
  const targets = 'next' in state.transition ? [state.transition.next] : [];
  if ('catch' in state && state.catch) targets.push(state.catch.next);
  return targets;
}

// ---- the business DAG that can run under the plan's decisions -----------------------------------

interface ActiveGraph {
  /** Nodes that can run, in topological order. */
  readonly order: readonly string[];
  readonly nodes: ReadonlySet<string>;
  readonly successors: ReadonlyMap<string, readonly string[]>;
  readonly predecessors: ReadonlyMap<string, readonly string[]>;
}

/**
 * The node a router goes to when the plan decided it by params (its Choice removed, or replaced by a
 * Pass); undefined for every other node. plan.decidedRouters holds states, not nodes: a chain of
 * decided routers is recorded on the state the last one leads to.
 */
function decidedRoute(plan: ExecutionPlan, router: string): string | undefined {
  if (!plan.passes.some((p) => p.pass === pruneDecidedRouters.name)) return undefined;
  return paramsDecidedRoute(plan, router);
}

/** The business DAG from start, a decided router following only the route `params` chose. */
function activeGraph(plan: ExecutionPlan): ActiveGraph {
  const dag = plan.dag;
  const succ = (n: string) => {
    const decided = decidedRoute(plan, n);
    return decided !== undefined ? [decided] : (dag.successors.get(n) ?? []);
  };
  const nodes = new Set<string>();
  const stack = [dag.start];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (nodes.has(n)) continue;
    nodes.add(n);
    stack.push(...succ(n));
  }
  const order = dag.order.filter((n) => nodes.has(n));
  const successors = new Map(order.map((n) => [n, succ(n)]));
  const predecessors = new Map<string, string[]>(order.map((n) => [n, []]));
  for (const n of order) for (const m of successors.get(n)!) predecessors.get(m)?.push(n);
  return { order, nodes, successors, predecessors };
}

// ---- estimates: makespan of the plan vs the business critical path ------------------------------

/** Expected seconds of one business node, by the planner's rule: no estimate counts 1 s. */
export function nodeEstimate(dag: ValidatedDag, name: string): number {
  const node = dag.nodes.get(name);
  if (!node || node.type === 'router' || node.type === 'start' || node.type === 'end') return 0;
  if ('estimate' in node && node.estimate !== undefined) return node.estimate;
  if (node.type === 'parallel') return node.node.estimate ?? 1;
  return 1;
}

interface Interval {
  start: number;
  finish: number;
}

/**
 * Earliest start and finish of every state when each runs as soon as its predecessors in the scope
 * have finished (exclusive paths counted at their longest), Parallel branches together, and a barrier
 * wait until its producers' releases have run. Barriers cross scopes, so the scopes are scheduled
 * again with the releases' times of the sweep before until nothing moves: barriers never form a
 * cycle, so each sweep settles at least one more of them.
 */
function schedulePlan(plan: ExecutionPlan): Map<string, Interval> {
  const releases = visitStates(plan)
    .filter(({ state }) => state.kind === 'barrier-release')
    .map(({ state }) => state.name);
  let released = new Map<string, number>();
  for (;;) {
    const times = schedulePlanOnce(plan, released);
    const next = new Map(releases.map((name) => [name, times.get(name)?.finish ?? 0]));
    if (releases.every((name) => released.get(name) === next.get(name))) return times;
    released = next;
  }
}

function schedulePlanOnce(plan: ExecutionPlan, released: ReadonlyMap<string, number>): Map<string, Interval> {
  const times = new Map<string, Interval>();
  const scheduleScope = (scope: PlanScope, t0: number): number => {
    const indegree = new Map<string, number>([...scope.states.keys()].map((n) => [n, 0]));
    for (const state of scope.states.values())
      for (const t of targetsOf(state)) if (indegree.has(t)) indegree.set(t, indegree.get(t)! + 1);
    const ready = new Map<string, number>([...scope.states.keys()].map((n) => [n, t0]));
    const queue = [...scope.states.keys()].filter((n) => indegree.get(n) === 0);
    let end = t0;
    for (let i = 0; i < queue.length; i++) {
      const state = scope.states.get(queue[i]!)!;
      const start = ready.get(state.name)!;
      let finish = start;
      if (state.kind === 'task')
        finish = start + state.nodes.reduce((sum, n) => sum + nodeEstimate(plan.dag, n), 0);
      else if (state.kind === 'map') finish = start + nodeEstimate(plan.dag, state.node);
      else if (state.kind === 'parallel')
        finish = state.branches.reduce((max, b) => Math.max(max, scheduleScope(b, start)), start);
      else if (state.kind === 'barrier-wait')
        finish = state.producers.reduce(
          (max, p) => Math.max(max, released.get(barrierReleaseState(p)) ?? start),
          start,
        );
      times.set(state.name, { start, finish });
      end = Math.max(end, finish);
      for (const t of targetsOf(state)) {
        if (!indegree.has(t)) continue;
        ready.set(t, Math.max(ready.get(t)!, finish));
        const left = indegree.get(t)! - 1;
        indegree.set(t, left);
        if (left === 0) queue.push(t);
      }
    }
    return end;
  };
  scheduleScope(plan.root, 0);
  return times;
}

/** Earliest start and finish of every business node that can run, on the business DAG itself. */
function scheduleBusiness(plan: ExecutionPlan, active: ActiveGraph): Map<string, Interval> {
  const times = new Map<string, Interval>();
  for (const n of active.order) {
    const start = (active.predecessors.get(n) ?? []).reduce(
      (max, p) => Math.max(max, times.get(p)!.finish),
      0,
    );
    times.set(n, { start, finish: start + nodeEstimate(plan.dag, n) });
  }
  return times;
}

export interface ForkEstimate {
  readonly fork: string;
  /** The node where the fork's branches meet; undefined when they meet only at the task's end. */
  readonly join?: string;
  readonly makespan: number;
  readonly criticalPath: number;
}

export interface PlanEstimates {
  /** States defined in the definition, Map item states included. */
  readonly states: number;
  /** State entries of a task along its longest path, each Map's items counted once. */
  readonly transitions: number;
  readonly makespan: number;
  readonly criticalPath: number;
  readonly forks: readonly ForkEstimate[];
}

/** Where the plan runs a business node: its state's interval, a fused Task's share of it. */
function planTimesOfNodes(plan: ExecutionPlan, stateTimes: Map<string, Interval>): Map<string, Interval> {
  const times = new Map<string, Interval>([[plan.dag.start, { start: 0, finish: 0 }]]);
  for (const { state } of visitStates(plan)) {
    const at = stateTimes.get(state.name);
    if (!at) continue;
    if (state.kind === 'task') {
      let t = at.start;
      for (const n of state.nodes) {
        const finish = t + nodeEstimate(plan.dag, n);
        times.set(n, { start: t, finish });
        t = finish;
      }
    } else if (
      state.kind !== 'parallel' &&
      state.kind !== 'error' &&
      state.kind !== 'tolerance' &&
      state.kind !== 'map-items' &&
      state.kind !== 'map-results'
    ) {
      const node = nodesRunBy(state)[0];
      if (node !== undefined && !times.has(node)) times.set(node, at);
    }
  }
  return times;
}

export function planEstimates(plan: ExecutionPlan): PlanEstimates {
  const dag = plan.dag;
  const visited = visitStates(plan);
  const states =
    visited.length +
    visited.filter(({ state }) => state.kind === 'map').length +
    visited.filter(({ state }) => state.kind === 'map' && catchesItems(dag, state)).length;

  const stateTimes = schedulePlan(plan);
  const makespan = [...stateTimes.values()].reduce((max, t) => Math.max(max, t.finish), 0);
  const active = activeGraph(plan);
  const business = scheduleBusiness(plan, active);
  const criticalPath = [...business.values()].reduce((max, t) => Math.max(max, t.finish), 0);

  const planTimes = planTimesOfNodes(plan, stateTimes);
  const ipdom = immediatePostDominators(active.order, active.successors);
  const forks: ForkEstimate[] = [];
  for (const fork of active.order) {
    const node = dag.nodes.get(fork)!;
    const targets = 'next' in node ? nextList(node.next) : [];
    if (targets.length < 2) continue;
    const join = commonPostDominator(targets, ipdom);
    const forkPlan = planTimes.get(fork);
    const forkBusiness = business.get(fork);
    if (!forkPlan || !forkBusiness) continue;
    const joinPlan = join === VIRTUAL_EXIT ? makespan : planTimes.get(join)?.start;
    const joinBusiness = join === VIRTUAL_EXIT ? criticalPath : business.get(join)?.start;
    if (joinPlan === undefined || joinBusiness === undefined) continue;
    forks.push({
      fork,
      ...(join === VIRTUAL_EXIT ? {} : { join }),
      makespan: joinPlan - forkPlan.finish,
      criticalPath: joinBusiness - forkBusiness.finish,
    });
  }
  return { states, transitions: longestStateWalk(plan.root, dag), makespan, criticalPath, forks };
}

/** The most states one task enters: the longest walk from StartAt, all of a Parallel's branches. */
function longestStateWalk(scope: PlanScope, dag: ValidatedDag): number {
  const memo = new Map<string, number>();
  const walk = (name: string): number => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const state = scope.states.get(name);
    if (!state) return 0;
    let own = 1;
    if (state.kind === 'parallel')
      own += state.branches.reduce((sum, b) => sum + longestStateWalk(b, dag), 0);
    if (state.kind === 'map') own += catchesItems(dag, state) ? 2 : 1;
    const total = own + targetsOf(state).reduce((max, t) => Math.max(max, walk(t)), 0);
    memo.set(name, total);
    return total;
  };
  return walk(scope.startAt);
}

// ---- conditions as text ----------------------------------------------------------------------

/** A route's condition as text: the author's `when` while params left it as written, else the folded form. */
function routeText(plan: ExecutionPlan, state: ChoiceState, index: number): string {
  const condition = state.routes[index]!.condition;
  const router = plan.dag.nodes.get(state.node);
  const original = plan.dag.conditions.get(state.node) ?? [];
  const text = conditionToText(condition);
  if (router?.type === 'router') {
    // The rendering leaves out source positions, so it recognises a condition folding left alone.
    const i = original.findIndex((c) => conditionToText(c) === text);
    if (i >= 0) return router.routes[i]!.when;
  }
  return text;
}

export function conditionToText(expr: ConditionExpr): string {
  const wrap = (e: ConditionExpr) =>
    e.kind === 'and' || e.kind === 'or' || e.kind === 'compare'
      ? `(${conditionToText(e)})`
      : conditionToText(e);
  switch (expr.kind) {
    case 'const':
      return String(expr.value);
    case 'exists':
      return `exists(${pathText(expr.path)})`;
    case 'not':
      return `not ${wrap(expr.expr)}`;
    case 'and':
      return expr.items
        .map((i) => (i.kind === 'or' ? `(${conditionToText(i)})` : conditionToText(i)))
        .join(' and ');
    case 'or':
      return expr.items.map(conditionToText).join(' or ');
    case 'compare':
      return `${pathText(expr.left)} ${expr.op} ${
        expr.right.kind === 'path' ? pathText(expr.right) : literalText(expr.right.value)
      }`;
  }
}

function pathText(path: ConditionPath): string {
  let text: string = path.root;
  for (const segment of path.segments) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += `.${segment}`;
    else text += `[${literalText(segment)}]`;
  }
  return text;
}

function literalText(value: LiteralValue): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return JSON.stringify(value);
}

// ---- text ---------------------------------------------------------------------------------------

export interface PlanTextOptions {
  /** Also list every pass with what it changed. */
  readonly explain?: boolean;
}

/** `dag plan`: the business DAG, the plan as an indented tree of states, estimates, and the passes. */
export function planToText(plan: ExecutionPlan, options: PlanTextOptions = {}): string {
  const dag = plan.dag;
  const json = planToJson(plan);
  const lines: string[] = [];
  const paramsText = Object.keys(plan.params).length > 0 ? `, params ${JSON.stringify(plan.params)}` : '';
  lines.push(
    `workflow ${dag.workflow.name} (${plan.optimized ? 'optimized' : 'not optimized'}${paramsText})`,
  );

  lines.push('', `business DAG (${dag.nodes.size} nodes)`);
  const pruned = new Map(json.pruned.map((p) => [p.node, p.reason]));
  const decided = new Map(json.decidedRouters.map((d) => [d.router, d.next]));
  for (const [name, node] of dag.nodes) {
    const notes: string[] = [];
    const reason = pruned.get(name);
    if (reason === 'unreachable') notes.push('unreachable: pruned');
    if (reason === 'branch-not-taken') notes.push('on a branch not taken: pruned');
    const choice = decided.get(name);
    if (choice !== undefined) notes.push(`decided by params: -> ${choice}`);
    lines.push(
      `  ${name} [${describeNode(node)}]${edgesText(node)}${notes.length > 0 ? `  (${notes.join('; ')})` : ''}`,
    );
  }

  const estimates = planEstimates(plan);
  lines.push('', `execution plan (${estimates.states} states; * marks where each scope starts)`);
  renderScope(plan, plan.root, '  ', lines);

  lines.push('', 'estimates (a node without `estimate` counts 1 s)');
  const hasMap = json.states.some((s) => s.kind === 'map');
  lines.push(
    `  states per task: up to ${estimates.transitions} entered${hasMap ? ' (each Map item counted once)' : ''}`,
  );
  lines.push(`  makespan ${seconds(estimates.makespan)} (critical path ${seconds(estimates.criticalPath)})`);
  for (const fork of estimates.forks) {
    lines.push(
      `  fork '${fork.fork}' to ${fork.join === undefined ? 'the end' : `join '${fork.join}'`}: makespan ${seconds(fork.makespan)} (critical path ${seconds(fork.criticalPath)})`,
    );
  }

  if (options.explain) {
    lines.push('', 'passes');
    if (plan.passes.length === 0) lines.push('  none: --no-optimize compiles one state per node');
    for (const pass of plan.passes) {
      lines.push(`  ${pass.pass}${pass.changes.length === 0 ? ': no change' : ':'}`);
      for (const change of pass.changes) lines.push(`    - ${change}`);
    }
  }
  return lines.join('\n');
}

function describeNode(node: WorkflowNode): string {
  const estimate =
    'estimate' in node && node.estimate !== undefined
      ? ` ~${seconds(node.estimate)}`
      : node.type === 'parallel' && node.node.estimate !== undefined
        ? ` ~${seconds(node.node.estimate)}`
        : '';
  switch (node.type) {
    case 'sync':
      return `sync ${node.operator}${estimate}`;
    case 'async':
      return `async via ${node.via ?? 'lambda'}${node.operator !== undefined ? ` ${node.operator}` : ''}${estimate}`;
    case 'script':
      return `script ${node.language}${estimate}`;
    case 'parallel': {
      const inner = node.node;
      const what =
        inner.type === 'script' ? `script ${inner.language}` : `${inner.type} ${inner.operator ?? ''}`.trim();
      return `parallel over ${node.items}: ${what}${estimate}`;
    }
    case 'callback':
      return `callback ${node.target.kind}`;
    case 'end':
      return node.status === 'failed'
        ? `end failed${node.error !== undefined ? ` ${node.error}` : ''}`
        : 'end';
    case 'router':
    case 'start':
      return node.type;
  }
}

function edgesText(node: WorkflowNode): string {
  const parts: string[] = [];
  if (node.type === 'router') {
    node.routes.forEach((route) => {
      parts.push(`${route.next} when ${route.when}`);
    });
    parts.push(`${node.default} by default`);
    return ` -> ${parts.join(' | ')}`;
  }
  const targets = 'next' in node ? nextList(node.next) : [];
  let text = targets.length > 0 ? ` -> ${targets.join(', ')}` : '';
  if ('onError' in node && node.onError !== undefined) text += `; onError -> ${node.onError}`;
  return text;
}

function stateTypeText(plan: ExecutionPlan, state: PlanState): string {
  switch (state.kind) {
    case 'task':
      return 'Task';
    case 'error':
      return 'Pass (error as {error, cause})';
    case 'tolerance':
      return 'Task (tolerated failures)';
    case 'map-items':
      return 'Task (items into the object store)';
    case 'map-results':
      return 'Task (results from the object store, tolerated failures)';
    case 'barrier-wait':
      return `Task (barrier: waits for ${state.producers.join(', ')})`;
    case 'barrier-release':
      return `Task (barrier: releases ${state.consumers.join(', ')})`;
    case 'map':
      if (!state.storeBacked) return `Map (${state.mode})`;
      return `Map (${state.mode}, ${state.itemsState ? 'ItemReader and ' : ''}ResultWriter)`;
    case 'choice':
      return 'Choice';
    case 'parallel':
      return `Parallel (${state.branches.length} branches)`;
    case 'pass':
      return 'Pass';
    case 'end': {
      const node = plan.dag.nodes.get(state.node);
      if (node?.type !== 'end') return 'End';
      if (node.status === 'failed') return 'Fail';
      return node.output === undefined || typeof node.output === 'string' ? 'Succeed' : 'Pass (output)';
    }
  }
}

/** Which business nodes a state is about, when its name does not say: `runs a, b` or `for a`. */
function aboutNodes(state: PlanState): string | undefined {
  if (
    state.kind === 'error' ||
    state.kind === 'tolerance' ||
    state.kind === 'map-items' ||
    state.kind === 'map-results'
  )
    return `for ${state.node}`;
  const runs = nodesRunBy(state);
  if (runs.length > 1 || (runs.length === 1 && runs[0] !== state.name)) return `runs ${runs.join(', ')}`;
  return undefined;
}

function renderScope(plan: ExecutionPlan, scope: PlanScope, indent: string, lines: string[]): void {
  for (const state of scope.states.values()) {
    const mark = state.name === scope.startAt ? '* ' : '';
    const about = aboutNodes(state);
    let flow = '';
    if (state.kind !== 'choice') {
      flow = 'next' in state.transition ? ` -> ${state.transition.next}` : ' (end)';
      if ('catch' in state && state.catch) flow += `; on failure -> ${state.catch.next}`;
    }
    lines.push(
      `${indent}${mark}${state.name}: ${stateTypeText(plan, state)}${about ? ` ${about}` : ''}${flow}`,
    );
    if (state.kind === 'choice') {
      state.routes.forEach((route, i) => {
        lines.push(`${indent}    when ${routeText(plan, state, i)} -> ${route.next}`);
      });
      lines.push(`${indent}    default -> ${state.default}`);
    } else if (state.kind === 'parallel') {
      state.branches.forEach((branch, i) => {
        lines.push(`${indent}  branch ${i + 1}:`);
        renderScope(plan, branch, `${indent}    `, lines);
      });
    } else if (state.kind === 'map') {
      lines.push(`${indent}    each item: ${state.itemState}: Task`);
      if (catchesItems(plan.dag, state))
        lines.push(`${indent}    failed item: ${failedItemState(state.node)}: Pass (counted by the check)`);
    }
  }
}

// ---- Mermaid ----------------------------------------------------------------------------------

/** Mermaid ids: a prefix (so no id is a keyword such as `end`), then letters, digits and `_`; unique. */
class MermaidIds {
  private readonly ids = new Map<string, string>();
  private readonly taken = new Set<string>();

  constructor(private readonly prefix: string) {}

  of(key: string): string {
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const base = `${this.prefix}${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let id = base;
    for (let i = 2; this.taken.has(id); i++) id = `${base}_${i}`;
    this.ids.set(key, id);
    this.taken.add(id);
    return id;
  }
}

/** Text for a quoted Mermaid label: entity codes for what its parser would read as syntax. */
function mermaidText(text: string): string {
  return text.replace(/[#"<>&|`[\]{}]/g, (c) => `#${c.charCodeAt(0)};`).replace(/\r?\n/g, ' ');
}

/** A node: id, shape brackets around a quoted label whose lines are joined with `<br/>`. */
function mermaidNode(id: string, lines: readonly string[], shape: readonly [string, string]): string {
  return `${id}${shape[0]}"${lines.map(mermaidText).join('<br/>')}"${shape[1]}`;
}

function mermaidEdge(from: string, to: string, label?: string, dashed = false): string {
  return `${from} ${dashed ? '-.->' : '-->'}${label === undefined ? '' : `|"${mermaidText(label)}"|`} ${to}`;
}

const BUSINESS_SHAPES: Record<WorkflowNode['type'], readonly [string, string]> = {
  start: ['([', '])'],
  end: ['([', '])'],
  router: ['{', '}'],
  sync: ['[', ']'],
  async: ['[/', '/]'],
  parallel: ['[[', ']]'],
  callback: ['>', ']'],
  script: ['(', ')'],
};

/** The second line of a business node's picture: what it runs. */
function businessDetail(node: WorkflowNode): string | undefined {
  switch (node.type) {
    case 'sync':
      return node.operator;
    case 'async':
      return `async via ${node.via ?? 'lambda'}${node.operator !== undefined ? `: ${node.operator}` : ''}`;
    case 'script':
      return `script ${node.language}`;
    case 'parallel': {
      const inner = node.node;
      return `each item: ${inner.type === 'script' ? `script ${inner.language}` : (inner.operator ?? inner.type)}`;
    }
    case 'callback':
      return `callback ${node.target.kind}`;
    case 'end':
      return node.status === 'failed'
        ? `fail${node.error !== undefined ? `: ${node.error}` : ''}`
        : undefined;
    default:
      return undefined;
  }
}

function businessLines(name: string, node: WorkflowNode): string[] {
  const detail = businessDetail(node);
  return detail === undefined ? [name] : [name, detail];
}

interface LabelledEdge {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
  readonly dashed: boolean;
}

/** The business DAG's edges in declaration order: routes labelled with their `when`, onError dashed. */
function businessEdges(dag: ValidatedDag): LabelledEdge[] {
  return dag.edges.map((edge) => {
    const node = dag.nodes.get(edge.from);
    if (edge.kind === 'route' && node?.type === 'router')
      return { from: edge.from, to: edge.to, label: node.routes[edge.index ?? 0]?.when ?? '', dashed: false };
    if (edge.kind === 'default') return { from: edge.from, to: edge.to, label: 'default', dashed: false };
    if (edge.kind === 'onError') return { from: edge.from, to: edge.to, label: 'onError', dashed: true };
    return { from: edge.from, to: edge.to, dashed: false };
  });
}

const PRUNED_CLASS = 'classDef pruned stroke-dasharray: 4 4,color:#888888';

/** Node lines, edge lines and the pruned-class lines of the business DAG. */
function mermaidBusiness(
  dag: ValidatedDag,
  ids: MermaidIds,
  indent: string,
  pruned: ReadonlySet<string>,
): { nodes: string[]; edges: string[]; style: string[] } {
  const nodes = [...dag.nodes].map(
    ([name, node]) =>
      `${indent}${mermaidNode(ids.of(name), businessLines(name, node), BUSINESS_SHAPES[node.type])}`,
  );
  const edges = businessEdges(dag).map(
    (e) => `  ${mermaidEdge(ids.of(e.from), ids.of(e.to), e.label, e.dashed)}`,
  );
  const prunedIds = [...dag.nodes.keys()].filter((n) => pruned.has(n)).map((n) => ids.of(n));
  const style = prunedIds.length > 0 ? [`  ${PRUNED_CLASS}`, `  class ${prunedIds.join(',')} pruned`] : [];
  return { nodes, edges, style };
}

/** `dag graph --format mermaid`: the business DAG; router edges carry their conditions. */
export function dagToMermaid(dag: ValidatedDag): string {
  const b = mermaidBusiness(dag, new MermaidIds('n_'), '  ', new Set(dag.unreachable));
  return ['flowchart TD', ...b.nodes, ...b.edges, ...b.style].join('\n');
}

/** `dag plan --format mermaid`: the business DAG and the execution plan, side by side. */
export function planToMermaid(plan: ExecutionPlan): string {
  const json = planToJson(plan);
  const b = mermaidBusiness(plan.dag, new MermaidIds('b_'), '    ', new Set(json.pruned.map((p) => p.node)));
  const lines = [
    'flowchart TD',
    '  subgraph business["business DAG"]',
    '    direction TB',
    ...b.nodes,
    '  end',
  ];
  lines.push('  subgraph execution["execution plan"]', '    direction TB');
  const edges: string[] = [];
  const ids = { states: new MermaidIds('s_'), groups: new MermaidIds('g_') };
  renderMermaidScope(plan, plan.root, '    ', lines, edges, ids);
  lines.push('  end', ...b.edges, ...edges, ...b.style);
  return lines.join('\n');
}

function renderMermaidScope(
  plan: ExecutionPlan,
  scope: PlanScope,
  indent: string,
  lines: string[],
  edges: string[],
  ids: { readonly states: MermaidIds; readonly groups: MermaidIds },
): void {
  const stateId = (name: string) => ids.states.of(name);
  for (const state of scope.states.values()) {
    const id = stateId(state.name);
    const about = aboutNodes(state);
    const label = [state.name, stateTypeText(plan, state), ...(about ? [about] : [])];
    const title = label.map(mermaidText).join('<br/>');
    if (state.kind === 'parallel') {
      lines.push(`${indent}subgraph ${id}["${title}"]`, `${indent}  direction TB`);
      state.branches.forEach((branch, i) => {
        lines.push(`${indent}  subgraph ${ids.groups.of(`${state.name}/${i + 1}`)}["branch ${i + 1}"]`);
        renderMermaidScope(plan, branch, `${indent}    `, lines, edges, ids);
        lines.push(`${indent}  end`);
      });
      lines.push(`${indent}end`);
    } else if (state.kind === 'map') {
      lines.push(`${indent}subgraph ${id}["${title}"]`);
      lines.push(
        `${indent}  ${mermaidNode(stateId(state.itemState), [state.itemState, 'Task per item'], ['[', ']'])}`,
      );
      if (catchesItems(plan.dag, state)) {
        const failed = failedItemState(state.node);
        lines.push(`${indent}  ${mermaidNode(stateId(failed), [failed, 'Pass'], ['([', '])'])}`);
        edges.push(`  ${mermaidEdge(stateId(state.itemState), stateId(failed), 'failed', true)}`);
      }
      lines.push(`${indent}end`);
    } else {
      const shape: [string, string] =
        state.kind === 'choice'
          ? ['{', '}']
          : state.kind === 'end' || state.kind === 'pass'
            ? ['([', '])']
            : ['[', ']'];
      lines.push(`${indent}${id}${shape[0]}"${title}"${shape[1]}`);
    }
    if (state.kind === 'choice') {
      state.routes.forEach((route, i) => {
        edges.push(`  ${mermaidEdge(id, stateId(route.next), routeText(plan, state, i))}`);
      });
      edges.push(`  ${mermaidEdge(id, stateId(state.default), 'default')}`);
      continue;
    }
    if ('next' in state.transition) edges.push(`  ${mermaidEdge(id, stateId(state.transition.next))}`);
    if ('catch' in state && state.catch)
      edges.push(`  ${mermaidEdge(id, stateId(state.catch.next), 'catch', true)}`);
  }
}

// ---- Graphviz DOT -------------------------------------------------------------------------------

function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

const DOT_SHAPES: Record<WorkflowNode['type'], { shape: string; style?: string; peripheries?: number }> = {
  start: { shape: 'box', style: 'rounded' },
  end: { shape: 'box', style: 'rounded' },
  router: { shape: 'diamond' },
  sync: { shape: 'box' },
  async: { shape: 'parallelogram' },
  parallel: { shape: 'box', peripheries: 2 },
  callback: { shape: 'cds' },
  script: { shape: 'note' },
};

/** `dag graph --format dot`: the business DAG for Graphviz; onError edges dashed, unreachable nodes grey. */
export function dagToDot(dag: ValidatedDag): string {
  const lines = [
    `digraph ${dotString(dag.workflow.name)} {`,
    '  rankdir=TB;',
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  const unreachable = new Set(dag.unreachable);
  for (const [name, node] of dag.nodes) {
    const look = DOT_SHAPES[node.type];
    const styles = [look.style, unreachable.has(name) ? 'dashed' : undefined].filter((s) => s !== undefined);
    const attributes = [`shape=${look.shape}`];
    if (styles.length > 0) attributes.push(`style=${dotString(styles.join(','))}`);
    if (look.peripheries !== undefined) attributes.push(`peripheries=${look.peripheries}`);
    if (unreachable.has(name)) attributes.push('color=gray50', 'fontcolor=gray50');
    attributes.push(`label=${dotString(businessLines(name, node).join('\n'))}`);
    lines.push(`  ${dotString(name)} [${attributes.join(', ')}];`);
  }
  for (const edge of businessEdges(dag)) {
    const attributes: string[] = [];
    if (edge.label !== undefined) attributes.push(`label=${dotString(edge.label)}`);
    if (edge.dashed) attributes.push('style=dashed');
    const suffix = attributes.length > 0 ? ` [${attributes.join(', ')}]` : '';
    lines.push(`  ${dotString(edge.from)} -> ${dotString(edge.to)}${suffix};`);
  }
  lines.push('}');
  return lines.join('\n');
}
