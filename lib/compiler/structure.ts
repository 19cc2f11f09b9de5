// Turning an AND-DAG (every node runs, each after all its predecessors) into the nested
// sequence/parallel structure that ASL can express: Parallel states nest, they cannot cross.
//
// Series-parallel graphs decompose exactly (series at bottleneck nodes, parallel at weakly connected
// components), so they keep their critical path. A component that is neither has no exact nesting; it
// is cut into a predecessor-closed part A and the rest B, run as sequence(A, B), choosing among cuts
// at earliest-finish thresholds the one with the smallest CP(A) + CP(B) (durations from `estimate`).
// Each part is then decomposed the same way. Every node still runs after all its predecessors
// (A is closed under predecessors). A cut's cost is only a lower bound of its nesting's makespan, so
// a component keeps its level-by-level nesting (levels by longest path, one after another) when
// that is faster: by induction over the decomposition (parallel parts keep their levels, series
// parts stack theirs), the result is never slower than the level-by-level schedule.

export type NestTree =
  | { readonly kind: 'unit'; readonly id: string }
  | {
      readonly kind: 'seq';
      readonly items: readonly NestTree[];
      /**
       * `cuts[i]` is true when the boundary between items i and i+1 is one the nesting chose (a cut
       * or a level boundary: some unit after it does not depend on every unit before it), false when
       * the DAG implies it (a series split point). Barriers (barriers.ts) replace only cuts.
       */
      readonly cuts: readonly boolean[];
    }
  | { readonly kind: 'par'; readonly branches: readonly NestTree[] };

export interface AndDag {
  /** Units in a topological order. */
  readonly order: readonly string[];
  readonly successors: ReadonlyMap<string, readonly string[]>;
  /** Expected duration of a unit (any consistent unit); 1 when unknown. */
  readonly weight: (id: string) => number;
}

export function nestAndDag(dag: AndDag): NestTree {
  return nest(
    dag.order.map((_, i) => i),
    indexGraph(dag),
  );
}

/**
 * The AND-DAG on integer indexes (its topological order), with scratch arrays the recursion shares: a
 * call marks its units as its own (`member`) and uses the scratch for them only before it recurses,
 * so the parts it hands down may overwrite them. Sorted index lists are in topological order.
 */
interface IndexedGraph {
  readonly ids: readonly string[];
  readonly succStart: Int32Array;
  readonly succ: Int32Array;
  readonly predStart: Int32Array;
  readonly pred: Int32Array;
  readonly weight: Float64Array;
  readonly weightOf: (id: string) => number;
  readonly member: Int32Array;
  readonly mark: Int32Array;
  readonly finish: Float64Array;
  readonly tail: Float64Array;
  calls: number;
  /** Makespans of subtrees already measured: comparing nestings must not re-walk them. */
  readonly spans: WeakMap<NestTree, number>;
}

function indexGraph(dag: AndDag): IndexedGraph {
  const n = dag.order.length;
  const index = new Map(dag.order.map((id, i) => [id, i]));
  const outs = dag.order.map((id) =>
    (dag.successors.get(id) ?? []).map((next) => index.get(next)).filter((j): j is number => j !== undefined),
  );
  const succStart = new Int32Array(n + 1);
  const predStart = new Int32Array(n + 1);
  outs.forEach((targets, i) => {
    succStart[i + 1] = succStart[i]! + targets.length;
    for (const j of targets) predStart[j + 1]!++;
  });
  for (let i = 0; i < n; i++) predStart[i + 1]! += predStart[i]!;
  const succ = new Int32Array(succStart[n]!);
  const pred = new Int32Array(predStart[n]!);
  const fill = predStart.slice(0, n);
  outs.forEach((targets, i) => {
    targets.forEach((j, k) => {
      succ[succStart[i]! + k] = j;
      pred[fill[j]!++] = i;
    });
  });
  return {
    ids: dag.order,
    succStart,
    succ,
    predStart,
    pred,
    weight: Float64Array.from(dag.order, (id) => dag.weight(id)),
    weightOf: dag.weight,
    member: new Int32Array(n),
    mark: new Int32Array(n),
    finish: new Float64Array(n),
    tail: new Float64Array(n),
    calls: 0,
    spans: new WeakMap(),
  };
}

function span(tree: NestTree, g: IndexedGraph): number {
  const known = g.spans.get(tree);
  if (known !== undefined) return known;
  let value: number;
  if (tree.kind === 'unit') value = g.weightOf(tree.id);
  else if (tree.kind === 'seq') value = tree.items.reduce((sum, item) => sum + span(item, g), 0);
  else value = tree.branches.reduce((max, b) => Math.max(max, span(b, g)), 0);
  g.spans.set(tree, value);
  return value;
}

function unit(g: IndexedGraph, u: number): NestTree {
  return { kind: 'unit', id: g.ids[u]! };
}

