// Which states report on business nodes that run no operator code (start, router, end, callback,
// parallel): their events come from the execution's own log — the embedded engine's event log, or the
// execution history on AWS — through this map from the plan, so optimised and unoptimised plans report
// the same events (dag-spec §5).
import { allStates } from '../compiler/passes.js';
import type { ExecutionPlan } from '../compiler/plan-types.js';
import type { NodeType } from '../tracking/records.js';

export interface ReportedNode {
  readonly node: string;
  readonly type: NodeType;
}

export interface ReportingPlan {
  /** State name -> the business node it reports on. */
  readonly states: Readonly<Record<string, ReportedNode>>;
  /** Routers decided at compile time by `params`, by the state they lead to: they ran when it is entered. */
  readonly decidedRouters: Readonly<Record<string, readonly string[]>>;
  /** The start node; it reports on its own when no state stands for it (the usual optimised plan). */
  readonly start: string;
  /** State name -> the end node folded into it: that end ran when the state finished successfully. */
  readonly foldedEnds: Readonly<Record<string, string>>;
  /**
   * State -> the state after it that finishes its node's event instead. A Map -> its tolerance check
   * (`toleratedFailurePercentage` above 0) or a Distributed Map's results collector: the parallel
   * node's event ends when that does, which fails the node when too many items failed. A Distributed
   * Map's items stage -> its Map. Absent from reporting plans stored before it existed.
   */
  readonly toleranceChecks?: Readonly<Record<string, string>>;
}

export function reportingPlanOf(plan: ExecutionPlan): ReportingPlan {
  const states: Record<string, ReportedNode> = {};
  for (const state of allStates(plan)) {
    // A Distributed Map's items stage is where its node starts (and may fail, on items it cannot use).
    if (state.kind === 'choice' || state.kind === 'end' || state.kind === 'map' || state.kind === 'map-items')
      states[state.name] = { node: state.node, type: plan.dag.nodes.get(state.node)!.type };
    // A Pass stands for the start node, or for a router decided by params (prune-decided-routers).
    if (state.kind === 'pass' && state.node)
      states[state.name] = { node: state.node, type: plan.dag.nodes.get(state.node)!.type };
    if (state.kind === 'task' && plan.dag.nodes.get(state.nodes[0]!)?.type === 'callback')
      states[state.name] = { node: state.nodes[0]!, type: 'callback' };
  }
  const decidedRouters: Record<string, string[]> = {};
  for (const [router, target] of plan.decidedRouters)
    decidedRouters[target] = [...(decidedRouters[target] ?? []), router];
  const foldedEnds: Record<string, string> = {};
  const toleranceChecks: Record<string, string> = {};
  for (const state of allStates(plan)) {
    if (state.kind !== 'choice' && state.endsAs) foldedEnds[state.name] = state.endsAs;
    if (state.kind === 'map' && state.toleranceState) toleranceChecks[state.name] = state.toleranceState;
    if (state.kind === 'map' && state.itemsState) toleranceChecks[state.itemsState] = state.name;
  }
  return { states, decidedRouters, start: plan.dag.start, foldedEnds, toleranceChecks };
}

/** True when some state stands for the start node (an unoptimised plan keeps a Pass for it). */
export function startHasState(reporting: ReportingPlan): boolean {
  return Object.values(reporting.states).some((reported) => reported.node === reporting.start);
}
