// `--plan fastest`: cross-branch barriers where nesting alone would delay a node.
//
// ASL nests Parallel states; it cannot express a dependency from a unit in one branch to a unit in
// another. The nesting of structure.ts therefore sequences some units that do not depend on each
// other: at a *cut* (seq(A, B): every unit of B waits for every unit of A) and between levels. A
// barrier undoes that for one unit: a unit of B that the cut holds back (its own predecessors ended
// earlier) moves into a branch of its own beside A and B; a wait state before it holds a task token
// until its predecessors in A have ended, and each of them resumes it from a release state after
// itself (through the engine's callback path); its successors in B wait for it the same way. Branches
// share no data, so a release hands over what its branch knows and the wait resumes with it merged
// into its own branch's context: two states per consumer and producer pair at most, fewer where they
// share waits and releases.
//
// The algorithm: start from the cheapest nesting (no barriers). Schedule it with the estimates; while
// its makespan exceeds the critical path (by more than FASTEST_SLACK), follow the chain of
// constraints that sets the makespan back from the end, find the units on it that a cut held back,
// and hoist one (the one needing the fewest new wait and release states; in regions of more than
// ONE_AT_A_TIME_UNITS units, all of them in the same round).
//
// Why it reaches the critical path: on the chain that sets the makespan, every step is a unit's own
// duration, a DAG edge (a predecessor that finished just as the unit started), or a sequence boundary
// that alone made a unit start late. A chain without the last kind is a path of the DAG, no longer
// than the critical path; so while the makespan is above it, some unit is held back by a boundary,
// and hoisting frees it from that boundary: it now starts with the items around it, which are
// bounded by boundaries the nesting found implied. It can be held back again only further out (or
// again at the same sequence, with a wider group), so rounds are bounded by units times nesting depth,
// and end, at the latest, with no unit held back: the makespan is then the critical path (barriers
// counted as free; each costs one Lambda call on each side). A round is linear in the region's size.
//
// Why it cannot deadlock: what stays nested keeps an order the DAG allows, and the hoisted unit waits
// only for its predecessors and releases only its successors, which that order already puts one
// before the other; so nesting and barriers together still follow one topological order of the DAG.
import { type AndDag, type NestTree, nestAndDag, nestMakespan, par, sequence } from './structure.js';

/** A unit that waits, in its own branch, for units of other branches to finish. */
export interface Barrier {
  readonly consumer: string;
  readonly producers: readonly string[];
}

export interface NestPlan {
  readonly tree: NestTree;
  /** Consumers in the DAG's order; producers in the DAG's order. */
  readonly barriers: readonly Barrier[];
}

/** A region's plan with what the planner measured on the way (for `dag plan --explain`). */
export interface MeasuredNestPlan extends NestPlan {
  /** Makespan of the nesting alone. */
  readonly nestedMakespan: number;
  /** Makespan of this plan. */
  readonly makespan: number;
  readonly criticalPath: number;
}

export type NestStrategy = 'fastest' | 'cheapest';

/**
 * `fastest` stops hoisting once the plan is within this share of the critical path: a barrier costs
 * two Lambda calls and up to two state transitions, and the last percent is not worth them (see
 * bench/RESULTS.md for the trade-off on random DAGs).
 */
export const FASTEST_SLACK = 0.01;

/** The nesting of an AND-DAG, and with `fastest` the barriers that bring it to the critical path. */
export function planNesting(
  dag: AndDag,
  strategy: NestStrategy,
  options: { readonly slack?: number } = {},
): NestPlan {
  const tree = nestAndDag(dag);
  if (strategy === 'cheapest') return { tree, barriers: [] };
  return addBarriers(dag, tree, options);
}

/** `cheapest` from a nesting already made: no barriers, measured like `fastest` for the report. */
export function nestingAlone(dag: AndDag, tree: NestTree): MeasuredNestPlan {
  const makespan = nestMakespan(tree, dag.weight);
  return { tree, barriers: [], nestedMakespan: makespan, makespan, criticalPath: criticalPathOf(dag) };
}

/** `fastest` from a nesting already made: the barriers that bring it to the critical path. */
export function addBarriers(
  dag: AndDag,
  tree: NestTree,
  options: { readonly slack?: number } = {},
): MeasuredNestPlan {
  return liftCuts(dag, tree, options.slack ?? FASTEST_SLACK);
}

// ---- a mutable copy of the nesting, rewritten in place while cuts are lifted ---------------------

