// A fused Task (the `fuse-sync-chains` pass): a chain of sync nodes run one after the other in one
// invocation, each through the operator runtime, so each still records its own event and one trace
// per attempt, exactly as unfused (dag-spec §5). The same code runs in the chain Lambda and on the
// embedded engine.
//
// Redrives: the Task runs again as a whole (fused nodes have no retries: the pass leaves retried nodes
// alone), so the chain asks the store about each node first: one that already succeeded is not run
// again, its recorded output is reused; the others run as their own next attempt, numbered as if each
// node had a Task of its own. Each node keeps its own time limit: in a Lambda a race against it
// (`inProcessOperators`), on the embedded engine a kill of the operator's process.

import { OperatorFailedError, type OperatorRuntime } from './operator-runtime.js';
import type { OperatorEvent } from './operators.js';
import { resolveTemplate } from './templates.js';

/** One node of the chain, as the compiled Task's Parameters carry it (emit.ts, fused tasks). */
export interface ChainLink {
  readonly node: string;
  readonly operator: string;
  /** The node's input template as JSON text: `$.` strings in it are references, read here. */
  readonly input: string;
  readonly timeoutSeconds: number;
}

export interface FusedChainInput {
  readonly task: { readonly id: string; readonly workflow: string };
  /** `$$.State.RetryCount` of the fused Task (attempts are numbered per node from the store). */
  readonly retryCount?: number;
  readonly chain: readonly ChainLink[];
  /** The whole context (dag-spec §3) as the Task received it. */
  readonly context: { readonly nodes?: Readonly<Record<string, unknown>> } & Record<string, unknown>;
}

/** What the store knows of a node of this task, for a retried or redriven chain. */
export interface RecordedNode {
  readonly status: string;
  readonly attempts: number;
  readonly output?: unknown;
}

export interface FusedChainDeps {
  readonly runtime: OperatorRuntime;
  /** Runs one attempt of the link's operator, failing with `States.Timeout` past `timeoutSeconds`. */
  runOperator(operator: string, event: OperatorEvent, timeoutSeconds: number): Promise<unknown>;
  /** The node's record in this task, if it has one. */
  recorded(node: string): Promise<RecordedNode | undefined>;
}

/** Runs the chain; returns the context's `nodes` with every node's output added (the Task's result). */
export async function runFusedChain(
  input: FusedChainInput,
  deps: FusedChainDeps,
): Promise<Record<string, unknown>> {
  const nodes: Record<string, unknown> = { ...(input.context.nodes ?? {}) };
  for (const link of input.chain) {
    const context = { ...input.context, nodes };
    const record = await deps.recorded(link.node);
    if (record?.status === 'SUCCEEDED') {
      nodes[link.node] = record.output ?? null;
      continue;
    }
    // A row left RUNNING by an attempt that timed out or whose invocation died counts as tried.
    const attempt = record === undefined ? 1 : record.attempts + 1;
    nodes[link.node] = await deps.runtime.run(
      {
        task: input.task,
        node: link.node,
        nodeType: 'sync',
        attempt,
        input: resolveTemplate(JSON.parse(link.input), context),
      },
      (event) => deps.runOperator(link.operator, event, link.timeoutSeconds),
    );
  }
  return nodes;
}

/**
 * Operators run in this process (the chain Lambda's), each within its node's own time limit, which the
 * fused Task's (their sum) no longer enforces per node. Past it the attempt fails; the operator's work
 * is not stopped, and ends with the invocation.
 */
export function inProcessOperators(
  load: (operator: string) => Promise<(event: OperatorEvent) => unknown>,
): FusedChainDeps['runOperator'] {
  return async (operator, event, timeoutSeconds) => {
    const handler = await load(operator);
    return withinSeconds(event.node.name, timeoutSeconds, () => handler(event));
  };
}

async function withinSeconds<T>(
  node: string,
  timeoutSeconds: number,
  work: () => T | Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OperatorFailedError('States.Timeout', `'${node}' ran over its ${timeoutSeconds} s.`)),
      timeoutSeconds * 1000,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(work), limit]);
  } finally {
    clearTimeout(timer);
  }
}
