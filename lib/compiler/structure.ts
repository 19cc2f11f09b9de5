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
  const position = new Map(dag.order.map((id, i) => [id, i]));
  const predecessors = new Map<string, string[]>(dag.order.map((id) => [id, []]));
  for (const id of dag.order)
    for (const next of dag.successors.get(id) ?? []) predecessors.get(next)?.push(id);
  const context: NestContext = { dag, position, predecessors, spans: new WeakMap() };
  return nest(dag.order, context);
}

interface NestContext {
  readonly dag: AndDag;
  readonly position: ReadonlyMap<string, number>;
  readonly predecessors: ReadonlyMap<string, readonly string[]>;
  /** Makespans of subtrees already measured: comparing nestings must not re-walk them. */
  readonly spans: WeakMap<NestTree, number>;
}

function span(tree: NestTree, context: NestContext): number {
  const known = context.spans.get(tree);
  if (known !== undefined) return known;
  let value: number;
  if (tree.kind === 'unit') value = context.dag.weight(tree.id);
  else if (tree.kind === 'seq') value = tree.items.reduce((sum, item) => sum + span(item, context), 0);
  else value = tree.branches.reduce((max, b) => Math.max(max, span(b, context)), 0);
  context.spans.set(tree, value);
  return value;
}

function nest(units: readonly string[], context: NestContext): NestTree {
  if (units.length === 1) return { kind: 'unit', id: units[0]! };
  if (units.length === 0) return { kind: 'seq', items: [], cuts: [] };
  const members = new Set(units);
  const components = weakComponents(units, members, context);
  if (components.length > 1) return par(components.map((c) => nest(c, context)));

  const bottlenecks = findBottlenecks(units, members, context);
  if (bottlenecks.length > 0)
    return seq(
      splitAtBottlenecks(units, bottlenecks, members, context).map((part) => nest(part, context)),
      false,
    );

  const cut = seq(
    bestCut(units, members, context).map((part) => nest(part, context)),
    true,
  );
  const levels = levelGroups(units, members, context);
  const levelSpan = levels.reduce((sum, group) => sum + Math.max(...group.map(context.dag.weight)), 0);
  return levelSpan < span(cut, context)
    ? seq(
        levels.map((group) => par(group.map((id) => ({ kind: 'unit', id }) as NestTree))),
        true,
      )
    : cut;
}

