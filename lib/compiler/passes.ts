// Optimisation passes over the execution plan. Each is a named pure step (plan in, plan out, with
// a report of what it changed) so `dag plan --explain` can show them. Order matters where noted.
import type { ConditionExpr } from '../dag/condition-ast.js';
import { isReference } from '../dag/reference.js';
import { DEFAULT_SYNC_TIMEOUT_SECONDS, type SyncNode } from '../dag/schema.js';
import { LAMBDA_MAX_SECONDS, operatorGroupOf } from '../runtime/operator-groups.js';
import { foldParams } from './choice.js';
import { declaredMaxItems, inlineMapItemLimit } from './limits.js';
import { storeDistributedMaps } from './map-io.js';
import {
  allStates,
  type ExecutionPlan,
  forEachScope,
  type PassReport,
  type PlanScope,
  type PlanState,
  retarget,
  type TaskState,
} from './plan-types.js';

export interface PlanPass {
  readonly name: string;
  readonly description: string;
  run(plan: ExecutionPlan): readonly string[];
}

// Plan traversal lives beside the plan's types; re-exported here, where most callers look for it.
export { allStates, forEachScope } from './plan-types.js';

function targetsOf(state: PlanState): string[] {
  const targets: string[] = [];
  if (state.kind === 'choice') targets.push(...state.routes.map((r) => r.next), state.default);
  else if ('next' in state.transition) targets.push(state.transition.next);
  if (
    (state.kind === 'task' ||
      state.kind === 'map' ||
      state.kind === 'tolerance' ||
      state.kind === 'map-items' ||
      state.kind === 'map-results') &&
    'catch' in state &&
    state.catch
  ) {
    targets.push((state.catch as { next: string }).next);
  }
  return targets;
}

/** Whether the only way into state `target` of the scope is from state `from`. */
function entersOnlyFrom(scope: PlanScope, target: string, from: string): boolean {
  if (scope.startAt === target) return false;
  for (const state of scope.states.values())
    if (state.name !== from && targetsOf(state).includes(target)) return false;
  return true;
}

/**
 * The node a router always goes to under the plan's params, when they decide it (every route
 * before the first that holds is ruled out), whether or not its Choice was removed.
 */
export function paramsDecidedRoute(plan: ExecutionPlan, router: string): string | undefined {
  const node = plan.dag.nodes.get(router);
  if (node?.type !== 'router') return undefined;
  const conditions = plan.dag.conditions.get(router) ?? [];
  for (const [i, route] of node.routes.entries()) {
    const condition = conditions[i] && foldParams(conditions[i], plan.params);
    if (condition?.kind !== 'const') return undefined;
    if (condition.value) return route.next;
  }
  return node.default;
}

/** Removes states no path from the scope's start reaches; returns the business nodes removed. */
function dropUnreachableStates(scope: PlanScope): string[] {
  const seen = new Set<string>();
  const stack = [scope.startAt];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name) || !scope.states.has(name)) continue;
    seen.add(name);
    stack.push(...targetsOf(scope.states.get(name)!));
  }
  const removed: string[] = [];
  for (const [name, state] of scope.states) {
    if (seen.has(name)) continue;
    scope.states.delete(name);
    removed.push(...businessNodesOf(state));
  }
  return removed;
}

export function businessNodesOf(state: PlanState): string[] {
  switch (state.kind) {
    case 'task':
      return [...state.nodes];
    case 'parallel':
      return state.branches.flatMap((b) => [...b.states.values()].flatMap(businessNodesOf));
    case 'error':
    case 'tolerance':
    case 'map-items':
    case 'map-results':
      return [];
    default:
      return 'node' in state && state.node !== undefined ? [state.node] : [];
  }
}

/** Prunes nodes that start cannot reach: the planner never placed them; this reports them. */
export const pruneUnreachable: PlanPass = {
  name: 'prune-unreachable',
  description: 'drop nodes that cannot be reached from start',
  run: (plan) => plan.dag.unreachable.map((n) => `pruned unreachable node '${n}'`),
};

/**
 * Reports how the planner ran each fork region (dag-spec §6): nested into Parallel states, and with
 * `--plan fastest` the cross-branch barriers that bring it to its critical path (barriers.ts).
 */
export const planForks: PlanPass = {
  name: 'plan-forks',
  description:
    'nest each fork region into Parallel states; add barriers where nesting alone would delay a node',
  run: (plan) =>
    plan.forks.map((fork) => {
      const where = `fork '${fork.fork}'${fork.join === undefined ? '' : ` to '${fork.join}'`} (${fork.units} units)`;
      const times = (makespan: number) =>
        `makespan ${seconds(makespan)}, critical path ${seconds(fork.criticalPath)}`;
      if (fork.barriers.length === 0) return `${where}: nested, ${times(fork.nestedMakespan)}`;
      const waits = fork.barriers.map(
        (b) => `'${b.consumer}' waits for ${b.producers.map((p) => `'${p}'`).join(', ')}`,
      );
      return `${where}: nested at ${seconds(fork.nestedMakespan)}; ${fork.barriers.length} barrier(s) (${waits.join('; ')}): ${times(fork.makespan)}`;
    }),
};

