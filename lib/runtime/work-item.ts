// The work item of dag-spec §7: what async work hands out (to an operator Lambda, a queue or a Batch
// job) and what a worker answers about, by `id` and `attempt`.
import { eventIdOf, segmentIdOf } from '../tracking/ids.js';

export interface WorkItem {
  /** The eventId, or the segmentId for an item of a parallel node. */
  readonly id: string;
  readonly attempt: number;
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: { readonly name: string };
  readonly segment?: { readonly id: string; readonly order: number };
  /**
   * As the context holds it: large payloads stay references (`{ $payload, bytes }`, payloads.ts), so
   * the item fits a queue message or a job's environment; a worker's operator runtime resolves them.
   */
  readonly input: unknown;
}

export function workItemOf(input: {
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: string;
  readonly order?: number;
  readonly attempt: number;
  readonly input: unknown;
}): WorkItem {
  const eventId = eventIdOf(input.task.id, input.node);
  const id = input.order === undefined ? eventId : segmentIdOf(eventId, input.order);
  return {
    id,
    attempt: input.attempt,
    task: { id: input.task.id, workflow: input.task.workflow },
    node: { name: input.node },
    ...(input.order === undefined ? {} : { segment: { id, order: input.order } }),
    input: input.input,
  };
}
