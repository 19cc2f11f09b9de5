// A Distributed Map's items and results go through the object store (dag-spec §6): its items may
// pass the 256 KiB a state holds when they come from a node's output (which may be offloaded), and
// its results may pass it whenever the items are many. Around each Distributed Map this puts a
// `map-items` Task before it (when the items come from `$.nodes`: items from `$.input` fit the
// execution's input, so the Map reads them by ItemsPath) and a `map-results` Task after it, which
// also does what the tolerance check does for an inline Map (lib/runtime/map-store.ts).
import { parseReference } from '../dag/reference.js';
import {
  allStates,
  type ExecutionPlan,
  forEachScope,
  type MapState,
  type PlanScope,
  type PlanState,
  retarget,
} from './plan-types.js';

export function mapItemsState(node: string): string {
  return `${node}_items`;
}

export function mapResultsState(node: string): string {
  return `${node}_results`;
}

/** Whether a parallel node's `items` reads a node's output, which may be an offloaded payload. */
export function itemsFromNodes(items: string): boolean {
  const parsed = parseReference(items);
  return parsed.ok && parsed.segments[0] === 'nodes';
}

/**
 * Gives every Distributed Map of the plan that has none its object-store states; returns what it
 * did. Run when the plan is built (`mode: distributed`) and again when a pass makes a Map Distributed.
 */
export function storeDistributedMaps(plan: ExecutionPlan): string[] {
  const changes: string[] = [];
  forEachScope(plan.root, (scope) => {
    for (const state of [...scope.states.values()]) {
      if (state.kind !== 'map' || state.mode !== 'distributed' || state.storeBacked) continue;
      storeMap(plan, scope, state);
      changes.push(
        `'${state.node}' reads its items${state.itemsState ? ` from the object store ('${state.itemsState}')` : ' by ItemsPath'} and writes its results there ('${state.toleranceState}')`,
      );
    }
  });
  return changes;
}

/** Whether the plan stages a parallel node's items in the object store (its Map has an ItemReader). */
export function itemsStaged(plan: ExecutionPlan, node: string): boolean {
  return allStates(plan).some((s) => s.kind === 'map-items' && s.node === node);
}

function storeMap(plan: ExecutionPlan, scope: PlanScope, map: MapState): void {
  const node = plan.dag.nodes.get(map.node);
  if (node?.type !== 'parallel') throw new Error(`internal: ${map.node} is not a parallel node`);
  const before: PlanState[] = [];
  const after: PlanState[] = [];
  if (itemsFromNodes(node.items)) {
    const items: PlanState = {
      kind: 'map-items',
      name: mapItemsState(map.node),
      node: map.node,
      transition: { next: map.name },
      ...(map.catch ? { catch: map.catch } : {}),
    };
    retargetInto(plan, scope, map.name, items.name);
    map.itemsState = items.name;
    before.push(items);
  }
  const results: PlanState = {
    kind: 'map-results',
    name: mapResultsState(map.node),
    node: map.node,
    transition: map.transition,
    ...(map.catch ? { catch: map.catch } : {}),
  };
  if (map.toleranceState !== undefined) {
    // The collector checks the tolerated share itself: it takes the tolerance check's place.
    const check = scope.states.get(map.toleranceState);
    if (check?.kind === 'tolerance') {
      results.transition = check.transition;
      if (check.endsAs !== undefined) results.endsAs = check.endsAs;
      scope.states.delete(check.name);
    }
  } else if (map.endsAs !== undefined) {
    results.endsAs = map.endsAs;
    delete map.endsAs;
  }
  map.transition = { next: results.name };
  map.toleranceState = results.name;
  map.storeBacked = true;
  after.push(results);
  // Emission order: the new states beside their Map, so the definition reads top to bottom.
  const entries = [...scope.states.entries()];
  scope.states.clear();
  for (const [name, state] of entries) {
    for (const s of name === map.name ? before : []) scope.states.set(s.name, s);
    scope.states.set(name, state);
    for (const s of name === map.name ? after : []) scope.states.set(s.name, s);
  }
}

/** Every way into state `from` of the scope, and a decided router's "entered after", now enters `to`. */
function retargetInto(plan: ExecutionPlan, scope: PlanScope, from: string, to: string): void {
  retarget(scope, from, { next: to });
  for (const [router, target] of plan.decidedRouters)
    if (target === from) plan.decidedRouters.set(router, to);
}
