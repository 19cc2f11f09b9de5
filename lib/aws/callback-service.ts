// Applying a callback on AWS (dag-spec §7), for `POST /callbacks/{id}` and for `Node Callback` events on
// the engine's bus: the same parse and answers as the embedded engine, then Step Functions'
// SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat with the token the store hands out once.
import {
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import {
  answerForStoreError,
  type CallbackAnswer,
  callbackError,
  MAX_CALLBACK_BYTES,
  outcomeOf,
  recordWorkOutcome,
  screenCallback,
} from '../runtime/callbacks.js';
import type { TrackingStore } from '../tracking/store.js';
import { errorName } from './sdk-errors.js';

/** Step Functions no longer waits for this token: the attempt timed out or the execution ended. */
export class TaskTokenGoneError extends Error {
  constructor(
    readonly workId: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`Work '${workId}' is no longer waited for by its execution (${reason}).`, options);
    this.name = 'TaskTokenGoneError';
  }
}

/** Step Functions' answers that mean the token will never be accepted again. */
const GONE = new Set(['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist']);

/** Step Functions says it no longer waits for this token (timed out, execution ended). */
export function isTokenGone(error: unknown): boolean {
  return GONE.has(errorName(error));
}

export interface TaskResponder {
  succeed(token: string, output: unknown): Promise<void>;
  fail(token: string, error: { error: string; cause: string }): Promise<void>;
  heartbeat(token: string): Promise<void>;
}

export class SfnTaskResponder implements TaskResponder {
  constructor(private readonly sfn: SFNClient) {}

  async succeed(token: string, output: unknown): Promise<void> {
    await this.sfn.send(
      new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output ?? null) }),
    );
  }

  async fail(token: string, error: { error: string; cause: string }): Promise<void> {
    // Step Functions caps error at 256 and cause at 32,768 characters.
    await this.sfn.send(
      new SendTaskFailureCommand({
        taskToken: token,
        error: error.error.slice(0, 256),
        cause: error.cause.slice(0, 32_768),
      }),
    );
  }

  async heartbeat(token: string): Promise<void> {
    await this.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
  }
}

export interface CallbackServiceDeps {
  readonly store: TrackingStore;
  readonly responder: TaskResponder;
}

/**
 * 400 malformed, 404 unknown, 413 too large, 410 too late (by the store's deadline, or because Step
 * Functions says the token is gone), 409 another attempt or already answered; else 202.
 *
 * Order: claim the token (exactly one claim wins), resume the execution, then record the outcome.
 * Recording after resuming, because an outcome recorded for an attempt Step Functions had already timed
 * out would be a SUCCEEDED that the next attempt could never overwrite (SUCCEEDED is final).
 */
export async function applyCallback(
  body: unknown,
  rawBytes: number | undefined,
  deps: CallbackServiceDeps,
): Promise<CallbackAnswer> {
  // §7's order puts an unknown id (404) before an oversized body (413). Only an oversized body needs
  // the lookup for that: otherwise the claim below answers an unknown id itself.
  const bytes = rawBytes ?? Buffer.byteLength(JSON.stringify(body ?? null));
  const parsed = await screenCallback(body, bytes, async (id) =>
    bytes > MAX_CALLBACK_BYTES ? (await deps.store.getWork(id)) !== undefined : true,
  );
  if (!parsed.ok) return parsed.answer;
  const callback = parsed.callback;
  const address = { workId: callback.id, ...(callback.attempt ? { attempt: callback.attempt } : {}) };
  try {
    if (callback.status === 'HEARTBEAT') {
      const work = await deps.store.heartbeatWork(address);
      await resume(callback.id, () => deps.responder.heartbeat(work.taskToken));
      return { status: 202, message: 'Heartbeat recorded.' };
    }
    const claimed = await deps.store.claimWork(address);
    try {
      await resume(callback.id, () =>
        callback.status === 'SUCCEEDED'
          ? deps.responder.succeed(claimed.taskToken, callback.output ?? null)
          : deps.responder.fail(claimed.taskToken, callbackError(callback)),
      );
    } catch (error) {
      // Step Functions was not told (throttled past the SDK's retries, a fault): the token goes back
      // so the worker's retry can resume the node; a token Step Functions says is gone stays taken.
      if (!(error instanceof TaskTokenGoneError)) {
        await deps.store.releaseWork({
          workId: callback.id,
          attempt: claimed.attempt,
          taskToken: claimed.taskToken,
        });
      }
      throw error;
    }
    await recordWorkOutcome(deps.store, callback.id, claimed.attempt, outcomeOf(callback));
    return { status: 202, message: 'Accepted.' };
  } catch (error) {
    if (error instanceof TaskTokenGoneError) return { status: 410, message: error.message };
    return answerForStoreError(error);
  }
}

async function resume(workId: string, send: () => Promise<void>): Promise<void> {
  try {
    await send();
  } catch (error) {
    if (isTokenGone(error)) throw new TaskTokenGoneError(workId, errorName(error), { cause: error });
    throw error;
  }
}
