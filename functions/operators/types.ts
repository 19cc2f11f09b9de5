/**
 * The event every operator's `handler(event)` receives (dag-spec §8). `input` is the node's input
 * template resolved against the task context, or `{ input, nodes }` when the node has none (§3);
 * operators parse it rather than trust `I`. What a handler returns is the node's output; what it
 * throws fails the attempt, with the error's name and message as `error` and `cause`.
 */
export interface OperatorEvent<I = unknown> {
  task: { id: string; workflow: string };
  node: { name: string; eventId: string; attempt: number };
  /** Present when the node runs once per item of a parallel node. */
  segment?: { id: string; order: number };
  input: I;
}

export type OperatorHandler<O, I = unknown> = (event: OperatorEvent<I>) => Promise<O>;
