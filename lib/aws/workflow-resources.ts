// What a workflow needs from a deployment beyond its operators: work queues, queues its callback nodes
// send to, and a worker Lambda for each operator it runs `via: lambda`. The stack derives its queues
// and queue consumers from the workflows it ships (lib/infra); the compiler Lambda refuses a workflow
// whose needs this deployment does not have (INVALID_TARGET), so that it fails at registration and not
// in the middle of a task.
import { type Diagnostic, DiagnosticCode } from '../dag/diagnostics.js';
import type { ItemNode, Workflow, WorkflowNode } from '../dag/schema.js';
import type { EngineDeployment } from './deployment.js';

/** dag-spec §2: `via: queue` without `queue` uses this one. */
export const DEFAULT_WORK_QUEUE = 'work';

export interface QueueConsumer {
  readonly queue: string;
  readonly operator: string;
}

export interface WorkflowNeeds {
  /** Work queues of `via: queue` nodes and the queues of `kind: sqs` callback nodes. */
  readonly queues: ReadonlySet<string>;
  /** Operators that consume a work queue (an SQS event source on AWS). */
  readonly consumers: readonly QueueConsumer[];
  /** Operators run `via: lambda`: the dispatch function invokes their worker Lambda. */
  readonly lambdaOperators: ReadonlySet<string>;
  /** Operators run `via: batch`, in the GPU job. */
  readonly batchOperators: ReadonlySet<string>;
  /** The node that needs each queue or operator, for diagnostics. */
  readonly neededBy: ReadonlyMap<string, string>;
}

export function workflowNeeds(workflow: Workflow): WorkflowNeeds {
  const queues = new Set<string>();
  const consumers: QueueConsumer[] = [];
  const lambdaOperators = new Set<string>();
  const batchOperators = new Set<string>();
  const neededBy = new Map<string, string>();
  const need = (key: string, node: string) => {
    if (!neededBy.has(key)) neededBy.set(key, node);
  };
  const visit = (name: string, node: WorkflowNode | ItemNode) => {
    if (node.type === 'parallel') return visit(name, node.node);
    if (node.type === 'callback' && node.target.kind === 'sqs') {
      queues.add(node.target.queue);
      need(`queue:${node.target.queue}`, name);
    }
    if (node.type !== 'async') return;
    const via = node.via ?? 'lambda';
    if (via === 'queue') {
      const queue = node.queue ?? DEFAULT_WORK_QUEUE;
      queues.add(queue);
      need(`queue:${queue}`, name);
      if (node.operator !== undefined) consumers.push({ queue, operator: node.operator });
    } else if (node.operator !== undefined) {
      (via === 'lambda' ? lambdaOperators : batchOperators).add(node.operator);
      need(`${via}:${node.operator}`, name);
    }
  };
  for (const [name, node] of Object.entries(workflow.nodes)) visit(name, node as WorkflowNode);
  return { queues, consumers, lambdaOperators, batchOperators, neededBy };
}

/**
 * INVALID_TARGET for each queue or worker the deployment lacks. A queue consumed by an operator must be
 * consumed by that operator on AWS (an SQS queue has one consumer function), which only the stack
 * decides: a new consumer needs a deploy.
 */
export function checkWorkflowNeeds(
  needs: WorkflowNeeds,
  deployment: Pick<EngineDeployment, 'queues' | 'operatorWorkers' | 'queueConsumers'>,
): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  const fail = (node: string | undefined, message: string) =>
    diagnostics.push({
      code: DiagnosticCode.INVALID_TARGET,
      severity: 'error',
      message,
      ...(node ? { node } : {}),
    });
  const known = Object.keys(deployment.queues).sort();
  for (const queue of [...needs.queues].sort()) {
    if (deployment.queues[queue] !== undefined) continue;
    const node = needs.neededBy.get(`queue:${queue}`);
    fail(
      node,
      `Node '${node}' uses queue '${queue}', which this deployment does not have (it has ${known.join(', ') || 'none'}). Add the workflow to workflows/ (or the queue to the stack's queues) and deploy.`,
    );
  }
  for (const { queue, operator } of needs.consumers) {
    const consumer = deployment.queueConsumers[queue];
    if (consumer === operator || deployment.queues[queue] === undefined) continue;
    const node = needs.neededBy.get(`queue:${queue}`);
    fail(
      node,
      consumer === undefined
        ? `Node '${node}' wants operator '${operator}' to consume queue '${queue}', which no operator consumes in this deployment. Add the workflow to workflows/ and deploy.`
        : `Node '${node}' wants operator '${operator}' to consume queue '${queue}', which '${consumer}' consumes. Use another queue.`,
    );
  }
  for (const operator of [...needs.lambdaOperators].sort()) {
    if (deployment.operatorWorkers[operator] !== undefined) continue;
    const node = needs.neededBy.get(`lambda:${operator}`);
    fail(node, `Node '${node}' runs operator '${operator}' via lambda, which has no worker Lambda here.`);
  }
  return diagnostics;
}