type Node = UnitNode | SeqNode | ParNode;
interface UnitNode {
  readonly kind: 'unit';
  readonly id: string;
}
interface SeqNode {
  readonly kind: 'seq';
  items: Node[];
  cuts: boolean[];
}
interface ParNode {
  readonly kind: 'par';
  branches: Node[];
}

function thaw(tree: NestTree): Node {
  switch (tree.kind) {
    case 'unit':
      return { kind: 'unit', id: tree.id };
    case 'seq':
      return { kind: 'seq', items: tree.items.map(thaw), cuts: [...tree.cuts] };
    case 'par':
      return { kind: 'par', branches: tree.branches.map(thaw) };
  }
}

/** Back to a NestTree, with one-item sequences and nested Parallels flattened. */
function freeze(node: Node): NestTree {
  switch (node.kind) {
    case 'unit':
      return node;
    case 'seq':
      return sequence(node.items.map(freeze), node.cuts);
    case 'par':
      return par(node.branches.map(freeze));
  }
}

// ---- scheduling a nesting with barriers ---------------------------------------------------------

/** A boundary of a sequence: between `seq.items[index]` and the item after it. */
interface Boundary {
  readonly seq: SeqNode;
  readonly index: number;
}

export interface NestSchedule {
  readonly makespan: number;
  /** Start and finish of every unit. */
  readonly units: ReadonlyMap<string, { readonly start: number; readonly finish: number }>;
}

/**
 * Earliest times when every sequence runs its items one after another, a Parallel its branches
 * together, and a barrier's consumer starts only once its producers finished. The events (each tree
 * node's start and finish) form a DAG; times are its longest paths, in one topological sweep.
 */
class TreeSchedule {
  // Edges in flat arrays (a region can have tens of thousands): from, to, delay, and the sequence
  // boundary an edge crosses, if any.
  private readonly from: number[] = [];
  private readonly to: number[] = [];
  private readonly delay: number[] = [];
  private readonly boundaries = new Map<number, Boundary>();
  private events = 0;
  /** Incoming edges of each event, for following the critical chain back (CSR: offsets, then edge ids). */
  private inStart!: Int32Array;
  private inEdges!: Int32Array;
  time!: Float64Array;
  private readonly finishOfUnit = new Map<string, number>();
  readonly root: { start: number; finish: number };

  constructor(
    tree: Node,
    waits: ReadonlyMap<string, ReadonlySet<string>>,
    private readonly weight: (id: string) => number,
  ) {
    this.root = this.build(tree);
    // Barriers join finish events of producers to finish events of consumers.
    for (const [consumer, producers] of waits) {
      const finish = this.finishOfUnit.get(consumer)!;
      for (const producer of producers) this.edge(this.finishOfUnit.get(producer)!, finish, weight(consumer));
    }
    this.sweep();
  }

  private edge(from: number, to: number, delay: number, boundary?: Boundary): void {
    if (boundary) this.boundaries.set(this.from.length, boundary);
    this.from.push(from);
    this.to.push(to);
    this.delay.push(delay);
  }

  private build(node: Node): { start: number; finish: number } {
    const start = this.events++;
    const finish = this.events++;
    switch (node.kind) {
      case 'unit':
        this.edge(start, finish, this.weight(node.id));
        this.finishOfUnit.set(node.id, finish);
        break;
      case 'seq': {
        let previous = start;
        node.items.forEach((item, i) => {
          const inner = this.build(item);
          this.edge(previous, inner.start, 0, i > 0 ? { seq: node, index: i - 1 } : undefined);
          previous = inner.finish;
        });
        this.edge(previous, finish, 0);
        break;
      }
      case 'par':
        for (const branch of node.branches) {
          const inner = this.build(branch);
          this.edge(start, inner.start, 0);
          this.edge(inner.finish, finish, 0);
        }
        if (node.branches.length === 0) this.edge(start, finish, 0);
        break;
    }
    return { start, finish };
  }