function nest(units: readonly number[], g: IndexedGraph): NestTree {
  if (units.length === 1) return unit(g, units[0]!);
  if (units.length === 0) return { kind: 'seq', items: [], cuts: [] };
  const call = ++g.calls;
  for (const u of units) g.member[u] = call;
  const components = weakComponents(units, call, g);
  if (components.length > 1) return par(components.map((c) => nest(c, g)));

  const bottlenecks = findBottlenecks(units, call, g);
  if (bottlenecks.length > 0)
    return seq(
      splitAtBottlenecks(units, bottlenecks, call, g).map((part) => nest(part, g)),
      false,
    );

  // Both alternatives are read off the scratch before the recursion reuses it.
  const levels = levelGroups(units, call, g);
  const levelSpan = levels.reduce(
    (sum, group) => sum + group.reduce((max, u) => Math.max(max, g.weight[u]!), Number.NEGATIVE_INFINITY),
    0,
  );
  const cut = seq(
    bestCut(units, call, g).map((part) => nest(part, g)),
    true,
  );
  return levelSpan < span(cut, g)
    ? seq(
        levels.map((group) => par(group.map((u) => unit(g, u)))),
        true,
      )
    : cut;
}

/** Units grouped by longest path from the component's sources: the level-by-level schedule. */
function levelGroups(units: readonly number[], call: number, g: IndexedGraph): number[][] {
  const level = g.mark;
  const groups: number[][] = [];
  for (const u of units) {
    let own = 0;
    for (let k = g.predStart[u]!; k < g.predStart[u + 1]!; k++) {
      const p = g.pred[k]!;
      if (g.member[p] === call) own = Math.max(own, level[p]! + 1);
    }
    level[u] = own;
    const group = groups[own];
    if (group) group.push(u);
    else groups[own] = [u];
  }
  return groups;
}

/** A sequence of `items`, nested sequences flattened; `cut` marks the boundaries between the items. */
export function seq(items: readonly NestTree[], cut: boolean): NestTree {
  return sequence(
    items,
    items.slice(1).map(() => cut),
  );
}

/** A sequence with a flag per boundary (`cuts[i]` between items i and i+1), nested sequences flattened. */
export function sequence(items: readonly NestTree[], cuts: readonly boolean[]): NestTree {
  const flat: NestTree[] = [];
  const flags: boolean[] = [];
  items.forEach((item, i) => {
    if (item.kind === 'seq' && item.items.length === 0) return;
    if (flat.length > 0) flags.push(i > 0 ? cuts[i - 1]! : false);
    if (item.kind !== 'seq') {
      flat.push(item);
      return;
    }
    flat.push(...item.items);
    flags.push(...item.cuts);
  });
  return flat.length === 1 ? flat[0]! : { kind: 'seq', items: flat, cuts: flags };
}

export function par(branches: readonly NestTree[]): NestTree {
  const flat = branches.flatMap((b) => (b.kind === 'par' ? b.branches : [b]));
  return flat.length === 1 ? flat[0]! : { kind: 'par', branches: flat };
}

function weakComponents(units: readonly number[], call: number, g: IndexedGraph): number[][] {
  const label = g.mark;
  for (const u of units) label[u] = -1;
  let count = 0;
  const stack: number[] = [];
  const visit = (v: number) => {
    if (g.member[v] !== call || label[v] !== -1) return;
    label[v] = count;
    stack.push(v);
  };
  for (const root of units) {
    if (label[root] !== -1) continue;
    visit(root);
    while (stack.length > 0) {
      const x = stack.pop()!;
      for (let k = g.succStart[x]!; k < g.succStart[x + 1]!; k++) visit(g.succ[k]!);
      for (let k = g.predStart[x]!; k < g.predStart[x + 1]!; k++) visit(g.pred[k]!);
    }
    count++;
  }
  const groups: number[][] = Array.from({ length: count }, () => []);
  for (const u of units) groups[label[u]!]!.push(u);
  return groups;
}

/**
 * Units that every other unit of the component comes before or after: series split points. In a
 * topological order, the unit at position p is one exactly when no edge jumps over p, no unit before
 * p is a sink and none after p a source: then every path out of the prefix runs through it. One sweep.
 */
function findBottlenecks(units: readonly number[], call: number, g: IndexedGraph): number[] {
  const position = g.mark;
  units.forEach((u, i) => {
    position[u] = i;
  });
  const n = units.length;
  let reach = -1;
  let sinkSeen = false;
  const clearBefore = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    clearBefore[i] = reach <= i && !sinkSeen ? 1 : 0;
    let furthest = -1;
    const u = units[i]!;
    for (let k = g.succStart[u]!; k < g.succStart[u + 1]!; k++) {
      const next = g.succ[k]!;
      if (g.member[next] === call) furthest = Math.max(furthest, position[next]!);
    }
    if (furthest < 0) sinkSeen = true;
    reach = Math.max(reach, furthest);
  }
  const bottlenecks: number[] = [];
  let sourceAfter = false;
  for (let i = n - 1; i >= 0; i--) {
    if (clearBefore[i] && !sourceAfter) bottlenecks.push(units[i]!);
    const u = units[i]!;
    let hasPredecessor = false;
    for (let k = g.predStart[u]!; k < g.predStart[u + 1]! && !hasPredecessor; k++)
      hasPredecessor = g.member[g.pred[k]!] === call;
    if (!hasPredecessor) sourceAfter = true;
  }
  return bottlenecks.reverse();
}