/** Seconds as `dag plan` prints them. */
export function seconds(value: number): string {
  return `${Number(value.toFixed(3))} s`;
}

/** Folds `params.*` into router conditions and removes the branches they rule out. */
export const pruneDecidedRouters: PlanPass = {
  name: 'prune-decided-routers',
  description:
    'fold params into router conditions; drop routes that cannot be taken and routers with one way left',
  run(plan) {
    const changes: string[] = [];
    forEachScope(plan.root, (scope) => {
      for (const state of [...scope.states.values()]) {
        // A router on a branch an earlier router ruled out is already gone: it never runs.
        if (state.kind !== 'choice' || !scope.states.has(state.name)) continue;
        const routes: { condition: ConditionExpr; next: string }[] = [];
        let fallback = state.default;
        for (const route of state.routes) {
          const condition = foldParams(route.condition, plan.params);
          if (condition.kind === 'const' && !condition.value) continue;
          if (condition.kind === 'const' && condition.value) {
            fallback = route.next;
            break;
          }
          routes.push({ condition, next: route.next });
        }
        const dropped = state.routes.length - routes.length;
        state.routes = routes;
        state.default = fallback;
        // Before looking at what enters `fallback`: the branches ruled out may have led there too.
        const removed = dropUnreachableStates(scope);
        if (routes.length === 0 && entersOnlyFrom(scope, fallback, state.name)) {
          // Tracking records the router when `fallback` is entered (dag-spec §5: a decided router
          // has its event), right only while nothing else enters it.
          scope.states.delete(state.name);
          retarget(scope, state.name, { next: fallback });
          // Routers removed earlier that led to this one are now recorded where it leads.
          for (const [router, target] of plan.decidedRouters)
            if (target === state.name) plan.decidedRouters.set(router, fallback);
          plan.decidedRouters.set(state.node, fallback);
          changes.push(
            `router '${state.node}' always goes to '${fallback}' with these params: removed its Choice`,
          );
        } else if (routes.length === 0) {
          // Entering `fallback` does not mean the router ran: a Pass of its own records it.
          scope.states.set(state.name, {
            kind: 'pass',
            name: state.name,
            node: state.node,
            transition: { next: fallback },
          });
          changes.push(
            `router '${state.node}' always goes to '${fallback}' with these params: a Pass replaces its Choice, as '${fallback}' is also reached another way`,
          );
        } else if (dropped > 0) {
          changes.push(`router '${state.node}': ${dropped} route(s) ruled out by params`);
        }
        if (removed.length > 0)
          changes.push(`pruned nodes on branches not taken: ${removed.map((n) => `'${n}'`).join(', ')}`);
      }
    });
    return changes;
  },
};

/** The start node needs no state of its own: StartAt points at what follows it. */
export const dropStartPlaceholder: PlanPass = {
  name: 'drop-start',
  description: 'the start node becomes StartAt instead of a Pass state',
  run(plan) {
    const start = plan.root.states.get(plan.dag.start);
    if (start?.kind !== 'pass' || !('next' in start.transition)) return [];
    plan.root.states.delete(start.name);
    retarget(plan.root, start.name, start.transition);
    return [`start '${start.name}' is StartAt '${plan.root.startAt}'`];
  },
};

/**
 * A chain of sync nodes, each the only way into the next, runs as one Task: the runtime runs the nodes
 * one after the other in one invocation and still records one event and one trace per node (a
 * transition costs about 80 small Lambda requests). Only where nothing tells the nodes apart at run
 * time: no `onError` (its path must start at that node), no retries (one Task's Retry would share one
 * budget among the nodes, where each has its own: a node could run out early, or run once too many),
 * time limits that fit one Lambda together, operators of one runtime group (the chain runs in one
 * function), and no `fuse: false`. A redriven chain skips the nodes that already succeeded.
 */