  private sweep(): void {
    const count = this.events;
    const edges = this.from.length;
    const outStart = new Int32Array(count + 1);
    const inStart = new Int32Array(count + 1);
    for (let e = 0; e < edges; e++) {
      outStart[this.from[e]! + 1]!++;
      inStart[this.to[e]! + 1]!++;
    }
    for (let i = 0; i < count; i++) {
      outStart[i + 1]! += outStart[i]!;
      inStart[i + 1]! += inStart[i]!;
    }
    const outEdges = new Int32Array(edges);
    const inEdges = new Int32Array(edges);
    const outFill = outStart.slice(0, count);
    const inFill = inStart.slice(0, count);
    for (let e = 0; e < edges; e++) {
      outEdges[outFill[this.from[e]!]!++] = e;
      inEdges[inFill[this.to[e]!]!++] = e;
    }
    const indegree = new Int32Array(count);
    for (let i = 0; i < count; i++) indegree[i] = inStart[i + 1]! - inStart[i]!;
    const time = new Float64Array(count);
    const queue = new Int32Array(count);
    let tail = 0;
    for (let i = 0; i < count; i++) if (indegree[i] === 0) queue[tail++] = i;
    for (let head = 0; head < tail; head++) {
      const at = queue[head]!;
      for (let k = outStart[at]!; k < outStart[at + 1]!; k++) {
        const e = outEdges[k]!;
        const to = this.to[e]!;
        const t = time[at]! + this.delay[e]!;
        if (t > time[to]!) time[to] = t;
        if (--indegree[to]! === 0) queue[tail++] = to;
      }
    }
    if (tail !== count) throw new Error('internal: barriers form a cycle with the nesting');
    this.time = time;
    this.inStart = inStart;
    this.inEdges = inEdges;
  }

  get makespan(): number {
    return this.time[this.root.finish]!;
  }

  unitTimes(): Map<string, { start: number; finish: number }> {
    const out = new Map<string, { start: number; finish: number }>();
    for (const [id, finish] of this.finishOfUnit) {
      const end = this.time[finish]!;
      out.set(id, { start: end - this.weight(id), finish: end });
    }
    return out;
  }

  /**
   * The units a cut alone made start late, on the chain of constraints that sets the makespan,
   * from the end back. A unit that started when one of its own predecessors finished is explained
   * by that dependency, which the chain follows instead.
   */
  boundUnits(predecessors: ReadonlyMap<string, readonly string[]>): BoundUnit[] {
    const bound: BoundUnit[] = [];
    const unitAt = new Map<number, string>();
    for (const [id, finish] of this.finishOfUnit) unitAt.set(finish, id);
    const tolerance = 1e-9 * Math.max(1, this.makespan);
    const same = (a: number, b: number) => Math.abs(a - b) <= tolerance;
    let at = this.root.finish;
    let current: string | undefined;
    while (at !== this.root.start) {
      const unit = unitAt.get(at);
      if (unit !== undefined) {
        current = unit;
        const started = this.time[at]! - this.weight(unit);
        const cause = (predecessors.get(unit) ?? []).find((p) =>
          same(this.time[this.finishOfUnit.get(p)!]!, started),
        );
        if (cause !== undefined) {
          at = this.finishOfUnit.get(cause)!;
          continue;
        }
      }
      let edge = -1;
      for (let k = this.inStart[at]!; k < this.inStart[at + 1]!; k++) {
        const e = this.inEdges[k]!;
        if (same(this.time[this.from[e]!]! + this.delay[e]!, this.time[at]!)) {
          edge = e;
          break;
        }
      }
      if (edge < 0) break;
      const boundary = this.boundaries.get(edge);
      // Crossing any boundary here binds the unit: a boundary the DAG implies always comes with a
      // predecessor that finished right then (followed above). A cut flag marks only where the
      // nesting chose; a boundary implied within a part may still hold back a unit of the whole.
      if (boundary && current !== undefined) {
        bound.push({ seq: boundary.seq, left: boundary.seq.items[boundary.index]!, unit: current });
        current = undefined;
      }
      at = this.from[edge]!;
    }
    return bound;
  }
}

/** A unit a cut held back: it started when the item before the cut ended, not for its own inputs. */
interface BoundUnit {
  readonly seq: SeqNode;
  /** The item before the cut: found again by identity after other hoists moved items. */
  readonly left: Node;
  readonly unit: string;
}

/** The makespan of a nesting with barriers, and when each unit runs (for tests and benchmarks). */
export function scheduleNestPlan(plan: NestPlan, weight: (id: string) => number): NestSchedule {
  const waits = new Map(plan.barriers.map((b) => [b.consumer, new Set(b.producers)]));
  const schedule = new TreeSchedule(thaw(plan.tree), waits, weight);
  return { makespan: schedule.makespan, units: schedule.unitTimes() };
}

// ---- hoisting units out of cuts ----------------------------------------------------------------

/** Hoisting one unit per round needs the fewest barriers; past this many units, all on the chain. */
const ONE_AT_A_TIME_UNITS = 200;

/** Moving one unit out of the sequence whose cut holds it back, into a branch of its own. */
interface Hoist {
  readonly seq: SeqNode;
  /** Items `first..last` of the sequence (the cut and the cuts next to it) run beside the unit. */
  readonly first: number;
  readonly last: number;
  readonly unit: string;
  /** Barrier edges this adds, consumer -> producers. */
  readonly edges: ReadonlyMap<string, readonly string[]>;
  /** Wait and release states this adds. */
  readonly cost: number;
}

