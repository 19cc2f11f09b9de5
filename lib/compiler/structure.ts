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
  | { readonly kind: 'seq'; readonly items: readonly NestTree[] }
  | { readonly kind: 'par'; readonly branches: readonly NestTree[] };

export interface AndDag {
  /** Units in a topological order. */
  readonly order: readonly string[];
  readonly successors: ReadonlyMap<string, readonly string[]>;
  /** Expected duration of a unit (any consistent unit); 1 when unknown. */
  readonly weight: (id: string) => number;
}

/** Candidate cut thresholds tried per non-series-parallel component; keeps planning near-linear. */
const MAX_CUT_CANDIDATES = 16;

export function nestAndDag(dag: AndDag): NestTree {
  const position = new Map(dag.order.map((id, i) => [id, i]));
  const predecessors = new Map<string, string[]>(dag.order.map((id) => [id, []]));
  for (const id of dag.order)
    for (const next of dag.successors.get(id) ?? []) predecessors.get(next)?.push(id);
  const context: NestContext = { dag, position, predecessors };
  return nest(dag.order, context);
}

interface NestContext {
  readonly dag: AndDag;
  readonly position: ReadonlyMap<string, number>;
  readonly predecessors: ReadonlyMap<string, readonly string[]>;
}

function nest(units: readonly string[], context: NestContext): NestTree {
  if (units.length === 1) return { kind: 'unit', id: units[0]! };
  if (units.length === 0) return { kind: 'seq', items: [] };
  const members = new Set(units);
  const components = weakComponents(units, members, context);
  if (components.length > 1) return par(components.map((c) => nest(c, context)));

  const bottlenecks = findBottlenecks(units, members, context);
  if (bottlenecks.length > 0)
    return seq(splitAtBottlenecks(units, bottlenecks, members, context).map((part) => nest(part, context)));

  const [first, rest] = bestCut(units, members, context);
  const cut = seq([nest(first, context), nest(rest, context)]);
  const levels = levelNesting(units, members, context);
  const weight = context.dag.weight;
  return nestMakespan(levels, weight) < nestMakespan(cut, weight) ? levels : cut;
}

/** Units grouped by longest path from the component's sources, each level a Parallel after the last. */
function levelNesting(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): NestTree {
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
  return seq(groups.map((group) => par(group.map((id) => ({ kind: 'unit', id }) as NestTree))));
}

function seq(items: NestTree[]): NestTree {
  const flat = items.flatMap((item) => (item.kind === 'seq' ? item.items : [item]));
  return flat.length === 1 ? flat[0]! : { kind: 'seq', items: flat };
}

function par(branches: NestTree[]): NestTree {
  const flat = branches.flatMap((b) => (b.kind === 'par' ? b.branches : [b]));
  return flat.length === 1 ? flat[0]! : { kind: 'par', branches: flat };
}

function neighboursWithin(id: string, members: ReadonlySet<string>, context: NestContext): string[] {
  return [...(context.dag.successors.get(id) ?? []), ...(context.predecessors.get(id) ?? [])].filter((n) =>
    members.has(n),
  );
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
    while (stack.length > 0) {
      for (const n of neighboursWithin(stack.pop()!, members, context)) {
        if (!component.has(n)) {
          component.set(n, count);
          stack.push(n);
        }
      }
    }
    count++;
  }
  const groups: string[][] = Array.from({ length: count }, () => []);
  for (const id of units) groups[component.get(id)!]!.push(id);
  return groups;
}

/** Bitsets of descendants within `units` (given in topological order). */
function descendantSets(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): Map<string, Uint32Array> {
  const index = new Map(units.map((id, i) => [id, i]));
  const words = Math.ceil(units.length / 32);
  const sets = new Map<string, Uint32Array>();
  for (let i = units.length - 1; i >= 0; i--) {
    const id = units[i]!;
    const set = new Uint32Array(words);
    for (const next of context.dag.successors.get(id) ?? []) {
      if (!members.has(next)) continue;
      const j = index.get(next)!;
      set[j >>> 5]! |= 1 << (j & 31);
      const theirs = sets.get(next)!;
      for (let w = 0; w < words; w++) set[w]! |= theirs[w]!;
    }
    sets.set(id, set);
  }
  return sets;
}

function popcount(set: Uint32Array): number {
  let total = 0;
  for (let w = 0; w < set.length; w++) {
    let v = set[w]!;
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    total += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }
  return total;
}

/** Units that every other unit of the component comes before or after: series split points. */
function findBottlenecks(
  units: readonly string[],
  members: ReadonlySet<string>,
  context: NestContext,
): string[] {
  const descendants = descendantSets(units, members, context);
  const ancestorCount = new Map<string, number>(units.map((id) => [id, 0]));
  for (const id of units) {
    const set = descendants.get(id)!;
    units.forEach((other, j) => {
      if (set[j >>> 5]! & (1 << (j & 31))) ancestorCount.set(other, ancestorCount.get(other)! + 1);
    });
  }
  return units.filter((id) => popcount(descendants.get(id)!) + ancestorCount.get(id)! + 1 === units.length);
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
  let current: string[] = [];
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
  let boundary = -1;
  for (const id of [...bottlenecks, undefined]) {
    current = units.filter((u) => !cut.has(u) && partOf.get(u) === boundary);
    if (current.length > 0) parts.push(current);
    if (id !== undefined) parts.push([id]);
    boundary++;
  }
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
  const thresholds = [...new Set(units.map((id) => finish.get(id)!))].sort((a, b) => a - b).slice(0, -1);
  const step = Math.max(1, Math.ceil(thresholds.length / MAX_CUT_CANDIDATES));
  let best: { cost: number; first: string[]; rest: string[] } | undefined;
  for (let i = 0; i < thresholds.length; i += step) {
    const theta = thresholds[i]!;
    const first = units.filter((id) => finish.get(id)! <= theta);
    const rest = units.filter((id) => finish.get(id)! > theta);
    const cost = theta + criticalPath(rest, new Set(rest), context);
    if (!best || cost < best.cost) best = { cost, first, rest };
  }
  // A connected component of two or more units always has a strict threshold; the fallback only
  // guards against equal finishing times everywhere, where the first unit alone is a valid cut.
  return best ? [best.first, best.rest] : [[units[0]!], units.slice(1)];
}

function criticalPath(units: readonly string[], members: ReadonlySet<string>, context: NestContext): number {
  const finish = new Map<string, number>();
  let longest = 0;
  for (const id of units) {
    let start = 0;
    for (const p of context.predecessors.get(id) ?? [])
      if (members.has(p)) start = Math.max(start, finish.get(p)!);
    const end = start + context.dag.weight(id);
    finish.set(id, end);
    longest = Math.max(longest, end);
  }
  return longest;
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
