// The execution plan: what Step Functions runs, kept apart from the business DAG (what the author
// wrote and what tracking reports). Emission (emit.ts) is a projection of this.
import type { ConditionExpr } from '../dag/condition-ast.js';
import type { ValidatedDag } from '../dag/validate.js';

export type Transition = { readonly next: string } | { readonly end: true };

interface StateBase {
  readonly name: string;
  transition: Transition;
  /**
   * An end node folded into this state by the `fold-end` pass: the state ends the task itself
   * (`End` with the end's output as OutputPath), saving the end's own transition.
   */
  endsAs?: string;
}

/** A Task running business nodes: one operator node, or a fused chain of sync nodes. */
export interface TaskState extends StateBase {
  readonly kind: 'task';
  /** Business nodes in the order the Task runs them (one unless fused). */
  nodes: string[];
  /** `onError` of the (last) node: the state its failure goes to, via an error-shaping Pass. */
  catch?: { readonly node: string; readonly next: string };
}

/** Reshapes a Catch's `{Error, Cause}` into the spec's `{error, cause}` at `$.errors.<node>`. */
export interface ErrorState extends StateBase {
  readonly kind: 'error';
  readonly node: string;
}

export interface MapState extends StateBase {
  readonly kind: 'map';
  /** The parallel business node. */
  readonly node: string;
  /** The Task state inside the Map that runs one item. */
  readonly itemState: string;
  mode: 'inline' | 'distributed';
  catch?: { readonly node: string; readonly next: string };
  /**
   * The Task state after the Map that finishes its node: the tolerance check of an inline Map whose
   * toleratedFailurePercentage is above 0, or a Distributed Map's `map-results` (which checks it too).
   */
  toleranceState?: string;
  /** A Distributed Map's `map-items` state before it, when its ItemReader reads the items from the store. */
  itemsState?: string;
  /** Items (maybe) and results through the object store (map-io.ts): ItemReader, ResultWriter. */
  storeBacked?: boolean;
}

/** Before a Distributed Map: writes its items (from node outputs) as one object for its ItemReader. */
export interface MapItemsState extends StateBase {
  readonly kind: 'map-items';
  readonly node: string;
  catch?: { readonly node: string; readonly next: string };
}

/** After a Distributed Map: its ResultWriter's results in item order, tolerance applied. */
export interface MapResultsState extends StateBase {
  readonly kind: 'map-results';
  readonly node: string;
  catch?: { readonly node: string; readonly next: string };
}

/** The engine function after a Map with tolerated failures: checks the share, nulls failed items. */
export interface ToleranceState extends StateBase {
  readonly kind: 'tolerance';
  readonly node: string;
}

export interface ChoiceRoute {
  readonly condition: ConditionExpr;
  readonly next: string;
}

export interface ChoiceState {
  readonly kind: 'choice';
  readonly name: string;
  readonly node: string;
  routes: ChoiceRoute[];
  default: string;
}

export interface ParallelState extends StateBase {
  readonly kind: 'parallel';
  branches: PlanScope[];
}

/** An end node: Succeed, Fail, or a Pass shaping the task output. */
export interface EndState extends StateBase {
  readonly kind: 'end';
  readonly node: string;
}

/** A placeholder that does nothing: the start node, or the end of a Choice branch inside a Parallel branch. */
export interface PassState extends StateBase {
  readonly kind: 'pass';
  readonly node?: string;
}

/**
 * Waits, in its branch, until units of other branches finished (`--plan fastest`, barriers.ts): a
 * Task holding a task token that the producers' release states resume. Parallel branches share no
 * data, so it resumes with its branch's context merged with what the producers' branches knew.
 */
export interface BarrierWaitState extends StateBase {
  readonly kind: 'barrier-wait';
  /** The unit (business node, or router with its region) that runs after the wait. */
  readonly consumer: string;
  readonly producers: readonly string[];
}

/** After a producer unit: tells the barriers of its consumers that it finished. */
export interface BarrierReleaseState extends StateBase {
  readonly kind: 'barrier-release';
  readonly producer: string;
  readonly consumers: readonly string[];
}

export type PlanState =
  | TaskState
  | BarrierWaitState
  | BarrierReleaseState
  | ErrorState
  | MapState
  | MapItemsState
  | MapResultsState
  | ToleranceState
  | ChoiceState
  | ParallelState
  | EndState
  | PassState;

export interface PlanScope {
  startAt: string;
  /** In emission order. */
  readonly states: Map<string, PlanState>;
}

/** What one pass did, for `dag plan --explain`. */
export interface PassReport {
  readonly pass: string;
  readonly changes: readonly string[];
}

/** How the planner ran one fork region: its nesting, and the barriers `fastest` added to it. */
export interface ForkPlan {
  readonly fork: string;
  /** Where the fork's branches meet; absent when they meet only at the task's end. */
  readonly join?: string;
  /** Units of the region's AND-DAG (nodes, routers with their regions). */
  readonly units: number;
  /** Makespan of the nesting alone (the `cheapest` plan), from the estimates. */
  readonly nestedMakespan: number;
  /** Makespan of the plan chosen. */
  readonly makespan: number;
  /** The region's critical path: what no plan can beat. */
  readonly criticalPath: number;
  readonly strategy: 'fastest' | 'cheapest';
  readonly barriers: readonly { readonly consumer: string; readonly producers: readonly string[] }[];
}

export interface ExecutionPlan {
  readonly dag: ValidatedDag;
  /** Compile-time parameters: the workflow's defaults with `--param` values over them. */
  readonly params: Readonly<Record<string, unknown>>;
  root: PlanScope;
  /**
   * Routers that `params` decided at compile time and whose Choice was removed: router -> the state
   * entered right after it, whose entry means the router ran. A chain of them shares that state.
   */
  readonly decidedRouters: Map<string, string>;
  readonly passes: PassReport[];
  /** Whether the optimisation passes ran (false for `--no-optimize`); set by `runPasses`. */
  optimized: boolean;
  /** Each fork region as planned, in the order the planner placed them. */
  readonly forks: readonly ForkPlan[];
}

export function transitionTarget(t: Transition): string | undefined {
  return 'next' in t ? t.next : undefined;
}

/** Every way into state `from` of the scope (StartAt, transitions, Choice routes) now takes `to`. */
export function retarget(scope: PlanScope, from: string, to: Transition): void {
  for (const state of scope.states.values()) {
    if (state.kind === 'choice') {
      const name = 'next' in to ? to.next : undefined;
      if (name === undefined) continue;
      state.routes = state.routes.map((r) => (r.next === from ? { ...r, next: name } : r));
      if (state.default === from) state.default = name;
      continue;
    }
    if ('next' in state.transition && state.transition.next === from) state.transition = to;
  }
  if (scope.startAt === from && 'next' in to) scope.startAt = to.next;
}

/** Visits every scope: the root and each Parallel branch, depth first. */
export function forEachScope(scope: PlanScope, visit: (scope: PlanScope) => void): void {
  visit(scope);
  for (const state of scope.states.values()) {
    if (state.kind === 'parallel') for (const branch of state.branches) forEachScope(branch, visit);
  }
}

export function allStates(plan: ExecutionPlan): PlanState[] {
  const states: PlanState[] = [];
  forEachScope(plan.root, (scope) => states.push(...scope.states.values()));
  return states;
}
