// Business DAG -> execution plan, one state per business node. Exclusive paths (routers, onError)
// are jumps between states of one scope; forks become Parallel states whose branches come from
// nesting the fork's region (structure.ts), since Parallel branches cannot cross.
import { commonPostDominator, immediatePostDominators, reachableWithin, VIRTUAL_EXIT } from '../dag/graph.js';
import { nextList, type WorkflowNode } from '../dag/schema.js';
import type { ValidatedDag } from '../dag/validate.js';
import { addBarriers, type NestStrategy, nestingAlone } from './barriers.js';
import { storeDistributedMaps } from './map-io.js';
import type { ExecutionPlan, ForkPlan, PlanScope, PlanState, Transition } from './plan-types.js';
import { type NestTree, nestAndDag } from './structure.js';

export interface PlanOptions {
  readonly params?: Readonly<Record<string, unknown>>;
  /** `fastest` (the default) adds cross-branch barriers where nesting alone would delay a node. */
  readonly strategy?: NestStrategy;
}

export function planWorkflow(dag: ValidatedDag, options: PlanOptions = {}): ExecutionPlan {
  const params = { ...(dag.workflow.params ?? {}), ...(options.params ?? {}) };
  const planner = new Planner(dag, options.strategy ?? 'fastest');
  const root = planner.planRoot();
  const plan: ExecutionPlan = {
    dag,
    params,
    root,
    decidedRouters: new Map(),
    passes: [],
    optimized: false,
    forks: planner.forks,
  };
  // `mode: distributed`: with or without the passes, a Distributed Map goes through the object store.
  storeDistributedMaps(plan);
  return plan;
}

interface EmitContext {
  readonly scope: PlanScope;
  /** Entry state of each business node already placed in this scope. */
  readonly placed: Map<string, string>;
  /** Reaching this node means leaving the region: take `cont` instead. */
  readonly stop?: string;
  readonly cont: Transition;
}

/** A unit of a fork region's AND-DAG: a plain node, or an exclusive node with its whole region. */
interface RegionUnit {
  readonly id: string;
  /** For an exclusive unit: where its paths meet again (maybe past the fork's join). */
  readonly meet?: string;
}

/** State names of the barrier states around a unit: its wait before it, its release after it. */
export function barrierWaitState(consumer: string): string {
  return `${consumer}_wait`;
}

export function barrierReleaseState(producer: string): string {
  return `${producer}_release`;
}

class Planner {
  private readonly ipdom: Map<string, string>;
  private readonly successors: ReadonlyMap<string, readonly string[]>;
  private readonly parallelNames = new Map<NestTree, string>();
  /** Consumer unit -> the units of other branches it waits for. */
  private readonly waitsFor = new Map<string, readonly string[]>();
  /** Producer unit -> the consumers it releases. */
  private readonly releases = new Map<string, string[]>();
  readonly forks: ForkPlan[] = [];

  constructor(
    private readonly dag: ValidatedDag,
    private readonly strategy: NestStrategy,
  ) {
    this.successors = new Map(dag.order.map((n) => [n, dag.successors.get(n) ?? []]));
    this.ipdom = immediatePostDominators(dag.order, this.successors);
  }

  planRoot(): PlanScope {
    const scope: PlanScope = { startAt: this.dag.start, states: new Map() };
    const entry = this.entryOf(this.dag.start, { scope, placed: new Map(), cont: { end: true } });
    scope.startAt = nameOf(entry, this.dag.start);
    return scope;
  }

  private node(name: string): WorkflowNode {
    return this.dag.nodes.get(name)!;
  }

  private isExclusive(name: string): boolean {
    const node = this.node(name);
    return node.type === 'router' || ('onError' in node && node.onError !== undefined);
  }

  /** The transition into a business node, placing it (and what follows) on first use. */
  private entryOf(name: string, ctx: EmitContext): Transition {
    if (name === ctx.stop) return ctx.cont;
    const placed = ctx.placed.get(name);
    if (placed !== undefined) return { next: placed };
    this.place(name, ctx, undefined);
    return { next: name };
  }