export const fuseSyncChains: PlanPass = {
  name: 'fuse-sync-chains',
  description: 'run chains of sync nodes in one Task, one event and trace per node still',
  run(plan) {
    const changes: string[] = [];
    const workflow = plan.dag.workflow;
    const fusible = (state: PlanState): state is TaskState =>
      state.kind === 'task' &&
      state.catch === undefined &&
      state.endsAs === undefined &&
      state.nodes.every((name) => {
        const node = plan.dag.nodes.get(name);
        const retried = ((node?.type === 'sync' ? node.retry : undefined) ?? workflow.defaults?.retry)
          ?.maxAttempts;
        return (
          node?.type === 'sync' && node.fuse !== false && node.onError === undefined && (retried ?? 1) <= 1
        );
      });
    const syncNode = (name: string) => plan.dag.nodes.get(name) as SyncNode;
    const timeoutOf = (name: string) =>
      syncNode(name).timeout ?? workflow.defaults?.timeout ?? DEFAULT_SYNC_TIMEOUT_SECONDS;
    // A chain's nodes share the head's group, and their limits add up.
    const joins = (head: TaskState, seconds: number, next: TaskState) => {
      const group = operatorGroupOf(syncNode(head.nodes[0]!).operator);
      return (
        next.nodes.every((n) => operatorGroupOf(syncNode(n).operator) === group) &&
        seconds + next.nodes.reduce((sum, n) => sum + timeoutOf(n), 0) <= LAMBDA_MAX_SECONDS
      );
    };

    forEachScope(plan.root, (scope) => {
      const incoming = new Map<string, number>([[scope.startAt, 1]]);
      for (const state of scope.states.values())
        for (const target of targetsOf(state)) incoming.set(target, (incoming.get(target) ?? 0) + 1);
      for (const head of [...scope.states.values()]) {
        if (!scope.states.has(head.name) || !fusible(head)) continue;
        let seconds = head.nodes.reduce((sum, n) => sum + timeoutOf(n), 0);
        for (;;) {
          const next = 'next' in head.transition ? scope.states.get(head.transition.next) : undefined;
          if (!next || !fusible(next) || incoming.get(next.name) !== 1 || !joins(head, seconds, next)) break;
          head.nodes.push(...next.nodes);
          seconds += next.nodes.reduce((sum, n) => sum + timeoutOf(n), 0);
          head.transition = next.transition;
          scope.states.delete(next.name);
        }
        if (head.nodes.length > 1)
          changes.push(`${head.nodes.map((n) => `'${n}'`).join(', ')} run as one Task '${head.name}'`);
      }
    });
    return changes;
  },
};

/**
 * An end node reached from exactly one state needs no state of its own: that state ends the task
 * with the end's output. Only succeeded ends whose output is the default or one reference, after a
 * state that can carry OutputPath and End (not a Choice).
 */
export const foldEnds: PlanPass = {
  name: 'fold-end',
  description: 'an end node reached from one state ends the task in that state',
  run(plan) {
    const changes: string[] = [];
    const scope = plan.root;
    for (const state of [...scope.states.values()]) {
      if (state.kind !== 'end' || scope.startAt === state.name) continue;
      const node = plan.dag.nodes.get(state.node);
      if (node?.type !== 'end' || node.status === 'failed') continue;
      // Entering it is what records a decided router that leads to it (prune-decided-routers).
      if ([...plan.decidedRouters.values()].includes(state.name)) continue;
      if (node.output !== undefined && !isReference(node.output)) continue;
      const incoming = [...scope.states.values()].filter((s) => targetsOf(s).includes(state.name));
      const [only] = incoming;
      if (incoming.length !== 1 || !only || only.kind === 'choice' || only.endsAs !== undefined) continue;
      if (!('next' in only.transition) || only.transition.next !== state.name) continue;
      only.endsAs = state.node;
      only.transition = { end: true };
      scope.states.delete(state.name);
      changes.push(`end '${state.node}' folded into '${only.name}'`);
    }
    return changes;
  },
};

/**
 * A parallel node without `mode` runs as an inline Map unless the workflow's input schema says its
 * items may outnumber what one execution's 25,000-event history holds: then it is a Distributed Map.
 */
export const chooseMapMode: PlanPass = {
  name: 'choose-map-mode',
  description: 'inline Map, or Distributed where the declared item count may pass the history limit',
  run(plan) {
    const changes: string[] = [];
    const workflow = plan.dag.workflow;
    for (const state of allStates(plan)) {
      if (state.kind !== 'map') continue;
      const node = plan.dag.nodes.get(state.node);
      if (node?.type !== 'parallel' || node.mode !== undefined) continue;
      const declared = declaredMaxItems(workflow.input, node.items);
      const limit = inlineMapItemLimit(node, workflow.defaults?.retry);
      if (declared !== undefined && declared > limit) {
        state.mode = 'distributed';
        changes.push(
          `'${state.node}' may run ${declared} items, over the ~${limit} an inline Map holds: Distributed Map`,
        );
      }
    }
    changes.push(...storeDistributedMaps(plan));
    return changes;
  },
};

/** The passes in the order they run. Routers are decided before anything else looks at the graph. */
export const OPTIMIZATION_PASSES: readonly PlanPass[] = [
  pruneUnreachable,
  planForks,
  pruneDecidedRouters,
  dropStartPlaceholder,
  // Before fold-end: a fused chain's Task can then end the task itself.
  fuseSyncChains,
  foldEnds,
  chooseMapMode,
];

export function runPasses(plan: ExecutionPlan, passes: readonly PlanPass[]): ExecutionPlan {
  for (const pass of passes) {
    const changes = pass.run(plan);
    const report: PassReport = { pass: pass.name, changes };
    plan.passes.push(report);
  }
  plan.optimized = true;
  return plan;
}
