// The barrier function (`--plan fastest`): what a compiled wait or release state asks for (emit.ts,
// case 'barrier-wait' / 'barrier-release'), the same on both engines. A wait parks its task token and
// its branch's context; a release records that its producer finished, with what its branch knows;
// whichever completes the barrier resumes the wait with the two merged (the wait state's output),
// through `resume` (SendTaskSuccess on AWS, the parked promise locally).
import { z } from 'zod';
import type { BarrierClaim, BarrierContext, BarrierData, BarrierStore } from '../tracking/barrier-store.js';

const task = z.object({ id: z.string().min(1), workflow: z.string().min(1) });

const barrierPayload = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('wait'),
    taskToken: z.string().min(1),
    task,
    consumer: z.string().min(1),
    producers: z.array(z.string().min(1)).min(1),
    /** The wait state's whole input: its branch's task context. */
    context: z.record(z.string(), z.unknown()),
  }),
  z.object({
    action: z.literal('release'),
    task,
    producer: z.string().min(1),
    consumers: z.array(z.string().min(1)).min(1),
    /** The producer's branch context: what the consumers' branches lack. */
    nodes: z.record(z.string(), z.unknown()),
    errors: z.record(z.string(), z.unknown()),
  }),
]);

export type BarrierPayload = z.infer<typeof barrierPayload>;

export class BarrierPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BarrierPayloadError';
  }
}

export function parseBarrierPayload(value: unknown): BarrierPayload {
  const parsed = barrierPayload.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BarrierPayloadError(
    `Not a barrier wait or release: ${issue?.path.join('.') || 'payload'}: ${issue?.message ?? 'invalid'}.`,
  );
}

export interface BarrierDeps {
  readonly store: BarrierStore;
  /**
   * Resumes a wait's token with its output: its context with the producers' data merged in; a token
   * the engine no longer waits for is no error.
   */
  resume(token: string, output: BarrierContext): Promise<void>;
}

export async function passBarrier(payload: BarrierPayload, deps: BarrierDeps): Promise<void> {
  if (payload.action === 'wait') {
    const ready = await deps.store.wait({
      taskId: payload.task.id,
      consumer: payload.consumer,
      producers: payload.producers,
      taskToken: payload.taskToken,
      context: payload.context,
    });
    if (ready !== undefined) await resumeClaimed(payload.task.id, payload.consumer, ready, deps);
    return;
  }
  const data = { nodes: payload.nodes, errors: payload.errors };
  for (const consumer of payload.consumers) {
    const ready = await deps.store.release({
      taskId: payload.task.id,
      consumer,
      producer: payload.producer,
      data,
    });
    if (ready !== undefined) await resumeClaimed(payload.task.id, consumer, ready, deps);
  }
}

/**
 * The wait's context with what the producers' branches knew merged into its `nodes` and `errors`, as
 * a Parallel's end merges its branches: by node, the producers' in their order after the wait's own.
 */
function mergeReleased(context: BarrierContext, parts: readonly BarrierData[]): BarrierContext {
  const nodes: Record<string, unknown> = { ...(context.nodes ?? {}) };
  const errors: Record<string, unknown> = { ...(context.errors ?? {}) };
  for (const part of parts) {
    Object.assign(nodes, part.nodes);
    Object.assign(errors, part.errors);
  }
  return { ...context, nodes, errors };
}

async function resumeClaimed(
  taskId: string,
  consumer: string,
  claim: BarrierClaim,
  deps: BarrierDeps,
): Promise<void> {
  try {
    const parts = await deps.store.releasedData({ taskId, consumer, producers: claim.producers });
    await deps.resume(claim.taskToken, mergeReleased(claim.context, parts));
  } catch (error) {
    // Not delivered: the claim goes back, so the state's retry (or a later release) delivers it.
    await deps.store.unclaim({ taskId, consumer, taskToken: claim.taskToken });
    throw error;
  }
}