  /**
   * Places a business node's state named after it. `fixedNext`: inside a nested fork region the
   * node's successors are placed by the nesting, so its transition is given.
   */
  private place(name: string, ctx: EmitContext, fixedNext: Transition | undefined): void {
    const node = this.node(name);
    ctx.placed.set(name, name);
    const pending: Transition = { end: true };
    let state: PlanState;
    switch (node.type) {
      case 'start':
        state = { kind: 'pass', name, node: name, transition: pending };
        break;
      case 'end':
        state = { kind: 'end', name, node: name, transition: { end: true } };
        ctx.scope.states.set(name, state);
        return;
      case 'router': {
        const choice: PlanState = { kind: 'choice', name, node: name, routes: [], default: '' };
        ctx.scope.states.set(name, choice);
        const conditions = this.dag.conditions.get(name) ?? [];
        choice.routes = node.routes.map((route, i) => ({
          condition: conditions[i]!,
          next: this.stateName(this.entryOf(route.next, ctx), ctx, `${name}_route${i + 1}`),
        }));
        choice.default = this.stateName(this.entryOf(node.default, ctx), ctx, `${name}_default`);
        return;
      }
      case 'parallel': {
        const tolerant = (node.toleratedFailurePercentage ?? 0) > 0;
        state = {
          kind: 'map',
          name,
          node: name,
          itemState: `${name}_item`,
          mode: node.mode ?? 'inline',
          transition: pending,
          ...(tolerant ? { toleranceState: `${name}_tolerance` } : {}),
        };
        break;
      }
      default:
        state = { kind: 'task', name, nodes: [name], transition: pending };
    }
    ctx.scope.states.set(name, state);

    let last: PlanState & { transition: Transition } = state as PlanState & { transition: Transition };
    if (state.kind === 'map' && state.toleranceState) {
      const check: PlanState = {
        kind: 'tolerance',
        name: state.toleranceState,
        node: name,
        transition: pending,
      };
      state.transition = { next: check.name };
      ctx.scope.states.set(check.name, check);
      last = check;
    }
    const onError = 'onError' in node ? node.onError : undefined;
    last.transition = fixedNext ?? this.afterNode(name, ctx);
    if (onError !== undefined && (state.kind === 'task' || state.kind === 'map')) {
      const errorState: PlanState = { kind: 'error', name: `${name}_error`, node: name, transition: pending };
      state.catch = { node: name, next: errorState.name };
      if (last !== state && last.kind === 'tolerance') {
        // The tolerance check fails the node too; its failure takes the same path.
        (last as PlanState & { catch?: unknown }).catch = { node: name, next: errorState.name };
      }
      ctx.scope.states.set(errorState.name, errorState);
      errorState.transition = this.entryOf(onError, ctx);
    }
  }

  /** What follows a (non-router) node that succeeded: its next, or the Parallel of its fork. */
  private afterNode(name: string, ctx: EmitContext): Transition {
    const node = this.node(name);
    const targets = 'next' in node ? nextList(node.next) : [];
    if (targets.length === 0) return { end: true };
    if (targets.length === 1) return this.entryOf(targets[0]!, ctx);
    return this.placeFork(name, targets, ctx);
  }

  private placeFork(fork: string, targets: readonly string[], ctx: EmitContext): Transition {
    // Exclusive branches that fork to the same nodes share one Parallel: state names are unique.
    const key = `fork:${[...targets].sort().join(',')}`;
    const existing = ctx.placed.get(key);
    if (existing !== undefined) return { next: existing };
    const join = commonPostDominator(targets, this.ipdom);
    const region = reachableWithin(targets, this.successors, (n) => n !== join);
    const units = this.regionUnits(region);
    // Weighed once: nesting and barriers ask for a unit's weight many times over.
    const weights = new Map(units.order.map((id) => [id, this.unitWeight(id, units.byId.get(id)!)]));
    const andDag = {
      order: units.order,
      successors: units.successors,
      weight: (id: string) => weights.get(id)!,
    };
    const nested = nestAndDag(andDag);
    const chosen = this.strategy === 'cheapest' ? nestingAlone(andDag, nested) : addBarriers(andDag, nested);
    const tree = chosen.tree;
    for (const { consumer, producers } of chosen.barriers) {
      this.waitsFor.set(consumer, producers);
      for (const producer of producers)
        this.releases.set(producer, [...(this.releases.get(producer) ?? []), consumer]);
    }
    this.forks.push({
      fork,
      ...(join === VIRTUAL_EXIT ? {} : { join }),
      units: units.order.length,
      nestedMakespan: chosen.nestedMakespan,
      makespan: chosen.makespan,
      criticalPath: chosen.criticalPath,
      strategy: this.strategy,
      barriers: chosen.barriers,
    });
    // The join's entry is known before it is placed: every node's state is named after it.
    const afterJoin: Transition =
      join === VIRTUAL_EXIT ? { end: true } : join === ctx.stop ? ctx.cont : { next: join };
    this.nameParallels(tree, fork);
    const entry = this.placeTree(tree, ctx, afterJoin, units.byId);
    if ('next' in entry) ctx.placed.set(key, entry.next);
    if (join !== VIRTUAL_EXIT) this.entryOf(join, ctx);
    return entry;
  }

  /** Collapses each outermost exclusive region into one unit, leaving an AND-DAG over units. */
  private regionUnits(region: ReadonlySet<string>) {
    const byId = new Map<string, RegionUnit>();
    const unitOf = new Map<string, string>();
    const order: string[] = [];
    for (const name of this.dag.order) {
      if (!region.has(name) || unitOf.has(name)) continue;
      if (this.isExclusive(name)) {
        const meet = this.ipdom.get(name)!;
        const inner = reachableWithin(
          this.successors.get(name) ?? [],
          this.successors,
          (n) => n !== meet && region.has(n),
        );
        for (const member of inner) unitOf.set(member, name);
        byId.set(name, { id: name, meet });
      } else {
        byId.set(name, { id: name });
      }
      unitOf.set(name, name);
      order.push(name);
    }
    const successors = new Map<string, string[]>();
    for (const id of order) {
      const unit = byId.get(id)!;
      const outs = unit.meet !== undefined ? [unit.meet] : (this.successors.get(id) ?? []);
      successors.set(id, [...new Set(outs.filter((n) => region.has(n)).map((n) => unitOf.get(n)!))]);
    }
    return { order, successors, byId };
  }

