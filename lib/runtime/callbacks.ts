// Callbacks for async work (dag-spec §7): parsing, size limit, and the answer codes. Shared by the
// embedded engine, `dag serve` and the callback Lambda.
import { z } from 'zod';
import { parseWorkId } from '../tracking/ids.js';
import type { ErrorInfo } from '../tracking/records.js';
import {
  StaleCallbackError,
  StaleWriteError,
  type TrackingStore,
  WorkExpiredError,
  WorkNotFoundError,
} from '../tracking/store.js';

/** The most a callback may carry, as Step Functions' task output. */
export const MAX_CALLBACK_BYTES = 256 * 1024;

export const CallbackSchema = z.strictObject({
  id: z.string().min(1),
  attempt: z.number().int().min(1).optional(),
  status: z.enum(['SUCCEEDED', 'FAILED', 'HEARTBEAT']),
  output: z.json().optional(),
  error: z
    .union([z.strictObject({ error: z.string(), cause: z.string().optional() }), z.string()])
    .optional(),
});

export type Callback = z.infer<typeof CallbackSchema>;

export interface CallbackAnswer {
  readonly status: 202 | 400 | 404 | 409 | 410 | 413;
  readonly message: string;
}

export type ParsedCallback =
  | { readonly ok: true; readonly callback: Callback }
  | { readonly ok: false; readonly answer: CallbackAnswer };

/** Malformed is 400 and over 256 KiB is 413, before anything is looked up. */
export function parseCallback(body: unknown, rawBytes?: number): ParsedCallback {
  const bytes = rawBytes ?? Buffer.byteLength(JSON.stringify(body ?? null));
  const parsed = CallbackSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at '${issue.path.join('.')}'` : '';
    return {
      ok: false,
      answer: {
        status: 400,
        message: `Malformed callback${where}: ${issue?.message ?? 'invalid'}. Send {id, attempt?, status: SUCCEEDED|FAILED|HEARTBEAT, output?, error?}.`,
      },
    };
  }
  if (bytes > MAX_CALLBACK_BYTES) {
    return {
      ok: false,
      answer: {
        status: 413,
        message: `Callback is ${bytes} bytes; the limit is ${MAX_CALLBACK_BYTES}. Put large output in the object store and send its URI.`,
      },
    };
  }
  return { ok: true, callback: parsed.data };
}

/**
 * §7's answers in their order, up to the lookup: malformed 400, unknown id 404, over 256 KiB 413.
 * `workExists` asks the tracking store; the rest (410, 409, 202) comes from claiming the work.
 */
export async function screenCallback(
  body: unknown,
  rawBytes: number | undefined,
  workExists: (id: string) => Promise<boolean>,
): Promise<ParsedCallback> {
  const parsed = CallbackSchema.safeParse(body);
  if (!parsed.success) return parseCallback(body, rawBytes);
  if (!(await workExists(parsed.data.id))) {
    return { ok: false, answer: { status: 404, message: `No event or segment '${parsed.data.id}'.` } };
  }
  return parseCallback(body, rawBytes);
}

/** The answer for a store error met while applying a callback; rethrows anything else. */
export function answerForStoreError(error: unknown): CallbackAnswer {
  if (error instanceof WorkNotFoundError) return { status: 404, message: error.message };
  if (error instanceof WorkExpiredError) return { status: 410, message: error.message };
  if (error instanceof StaleCallbackError) return { status: 409, message: error.message };
  throw error;
}

/** A FAILED callback's error as `{error, cause}`. */
export function callbackError(callback: Callback): { error: string; cause: string } {
  const e = callback.error;
  if (e === undefined)
    return { error: 'CallbackFailed', cause: 'The worker reported a failure without details.' };
  if (typeof e === 'string') return { error: 'CallbackFailed', cause: e };
  return { error: e.error, cause: e.cause ?? '' };
}

/** How an attempt of async work ended: what its callback (or its expiry) says. */
export type WorkOutcome =
  | { readonly status: 'SUCCEEDED'; readonly output: unknown }
  | { readonly status: 'FAILED'; readonly error: ErrorInfo };

export function outcomeOf(callback: Callback): WorkOutcome {
  return callback.status === 'SUCCEEDED'
    ? { status: 'SUCCEEDED', output: callback.output ?? null }
    : { status: 'FAILED', error: callbackError(callback) };
}

/** Records how an attempt of async work ended on its event or segment (both engines). */
export async function recordWorkOutcome(
  store: TrackingStore,
  workId: string,
  attempt: number,
  outcome: WorkOutcome,
): Promise<void> {
  const work = parseWorkId(workId);
  if (!work) throw new Error(`internal: '${workId}' is not a work id`);
  const result =
    outcome.status === 'SUCCEEDED'
      ? { status: 'SUCCEEDED' as const, output: outcome.output ?? null }
      : { status: 'FAILED' as const, error: outcome.error };
  try {
    if (work.order === undefined)
      await store.finishEvent({ taskId: work.taskId, node: work.node, attempt, ...result });
    else
      await store.finishSegment({
        taskId: work.taskId,
        node: work.node,
        order: work.order,
        attempt,
        ...result,
      });
  } catch (error) {
    // A newer attempt started in the meantime: the execution has moved on and so has its record.
    if (!(error instanceof StaleWriteError)) throw error;
  }
}