function liftCuts(dag: AndDag, tree: NestTree, slack: number): MeasuredNestPlan {
  const predecessors = predecessorsOf(dag);
  const successors = new Map(dag.order.map((id) => [id, dag.successors.get(id) ?? []]));
  const criticalPath = longestPath(dag, predecessors);
  const target = criticalPath * (1 + slack) + 1e-9 * Math.max(1, criticalPath);
  const oneAtATime = dag.order.length <= ONE_AT_A_TIME_UNITS;

  const root: SeqNode = { kind: 'seq', items: [thaw(tree)], cuts: [] };
  const placement = new Placement(root);
  const found: BarrierSets = { waits: new Map(), releasing: new Set() };
  const waits = found.waits;
  const graph = { predecessors, successors };
  let nestedMakespan: number | undefined;
  let makespan: number;
  for (;;) {
    const schedule = new TreeSchedule(root, waits, dag.weight);
    makespan = schedule.makespan;
    nestedMakespan ??= makespan;
    if (makespan <= target) break;
    const hoists: Hoist[] = [];
    for (const bound of schedule.boundUnits(predecessors)) {
      const hoist = planHoist(bound, graph, placement, found);
      if (!hoist) continue;
      if (!oneAtATime) applyHoist(hoist, found, placement);
      hoists.push(hoist);
    }
    // None: cannot happen while the makespan is above the critical path (see the top).
    if (hoists.length === 0) break;
    if (oneAtATime)
      applyHoist(
        hoists.reduce((best, h) => (h.cost < best.cost ? h : best)),
        found,
        placement,
      );
  }

  const position = new Map(dag.order.map((id, i) => [id, i]));
  const byOrder = (a: string, b: string) => position.get(a)! - position.get(b)!;
  const barriers = [...waits]
    .sort(([a], [b]) => byOrder(a, b))
    .map(([consumer, producers]) => ({ consumer, producers: [...producers].sort(byOrder) }));
  return {
    tree: freeze(root.items.length === 1 ? root.items[0]! : root),
    barriers,
    nestedMakespan: nestedMakespan ?? makespan,
    makespan,
    criticalPath,
  };
}

/** The critical path of an AND-DAG: the makespan no plan can beat. */
function criticalPathOf(dag: AndDag): number {
  return longestPath(dag, predecessorsOf(dag));
}

function predecessorsOf(dag: AndDag): Map<string, string[]> {
  const predecessors = new Map<string, string[]>(dag.order.map((id) => [id, []]));
  for (const id of dag.order)
    for (const next of dag.successors.get(id) ?? []) predecessors.get(next)?.push(id);
  return predecessors;
}

function longestPath(dag: AndDag, predecessors: ReadonlyMap<string, readonly string[]>): number {
  const finish = new Map<string, number>();
  let longest = 0;
  for (const id of dag.order) {
    let start = 0;
    for (const p of predecessors.get(id) ?? []) start = Math.max(start, finish.get(p) ?? 0);
    const end = start + dag.weight(id);
    finish.set(id, end);
    longest = Math.max(longest, end);
  }
  return longest;
}

/**
 * A unit held back by a cut goes into a branch of its own beside the items around the cut (out to
 * the nearest boundaries the DAG implies): it waits only for its own predecessors among those items,
 * and its successors there wait for it. An edge another edge of the hoist implies needs no barrier:
 * from a predecessor that feeds another predecessor, or to a successor fed by another successor.
 * Undefined when an earlier hoist of the same round moved the cut.
 */
function planHoist(
  bound: BoundUnit,
  graph: {
    readonly predecessors: ReadonlyMap<string, readonly string[]>;
    readonly successors: ReadonlyMap<string, readonly string[]>;
  },
  placement: Placement,
  barriers: BarrierSets,
): Hoist | undefined {
  const { seq, unit } = bound;
  const index = seq.items.indexOf(bound.left);
  if (index < 0 || index + 1 >= seq.items.length) return undefined;
  let first = index;
  while (first > 0 && seq.cuts[first - 1]) first--;
  let last = index + 1;
  while (last < seq.items.length - 1 && seq.cuts[last]) last++;
  if (!placement.isUnder(unit, seq, index + 1, last)) return undefined;
  const around = (other: string) => other !== unit && placement.isUnder(other, seq, first, last);

  const { predecessors, successors } = graph;
  const edges = new Map<string, string[]>();
  const before = (predecessors.get(unit) ?? []).filter(around);
  const producers = before.filter((p) => !before.some((q) => q !== p && successors.get(p)?.includes(q)));
  if (producers.length > 0) edges.set(unit, producers);
  const after = (successors.get(unit) ?? []).filter(around);
  for (const s of after)
    if (!after.some((q) => q !== s && successors.get(q)?.includes(s))) edges.set(s, [unit]);

  const newReleases = new Set([...edges.values()].flat().filter((p) => !barriers.releasing.has(p))).size;
  // A new consumer costs its wait state; a new producer its release state.
  const newWaits = [...edges.keys()].filter((c) => !barriers.waits.has(c)).length;
  return { seq, first, last, unit, edges, cost: newReleases + newWaits };
}