  private unitWeight(id: string, unit: RegionUnit): number {
    const own = this.estimate(id);
    if (!this.isExclusive(id)) return own;
    // An exclusive unit takes about as long as its longest branch.
    const inner = reachableWithin(
      this.successors.get(id) ?? [],
      this.successors,
      (n) => n !== unit.meet && n !== this.ipdom.get(id),
    );
    let longest = 0;
    for (const n of inner) longest = Math.max(longest, this.estimate(n));
    return own + longest;
  }

  private estimate(name: string): number {
    const node = this.node(name);
    if (node.type === 'router' || node.type === 'start' || node.type === 'end') return 0;
    if ('estimate' in node && node.estimate !== undefined) return node.estimate;
    if (node.type === 'parallel') return node.node.estimate ?? 1;
    return 1;
  }

  /** Places a nesting tree; returns the transition into it. Its end continues with `cont`. */
  private placeTree(
    tree: NestTree,
    ctx: EmitContext,
    cont: Transition,
    units: Map<string, RegionUnit>,
  ): Transition {
    switch (tree.kind) {
      case 'unit': {
        const unit = units.get(tree.id)!;
        // A barrier's producer releases its consumers when it (its whole region) is done; a
        // consumer first waits for its producers in the other branches.
        const producers = this.waitsFor.get(tree.id);
        // A consumer waits for its producers (and takes in what their branches knew); a producer
        // releases its consumers once it (its whole region) is done.
        const wait: PlanState | undefined = producers && {
          kind: 'barrier-wait',
          name: barrierWaitState(tree.id),
          consumer: tree.id,
          producers,
          transition: { end: true },
        };
        if (wait) ctx.scope.states.set(wait.name, wait);
        const released = this.releases.get(tree.id);
        const after: Transition = released ? { next: barrierReleaseState(tree.id) } : cont;
        let entry: Transition;
        if (this.isExclusive(tree.id)) {
          const inner: EmitContext = { scope: ctx.scope, placed: ctx.placed, stop: unit.meet, cont: after };
          entry = this.entryOf(tree.id, inner);
        } else {
          this.place(tree.id, ctx, after);
          entry = { next: tree.id };
        }
        if (released) {
          const name = barrierReleaseState(tree.id);
          ctx.scope.states.set(name, {
            kind: 'barrier-release',
            name,
            producer: tree.id,
            consumers: released,
            transition: cont,
          });
        }
        if (!wait) return entry;
        wait.transition = entry;
        return { next: wait.name };
      }
      case 'seq': {
        // Front to back, so states appear in running order; each item's entry is known in advance.
        const entries = tree.items.map((item) => this.entryName(item));
        tree.items.forEach((item, i) => {
          const next = entries[i + 1];
          this.placeTree(item, ctx, next === undefined ? cont : { next }, units);
        });
        return { next: entries[0]! };
      }
      case 'par': {
        const name = this.entryName(tree);
        const state: PlanState = { kind: 'parallel', name, branches: [], transition: cont };
        ctx.scope.states.set(name, state);
        state.branches = tree.branches.map((branch) => {
          const scope: PlanScope = { startAt: '', states: new Map() };
          const entry = this.placeTree(
            branch,
            { scope, placed: new Map(), cont: { end: true } },
            { end: true },
            units,
          );
          scope.startAt = nameOf(entry, '');
          return scope;
        });
        return { next: name };
      }
    }
  }

  /** Names every Parallel of a fork's nesting up front, so a sequence knows its items' entries. */
  private nameParallels(tree: NestTree, fork: string): void {
    let count = 0;
    const visit = (t: NestTree) => {
      if (t.kind === 'unit') return;
      if (t.kind === 'par') {
        count++;
        this.parallelNames.set(t, count === 1 ? `${fork}_fork` : `${fork}_fork${count}`);
        t.branches.forEach(visit);
      } else t.items.forEach(visit);
    };
    visit(tree);
  }

  /** The name of a tree's first state, known before it is placed. */
  private entryName(tree: NestTree): string {
    if (tree.kind === 'unit') return this.waitsFor.has(tree.id) ? barrierWaitState(tree.id) : tree.id;
    if (tree.kind === 'seq') return this.entryName(tree.items[0]!);
    return this.parallelNames.get(tree)!;
  }

  /** A Choice must name a state: where a branch ends its Parallel branch, that is a Pass that ends it. */
  private stateName(transition: Transition, ctx: EmitContext, hint: string): string {
    if ('next' in transition) return transition.next;
    const name = hint;
    if (!ctx.scope.states.has(name))
      ctx.scope.states.set(name, { kind: 'pass', name, transition: { end: true } });
    return name;
  }
}

function nameOf(transition: Transition, fallback: string): string {
  return 'next' in transition ? transition.next : fallback;
}
