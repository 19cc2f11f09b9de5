// Async attempts of the embedded engine, parked on a minted token until their callback, their timeout
// or their heartbeat timeout, whichever comes first.
//
// aws-local-stepfunctions ignores HeartbeatSeconds, and it races TimeoutSeconds against the binding on
// a timer of its own: a callback could then take the token in the store just before that timer fires
// and resume an attempt the execution had already failed. So the engine lifts the library's timers of
// waiting Tasks out of the way (`engineTimedAsl`) and times parked work itself, against the deadlines
// the store holds: a callback (`claimWork`) and an expiry (`expireWork`) both take the token with one
// conditional write, and only the one that took it settles the attempt. The store's answers (410 after
// a deadline) and the execution's outcome (States.Timeout, States.HeartbeatTimeout) therefore agree.
import { randomUUID } from 'node:crypto';
import type { AslDefinition } from '../compiler/emit.js';
import { recordWorkOutcome, type WorkOutcome } from '../runtime/callbacks.js';
import { OperatorFailedError } from '../runtime/operator-runtime.js';
import type { TrackingStore } from '../tracking/store.js';

/** setTimeout's limit (2^31 − 1 ms): a longer delay fires at once, with a warning. */
export const TIMER_LIMIT_SECONDS = 2_147_483;

/**
 * The longest an attempt waits for its callback locally: under the library's lifted timer, so that the
 * engine's own expiry always comes first (a `timeout` above it ends the attempt here, ~24.8 days).
 */
export const LOCAL_MAX_WAIT_SECONDS = TIMER_LIMIT_SECONDS - 60;

/** How long to wait before asking the store again when an expiry could not be written. */
const EXPIRY_RETRY_MS = 250;

export interface ParkRequest {
  readonly taskId: string;
  /** The eventId, or the segmentId inside a parallel node. */
  readonly workId: string;
  readonly attempt: number;
  readonly deadline: Date;
  readonly heartbeatSeconds?: number;
}

/** One parked attempt, as the callback path takes it. */
export interface ParkedAttempt {
  readonly request: ParkRequest;
  readonly token: string;
  /** Resumes the waiting state with the outcome (the outcome must be recorded first). */
  settle(outcome: WorkOutcome): void;
}

interface Entry extends ParkedAttempt {
  timer?: NodeJS.Timeout;
}

export class ParkedWork {
  private readonly byToken = new Map<string, Entry>();
  /** Attempts parked again after a restart, until the execution's binding reaches them. */
  private readonly reparked = new Map<
    string,
    { readonly taskId: string; readonly resumed: Promise<unknown> }
  >();
  private closed = false;

  constructor(private readonly store: TrackingStore) {}

  /**
   * Parks the attempt on a new token (the row must exist; `parkWork` replaces a token of the same
   * attempt). `resumed` settles with the callback's output, or rejects with its error or a timeout.
   */
  async park(request: ParkRequest): Promise<{ readonly resumed: Promise<unknown> }> {
    const token = `local-${randomUUID()}`;
    let settle!: (outcome: WorkOutcome) => void;
    const resumed = new Promise<unknown>((resolve, reject) => {
      settle = (outcome) =>
        outcome.status === 'SUCCEEDED'
          ? resolve(outcome.output)
          : reject(new OperatorFailedError(outcome.error.error, outcome.error.cause));
    });
    // An attempt parked again after a restart may settle before its binding awaits it.
    resumed.catch(() => {});
    const entry: Entry = { request, token, settle };
    this.byToken.set(token, entry);
    try {
      await this.store.parkWork({
        taskId: request.taskId,
        workId: request.workId,
        attempt: request.attempt,
        taskToken: token,
        deadline: request.deadline,
        ...(request.heartbeatSeconds === undefined ? {} : { heartbeatSeconds: request.heartbeatSeconds }),
      });
    } catch (error) {
      this.byToken.delete(token);
      throw error;
    }
    // The first look is at the earlier deadline; the store says when to look again.
    const heartbeat =
      request.heartbeatSeconds === undefined
        ? Number.POSITIVE_INFINITY
        : Date.now() + request.heartbeatSeconds * 1000;
    this.arm(entry, Math.min(request.deadline.getTime(), heartbeat));
    return { resumed };
  }

  /**
   * Parks again, under a new token, work that an outside worker holds while its execution runs again
   * after a restart; the binding picks it up with `takeReparked` instead of handing the work out.
   */
  async repark(request: ParkRequest): Promise<void> {
    const { resumed } = await this.park(request);
    this.reparked.set(attemptKey(request.workId, request.attempt), { taskId: request.taskId, resumed });
  }

  /** The wait of an attempt parked again by `repark`, once: the binding's first call gets it. */
  takeReparked(workId: string, attempt: number): Promise<unknown> | undefined {
    const key = attemptKey(workId, attempt);
    const found = this.reparked.get(key);
    this.reparked.delete(key);
    return found?.resumed;
  }

