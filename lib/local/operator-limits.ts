// The time limits of the embedded engine's sync operator Tasks, which the engine keeps itself.
//
// aws-local-stepfunctions races a Task's TimeoutSeconds against its binding and, when the timer wins,
// fails the state while the binding runs on: the attempt would keep running unseen, and finish (write
// its trace, flip its event) after the state machine had moved on. So for a Task that runs one sync
// operator the engine lifts the library's timer out of the way (`engineTimedAsl`) and hands the limit
// to the operator's process instead, which is killed when it passes: the attempt fails with
// States.Timeout once nothing of it runs any more, and the operator runtime records that one failure.
// A fused chain keeps the library's timer (the sum of its nodes' limits and some slack) as a backstop
// behind each node's own, which its binding keeps the same way.
import type { AslDefinition } from '../compiler/emit.js';
import { allStates } from '../compiler/passes.js';
import type { ExecutionPlan } from '../compiler/plan-types.js';

type AslStates = Record<string, Record<string, unknown>>;

/** State name -> TimeoutSeconds, for every Task state that runs one sync operator (items included). */
export function operatorTimeLimits(plan: ExecutionPlan, asl: AslDefinition): Map<string, number> {
  const operatorStates = new Set<string>();
  for (const state of allStates(plan)) {
    if (state.kind === 'task' && state.nodes.length === 1) {
      if (plan.dag.nodes.get(state.nodes[0]!)?.type === 'sync') operatorStates.add(state.name);
    } else if (state.kind === 'map') {
      const parallel = plan.dag.nodes.get(state.node);
      if (parallel?.type === 'parallel' && parallel.node.type === 'sync') operatorStates.add(state.itemState);
    }
  }
  const limits = new Map<string, number>();
  collectTimeouts(asl.States as AslStates, operatorStates, limits);
  return limits;
}

function collectTimeouts(states: AslStates, wanted: ReadonlySet<string>, limits: Map<string, number>): void {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task' && wanted.has(name) && typeof state.TimeoutSeconds === 'number')
      limits.set(name, state.TimeoutSeconds);
    for (const branch of (state.Branches as { States: AslStates }[]) ?? [])
      collectTimeouts(branch.States, wanted, limits);
    const processor = (state.ItemProcessor ?? state.Iterator) as { States: AslStates } | undefined;
    if (processor) collectTimeouts(processor.States, wanted, limits);
  }
}