/** Units grouped by longest path from the component's sources: the level-by-level schedule. */
function levelGroups(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): string[][] {
  const level = new Map<string, number>();
  const groups: string[][] = [];
  for (const id of units) {
    let own = 0;
    for (const p of context.predecessors.get(id) ?? [])
      if (members.has(p)) own = Math.max(own, level.get(p)! + 1);
    level.set(id, own);
    const group = groups[own];
    if (group) group.push(id);
    else groups[own] = [id];
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

function weakComponents(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): string[][] {
  const component = new Map<string, number>();
  let count = 0;
  for (const root of units) {
    if (component.has(root)) continue;
    const stack = [root];
    component.set(root, count);
    const visit = (n: string) => {
      if (!members.has(n) || component.has(n)) return;
      component.set(n, count);
      stack.push(n);
    };
    while (stack.length > 0) {
      const id = stack.pop()!;
      for (const n of context.dag.successors.get(id) ?? []) visit(n);
      for (const n of context.predecessors.get(id) ?? []) visit(n);
    }
    count++;
  }
  const groups: string[][] = Array.from({ length: count }, () => []);
  for (const id of units) groups[component.get(id)!]!.push(id);
  return groups;
}

/**
 * Units that every other unit of the component comes before or after: series split points. In a
 * topological order, the unit at position p is one exactly when no edge jumps over p, no unit before
 * p is a sink and none after p a source: then every path out of the prefix runs through it. One sweep.
 */
function findBottlenecks(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): string[] {
  const index = new Map(units.map((id, i) => [id, i]));
  const n = units.length;
  // reach[i]: the furthest position an edge from a unit before i lands on.
  let reach = -1;
  let sinkSeen = false;
  const clearBefore: boolean[] = new Array(n).fill(false);
  for (let i = 0; i < n; i++) {
    clearBefore[i] = reach <= i && !sinkSeen;
    let furthest = -1;
    for (const next of context.dag.successors.get(units[i]!) ?? []) {
      const j = index.get(next);
      if (j !== undefined && members.has(next)) furthest = Math.max(furthest, j);
    }
    if (furthest < 0) sinkSeen = true;
    reach = Math.max(reach, furthest);
  }
  const bottlenecks: string[] = [];
  let sourceAfter = false;
  for (let i = n - 1; i >= 0; i--) {
    if (clearBefore[i] && !sourceAfter) bottlenecks.push(units[i]!);
    const hasPredecessor = (context.predecessors.get(units[i]!) ?? []).some((p) => members.has(p));
    if (!hasPredecessor) sourceAfter = true;
  }
  return bottlenecks.reverse();
}

function splitAtBottlenecks(
  units: readonly string[],
  bottlenecks: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): string[][] {
  // Bottlenecks are totally ordered (each is before or after the others); units between two
  // consecutive ones form a part. Units keep their topological order inside each part.
  const cut = new Set(bottlenecks);
  const parts: string[][] = [];
  const rank = new Map(bottlenecks.map((b, i) => [b, i]));
  // A non-bottleneck unit belongs after the last bottleneck that is its ancestor.
  const partOf = new Map<string, number>();
  for (const id of units) {
    if (cut.has(id)) continue;
    let after = -1;
    for (const p of context.predecessors.get(id) ?? []) {
      if (!members.has(p)) continue;
      const r = cut.has(p) ? rank.get(p)! : (partOf.get(p) ?? -1);
      after = Math.max(after, r);
    }
    partOf.set(id, after);
  }
  // Units bucketed by the bottleneck they follow (-1: before the first), in one pass.
  const between: string[][] = Array.from({ length: bottlenecks.length + 1 }, () => []);
  for (const u of units) if (!cut.has(u)) between[partOf.get(u)! + 1]!.push(u);
  bottlenecks.forEach((id, i) => {
    if (between[i]!.length > 0) parts.push(between[i]!);
    parts.push([id]);
  });
  if (between[bottlenecks.length]!.length > 0) parts.push(between[bottlenecks.length]!);
  return parts;
}

function bestCut(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): [string[], string[]] {
  const weight = context.dag.weight;
  const finish = new Map<string, number>();
  for (const id of units) {
    let start = 0;
    for (const p of context.predecessors.get(id) ?? [])
      if (members.has(p)) start = Math.max(start, finish.get(p)!);
    finish.set(id, start + weight(id));
  }
  // The part after a threshold is closed under successors, so its critical path is the longest
  // "tail" (a unit's weight plus its longest way to a sink) among its units: one backward pass gives
  // every tail, and a suffix maximum over units sorted by finish time prices every cut at once.
  const tail = new Map<string, number>();
  for (let i = units.length - 1; i >= 0; i--) {
    const id = units[i]!;
    let longest = 0;
    for (const next of context.dag.successors.get(id) ?? [])
      if (members.has(next)) longest = Math.max(longest, tail.get(next)!);
    tail.set(id, weight(id) + longest);
  }
  // Sorted on plain numbers: a comparator reading the map would cost a lookup per comparison.
  const byFinish = units
    .map((id) => ({ id, at: finish.get(id)! }))
    .sort((a, b) => a.at - b.at)
    .map((entry) => entry.id);
  const suffixTail: number[] = new Array(byFinish.length + 1).fill(0);
  for (let i = byFinish.length - 1; i >= 0; i--)
    suffixTail[i] = Math.max(suffixTail[i + 1]!, tail.get(byFinish[i]!)!);
  const costs: { cost: number; theta: number; index: number }[] = [];
  for (let i = 0; i < byFinish.length - 1; i++) {
    const theta = finish.get(byFinish[i]!)!;
    if (theta === finish.get(byFinish[i + 1]!)) continue; // not a boundary: equal finish times stay together
    costs.push({ cost: theta + suffixTail[i + 1]!, theta, index: i });
  }
  // A connected component of two or more units always has a strict threshold; the fallback only
  // guards against equal finishing times everywhere, where the first unit alone is a valid cut.
  if (costs.length === 0) return [[units[0]!], units.slice(1)];
  // Among equally cheap cuts take the one nearest the middle: the recursion then halves the
  // component instead of peeling one band off a long DAG per level (which made planning quadratic).
  const best = Math.min(...costs.map((c) => c.cost));
  const middle = byFinish.length / 2;
  let chosen = costs[0]!;
  for (const c of costs) {
    if (c.cost > best + 1e-9) continue;
    if (chosen.cost > best + 1e-9 || Math.abs(c.index - middle) < Math.abs(chosen.index - middle)) chosen = c;
  }
  const theta = chosen.theta;
  return [units.filter((id) => finish.get(id)! <= theta), units.filter((id) => finish.get(id)! > theta)];
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