  /** Whether the token belongs to an attempt parked in this engine. */
  has(token: string): boolean {
    return this.byToken.has(token);
  }

  /** Takes the attempt of a claimed token off the clock; undefined when this engine no longer waits for it. */
  take(token: string): ParkedAttempt | undefined {
    const entry = this.byToken.get(token);
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    this.byToken.delete(token);
    return entry;
  }

  /** Puts back an attempt whose token went back to the store (its outcome could not be recorded). */
  restore(attempt: ParkedAttempt): void {
    const entry: Entry = { request: attempt.request, token: attempt.token, settle: attempt.settle };
    this.byToken.set(entry.token, entry);
    this.arm(entry, Date.now());
  }

  /** Forgets the task's attempts once it ended: nothing awaits them any more. */
  dropTask(taskId: string): void {
    for (const [token, entry] of this.byToken)
      if (entry.request.taskId === taskId) {
        clearTimeout(entry.timer);
        this.byToken.delete(token);
      }
    for (const [key, reparked] of this.reparked) if (reparked.taskId === taskId) this.reparked.delete(key);
  }

  /**
   * Stops every clock and forgets what waits, without settling it: failing the attempts would start
   * their retries. The rows stay as they are, WAITING, for a later engine to park again.
   */
  close(): void {
    this.closed = true;
    for (const entry of this.byToken.values()) clearTimeout(entry.timer);
    this.byToken.clear();
    this.reparked.clear();
  }

  private arm(entry: Entry, atMs: number): void {
    if (this.closed) return;
    clearTimeout(entry.timer);
    // One millisecond past the deadline: a callback exactly at it is still in time (the store's rule).
    const delay = Math.min(Math.max(atMs - Date.now() + 1, 0), TIMER_LIMIT_SECONDS * 1000);
    entry.timer = setTimeout(() => void this.expire(entry), delay);
  }

  private async expire(entry: Entry): Promise<void> {
    if (this.byToken.get(entry.token) !== entry) return;
    const { workId, attempt } = entry.request;
    let answer: Awaited<ReturnType<TrackingStore['expireWork']>>;
    try {
      answer = await this.store.expireWork({ workId, attempt, taskToken: entry.token });
    } catch {
      this.arm(entry, Date.now() + EXPIRY_RETRY_MS);
      return;
    }
    if (answer.outcome === 'waiting') return this.arm(entry, Date.parse(answer.nextDeadline));
    // `gone`: a callback took the token and settles the attempt itself.
    if (answer.outcome === 'gone' || this.byToken.get(entry.token) !== entry) return;
    this.byToken.delete(entry.token);
    const error =
      answer.reason === 'timeout'
        ? {
            error: 'States.Timeout',
            cause: `Attempt ${attempt} of '${workId}' got no callback by its deadline, ${answer.deadline}.`,
          }
        : {
            error: 'States.HeartbeatTimeout',
            cause: `Attempt ${attempt} of '${workId}' sent no heartbeat by ${answer.deadline}.`,
          };
    const outcome = { status: 'FAILED', error } as const;
    try {
      await recordWorkOutcome(this.store, workId, attempt, outcome);
    } catch {
      // The store is closing: the execution still learns of the timeout; the row says expired (410).
    }
    entry.settle(outcome);
  }
}

/**
 * The ASL the embedded engine gives aws-local-stepfunctions: the same definition with the timers that
 * the engine keeps itself lifted out of the way — every waiting Task's TimeoutSeconds (see the top of
 * this file) and those of the Task states named in `selfTimed` (sync operators, whose processes the
 * engine stops at their limit: operator-limits.ts) — and every other TimeoutSeconds capped at
 * setTimeout's limit, over which the library's timer would fire at once.
 */
export function engineTimedAsl(
  asl: AslDefinition,
  selfTimed: ReadonlySet<string> = new Set(),
): AslDefinition {
  const copy = structuredClone(asl);
  if (copy.TimeoutSeconds !== undefined)
    copy.TimeoutSeconds = Math.min(copy.TimeoutSeconds, TIMER_LIMIT_SECONDS);
  liftTimers(copy.States, selfTimed);
  return copy;
}

function liftTimers(states: Record<string, Record<string, unknown>>, selfTimed: ReadonlySet<string>): void {
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Task') {
      const waits = typeof state.Resource === 'string' && state.Resource.endsWith('.waitForTaskToken');
      if (waits || selfTimed.has(name)) state.TimeoutSeconds = TIMER_LIMIT_SECONDS;
      else if (typeof state.TimeoutSeconds === 'number')
        state.TimeoutSeconds = Math.min(state.TimeoutSeconds, TIMER_LIMIT_SECONDS);
    }
    for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[]) ?? [])
      liftTimers(branch.States, selfTimed);
    const processor = (state.ItemProcessor ?? state.Iterator) as
      | { States: Record<string, Record<string, unknown>> }
      | undefined;
    if (processor) liftTimers(processor.States, selfTimed);
  }
}

function attemptKey(workId: string, attempt: number): string {
  return `${workId}#${attempt}`;
}