function splitAtBottlenecks(
  units: readonly number[],
  bottlenecks: readonly number[],
  call: number,
  g: IndexedGraph,
): number[][] {
  // Bottlenecks are totally ordered (each is before or after the others); a unit between two
  // consecutive ones belongs after the last bottleneck that is its ancestor (-1: before the first).
  // `mark` holds, per unit, that bottleneck's rank; bottlenecks are marked by rank + n, apart.
  const n = units.length;
  const partOf = g.mark;
  bottlenecks.forEach((b, i) => {
    partOf[b] = n + i;
  });
  const isBottleneck = (u: number) => partOf[u]! >= n && bottlenecks[partOf[u]! - n] === u;
  const between: number[][] = Array.from({ length: bottlenecks.length + 1 }, () => []);
  for (const u of units) {
    if (isBottleneck(u)) continue;
    let after = -1;
    for (let k = g.predStart[u]!; k < g.predStart[u + 1]!; k++) {
      const p = g.pred[k]!;
      if (g.member[p] !== call) continue;
      after = Math.max(after, isBottleneck(p) ? partOf[p]! - n : partOf[p]!);
    }
    partOf[u] = after;
    between[after + 1]!.push(u);
  }
  const parts: number[][] = [];
  bottlenecks.forEach((b, i) => {
    if (between[i]!.length > 0) parts.push(between[i]!);
    parts.push([b]);
  });
  if (between[bottlenecks.length]!.length > 0) parts.push(between[bottlenecks.length]!);
  return parts;
}

function bestCut(units: readonly number[], call: number, g: IndexedGraph): [number[], number[]] {
  const { finish, tail, weight } = g;
  for (const u of units) {
    let start = 0;
    for (let k = g.predStart[u]!; k < g.predStart[u + 1]!; k++) {
      const p = g.pred[k]!;
      if (g.member[p] === call) start = Math.max(start, finish[p]!);
    }
    finish[u] = start + weight[u]!;
  }
  // The part after a threshold is closed under successors, so its critical path is the longest
  // "tail" (a unit's weight plus its longest way to a sink) among its units: one backward pass gives
  // every tail, and a suffix maximum over units sorted by finish time prices every cut at once.
  for (let i = units.length - 1; i >= 0; i--) {
    const u = units[i]!;
    let longest = 0;
    for (let k = g.succStart[u]!; k < g.succStart[u + 1]!; k++) {
      const next = g.succ[k]!;
      if (g.member[next] === call) longest = Math.max(longest, tail[next]!);
    }
    tail[u] = weight[u]! + longest;
  }
  // A stable sort: units finishing together keep their topological order.
  const byFinish = [...units].sort((a, b) => finish[a]! - finish[b]!);
  const suffixTail = new Float64Array(byFinish.length + 1);
  for (let i = byFinish.length - 1; i >= 0; i--)
    suffixTail[i] = Math.max(suffixTail[i + 1]!, tail[byFinish[i]!]!);
  // Among equally cheap cuts take the one nearest the middle: the recursion then halves the
  // component instead of peeling one band off a long DAG per level (which made planning quadratic).
  const middle = byFinish.length / 2;
  let best = Number.POSITIVE_INFINITY;
  let chosen = -1;
  for (let i = 0; i < byFinish.length - 1; i++) {
    const theta = finish[byFinish[i]!]!;
    if (theta === finish[byFinish[i + 1]!]) continue; // not a boundary: equal finish times stay together
    const cost = theta + suffixTail[i + 1]!;
    if (cost < best - 1e-9 || (cost <= best + 1e-9 && Math.abs(i - middle) < Math.abs(chosen - middle))) {
      if (cost < best - 1e-9) best = cost;
      chosen = i;
    }
  }
  // A connected component of two or more units always has a strict threshold; the fallback only
  // guards against equal finishing times everywhere, where the first unit alone is a valid cut.
  if (chosen < 0) return [[units[0]!], units.slice(1)];
  const theta = finish[byFinish[chosen]!]!;
  return [units.filter((u) => finish[u]! <= theta), units.filter((u) => finish[u]! > theta)];
}

/** The makespan of a nesting when each unit takes its weight: sequence adds, parallel takes the maximum. */
export function nestMakespan(tree: NestTree, weight: (id: string) => number): number {
  switch (tree.kind) {
    case 'unit':
      return weight(tree.id);
    case 'seq':
      return tree.items.reduce((sum, item) => sum + nestMakespan(item, weight), 0);
    case 'par':
      return tree.branches.reduce((max, b) => Math.max(max, nestMakespan(b, weight)), 0);
  }
}