/** The barriers found so far: consumer -> producers, and every producer. */
interface BarrierSets {
  readonly waits: Map<string, Set<string>>;
  readonly releasing: Set<string>;
}

function applyHoist(hoist: Hoist, barriers: BarrierSets, placement: Placement): void {
  const { seq, first, last } = hoist;
  const moved = seq.items.slice(first, last + 1);
  const group: SeqNode = { kind: 'seq', items: moved, cuts: seq.cuts.slice(first, last) };
  removeUnit(group, hoist.unit);
  const alone: UnitNode = { kind: 'unit', id: hoist.unit };
  const item: Node = group.items.length === 0 ? alone : { kind: 'par', branches: [group, alone] };
  seq.items.splice(first, last - first + 1, item);
  seq.cuts.splice(first, last - first);
  placement.moved(seq, item, group, moved, alone);
  for (const [consumer, producers] of hoist.edges) {
    const set = barriers.waits.get(consumer) ?? new Set<string>();
    for (const p of producers) {
      set.add(p);
      barriers.releasing.add(p);
    }
    barriers.waits.set(consumer, set);
  }
}

/**
 * Where each unit sits in the nesting being rewritten: parent links, kept up to date as hoists move
 * items, so "is this unit around that cut" costs the depth of the nesting, not a walk of the items.
 */
class Placement {
  private readonly parent = new Map<Node, SeqNode | ParNode>();
  private readonly leaf = new Map<string, UnitNode>();

  constructor(root: SeqNode) {
    this.index(root);
  }

  private index(node: Node, parent?: SeqNode | ParNode): void {
    if (parent) this.parent.set(node, parent);
    if (node.kind === 'unit') this.leaf.set(node.id, node);
    else for (const child of node.kind === 'seq' ? node.items : node.branches) this.index(child, node);
  }

  /** Whether the unit's leaf is under one of `seq.items[first..last]`. */
  isUnder(unit: string, seq: SeqNode, first: number, last: number): boolean {
    let node: Node | undefined = this.leaf.get(unit);
    while (node) {
      const up: SeqNode | ParNode | undefined = this.parent.get(node);
      if (up === seq) {
        const at = seq.items.indexOf(node);
        return at >= first && at <= last;
      }
      node = up;
    }
    return false;
  }

  /** After a hoist: `item` replaced `moved` in `seq`; they are now in `group`, the unit alone beside. */
  moved(seq: SeqNode, item: Node, group: SeqNode, moved: readonly Node[], alone: UnitNode): void {
    this.parent.set(item, seq);
    this.leaf.set(alone.id, alone);
    if (item === alone) return;
    this.parent.set(group, item as ParNode);
    this.parent.set(alone, item as ParNode);
    for (const node of moved) this.parent.set(node, group);
  }
}

/**
 * Takes a unit's leaf out of a nesting. A boundary left between the two neighbours of a removed
 * item is a cut when either of the two it replaces was one.
 */
function removeUnit(node: SeqNode | ParNode, id: string): boolean {
  const children = node.kind === 'seq' ? node.items : node.branches;
  for (let i = 0; i < children.length; i++) {
    const child = children[i]!;
    const found = child.kind === 'unit' ? child.id === id : removeUnit(child, id);
    if (!found) continue;
    const empty =
      child.kind === 'unit' ||
      (child.kind === 'seq' ? child.items.length === 0 : child.branches.length === 0);
    if (!empty) return true;
    children.splice(i, 1);
    if (node.kind === 'seq' && node.cuts.length > 0) {
      if (i === 0) node.cuts.splice(0, 1);
      else if (i >= node.cuts.length) node.cuts.splice(i - 1, 1);
      else node.cuts.splice(i - 1, 2, node.cuts[i - 1]! || node.cuts[i]!);
    }
    return true;
  }
  return false;
}
