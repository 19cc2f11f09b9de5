// Operator attempts on the embedded engine, each in a child process (operator-process.mjs), never on the
// engine's own thread. On AWS every attempt is its own Lambda invocation: a crash or `process.exit()`
// ends only that invocation, and a timeout stops it. Locally the same holds because the process is
// what an attempt can take down, and what the engine stops at the attempt's time limit:
//
// - Processes, not worker threads (measured, see bench/RESULTS.md): a worker thread cannot be shielded
//   from `process.kill(process.pid)`, an exhausted heap can abort its host (nodejs/node#47224), and
//   terminating it leaves what it spawned (ffmpeg) running. A child started detached leads its own
//   process group, and killing the group stops the operator and everything it started.
// - One attempt per process at a time, so that stopping or losing a process fails that attempt only.
//   Processes are kept warm and reused, as Lambda reuses its execution environments; one that died is
//   replaced. Loading an operator's module happens before the attempt's clock starts (as a Lambda's
//   init does not count against its timeout): the time a fresh process spends on tsx and the import
//   is not charged to the attempt.
// - The process writes nothing to tracking. The host's operator runtime records the attempt once it
//   has settled here, and it settles exactly once: with the handler's value or error, or, when the time
//   limit passes, after the process group has been killed and has exited (nothing of the attempt can
//   run after that), or when the process died (OperatorCrashedError, with its exit code or signal).
import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OperatorFailedError } from './operator-runtime.js';
import type { OperatorEvent } from './operators.js';

/** Twice the cores (operators mostly wait on ffmpeg or I/O), within 4 to 16. */
export const DEFAULT_MAX_OPERATOR_PROCESSES = Math.min(16, Math.max(4, 2 * availableParallelism()));

// Generous: a fresh process on a busy machine takes a second or more to load tsx and a media operator.
const LOAD_LIMIT_MS = 60_000;
/** setTimeout's limit; a longer (or infinite) time limit means none. */
const TIMER_LIMIT_MS = 2 ** 31 - 1;
// After the process exits, how long its pipes get to close (the last messages arrive before they do).
const EXIT_GRACE_MS = 1_000;
const STDERR_TAIL_CHARS = 2048;
const GROUPS = process.platform !== 'win32';

// ---------------------------------------------------------------------------------------------------
// Errors: `name` is the error of the attempt as the state machine and the traces see it.

export class OperatorTimeoutError extends Error {
  override readonly name = 'States.Timeout';
  constructor(
    readonly operator: string,
    readonly timeoutMs: number,
    phase: 'run' | 'load' = 'run',
    options?: ErrorOptions,
  ) {
    super(
      phase === 'run'
        ? `Operator '${operator}' ran longer than its time limit of ${seconds(timeoutMs)}; its process was stopped.`
        : `Operator '${operator}' took longer than ${seconds(timeoutMs)} to load; its process was stopped.`,
      options,
    );
  }
}

/** The operator's process ended before it answered: `process.exit()`, an uncaught exception, a signal. */
export class OperatorCrashedError extends Error {
  override readonly name = 'OperatorCrashedError';
  constructor(
    readonly operator: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    detail?: string,
    options?: ErrorOptions,
  ) {
    const how = signal ? `killed by ${signal}` : `exited with code ${exitCode}`;
    super(
      `Operator '${operator}' ended its process before answering (${how})${detail ? `: ${detail}` : ''}`,
      options,
    );
  }
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

// ---------------------------------------------------------------------------------------------------
// Messages exchanged with operator-process.mjs

type HostRequest =
  | { readonly type: 'load'; readonly id: number; readonly url: string }
  | { readonly type: 'run'; readonly id: number; readonly url: string; readonly event: OperatorEvent };

interface ErrorReply {
  readonly error: string;
  readonly cause: string;
}

type ProcessMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'fatal'; readonly error: ErrorReply }
  | { readonly id: number; readonly ok: true; readonly value?: unknown }
  | { readonly id: number; readonly ok: false; readonly error: ErrorReply };

/** How one request ended. */
type Outcome =
  | { readonly kind: 'answered'; readonly value: unknown }
  | { readonly kind: 'thrown'; readonly error: ErrorReply }
  | { readonly kind: 'timeout' }
  | {
      readonly kind: 'crashed';
      readonly exitCode: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly detail?: string;
    };

let nextRequestId = 1;

// ---------------------------------------------------------------------------------------------------
// One process

class OperatorProcess {
  private alive = true;
  private readonly loaded = new Set<string>();
  private fatal: ErrorReply | undefined;
  private stderrTail = '';
  private gone = false;
  /** The request waiting for an answer, told when the process is gone. */
  private onGone: (() => void) | undefined;
  private readonly goneWaiters: (() => void)[] = [];

  private constructor(private readonly child: ChildProcess) {
    // A permanent listener: an 'error' event with none would be thrown on the host's event loop.
    child.on('error', () => {});
    child.on('message', (message: ProcessMessage) => {
      if ('type' in message && message.type === 'fatal') this.fatal = message.error;
    });
    child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
    child.once('exit', () => {
      this.alive = false;
      // What the operator started (ffmpeg, say) goes with it.
      this.killGroup();
      const grace = setTimeout(() => this.markGone(), EXIT_GRACE_MS);
      grace.unref();
    });
    // After 'exit', once the pipes and the IPC channel have closed: every message has arrived.
    child.once('close', () => this.markGone());
  }

  static start(): Promise<OperatorProcess> {
    const harness = fileURLToPath(new URL('./operator-process.mjs', import.meta.url));
    const child = fork(harness, [], {
      // None of the host's loaders or flags (vitest, tsx): the harness registers tsx itself. The
      // environment and working directory are the host's when the process starts: passing changes on
      // per call would cost more than the call (reading process.env takes ~40 µs for 35 variables).
      execArgv: [],
      // Its own process group, so that a kill reaches what the operator spawned.
      detached: GROUPS,
      // The operator's output goes to the host's stderr: `dag run --json` keeps stdout for its result.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const started = new OperatorProcess(child);
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        child.off('message', onMessage).off('exit', onExit);
        if (error) reject(error);
        else resolve(started);
      };
      const onMessage = (message: ProcessMessage) =>
        'type' in message && message.type === 'ready' && settle();
      const onExit = () =>
        settle(
          new Error(`An operator process did not start (${started.exitReason() ?? 'no reason given'}).`),
        );
      child.on('message', onMessage).on('exit', onExit);
    });
  }

  get isAlive(): boolean {
    return this.alive;
  }

  has(url: string): boolean {
    return this.loaded.has(url);
  }

  async load(url: string): Promise<Outcome> {
    const outcome = await this.exchange({ type: 'load', id: nextRequestId++, url }, LOAD_LIMIT_MS);
    if (outcome.kind === 'answered') this.loaded.add(url);
    return outcome;
  }

  run(url: string, event: OperatorEvent, timeoutMs: number): Promise<Outcome> {
    return this.exchange({ type: 'run', id: nextRequestId++, url, event }, timeoutMs);
  }

  /** An idle process must not keep the host alive (the CLI exits when its work is done). */
  park(): void {
    this.hold(false);
  }

  /** Kills the process and what it started; resolves once it is gone. */
  stop(): Promise<void> {
    this.alive = false;
    // Held until it is gone, or an idle (unreferenced) process would let the host exit mid-close.
    this.hold(true);
    const gone = new Promise<void>((resolve) => {
      if (this.gone) resolve();
      else this.goneWaiters.push(resolve);
    });
    this.killGroup();
    return gone;
  }

  /** Never rejects: the answer, a time limit passed, or the process's death is the outcome. */
  private exchange(request: HostRequest, limitMs: number): Promise<Outcome> {
    if (!this.alive) return Promise.resolve(this.crashOutcome());
    // Why the process ends, if it does, is read from what it writes during this request only.
    this.stderrTail = '';
    this.hold(true);
    return new Promise((resolve) => {
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (outcome: Outcome) => {
        clearTimeout(timer);
        this.onGone = undefined;
        this.child.off('message', onMessage);
        resolve(outcome);
      };
      const onMessage = (reply: ProcessMessage) => {
        if (!('id' in reply) || reply.id !== request.id) return;
        settle(reply.ok ? { kind: 'answered', value: reply.value } : { kind: 'thrown', error: reply.error });
      };
      this.child.on('message', onMessage);
      // Settled only once the process is gone, so that nothing of a stopped attempt runs past it.
      this.onGone = () => settle(timedOut ? { kind: 'timeout' } : this.crashOutcome());
      if (limitMs <= TIMER_LIMIT_MS)
        timer = setTimeout(() => {
          timedOut = true;
          this.alive = false;
          this.child.off('message', onMessage);
          this.killGroup();
        }, limitMs);
      try {
        this.child.send(request, () => {
          // A failed send means the channel closed: the process is going, and 'close' settles this.
        });
      } catch (error) {
        settle({ kind: 'thrown', error: { error: 'TypeError', cause: (error as Error).message } });
      }
    });
  }

  private markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.alive = false;
    this.onGone?.();
    for (const resolve of this.goneWaiters.splice(0)) resolve();
  }

  private killGroup(): void {
    const { pid } = this.child;
    if (pid === undefined) return;
    try {
      if (GROUPS) process.kill(-pid, 'SIGKILL');
      else this.child.kill('SIGKILL');
    } catch {
      // Already gone (ESRCH): the group has no members left.
    }
  }

  private hold(keepHostAlive: boolean): void {
    const handles = [
      this.child,
      this.child.channel,
      this.child.stdout as Socket | null,
      this.child.stderr as Socket | null,
    ];
    for (const handle of handles) {
      if (keepHostAlive) handle?.ref();
      else handle?.unref();
    }
  }

  private crashOutcome(): Outcome {
    const { exitCode, signalCode } = this.child;
    const detail = this.exitReason();
    return { kind: 'crashed', exitCode, signal: signalCode, ...(detail ? { detail } : {}) };
  }

  /** What the process said about its end: the uncaught error, else the last error line on its stderr. */
  private exitReason(): string | undefined {
    if (this.fatal) return `uncaught ${this.fatal.error}: ${this.fatal.cause}`;
    const lines = this.stderrTail.split('\n').filter((line) => line.trim() !== '');
    return lines.findLast((line) => /Error\b|FATAL/.test(line))?.trim();
  }
}

// ---------------------------------------------------------------------------------------------------
// The pool

interface Waiter {
  resolve(process: OperatorProcess): void;
  reject(error: unknown): void;
}

/**
 * Operator processes shared by every operator of a catalog. An attempt takes an idle process that has
 * its module loaded, else any idle one, else a new one up to `maxProcesses`, else waits its turn (its
 * time limit starts when it runs, as a throttled Lambda's would).
 */
export class OperatorProcessPool {
  private readonly idle: OperatorProcess[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly processes = new Set<OperatorProcess>();
  private readonly urls = new Map<string, string>();
  private starting = 0;
  private closed = false;

  constructor(readonly maxProcesses: number = DEFAULT_MAX_OPERATOR_PROCESSES) {
    if (!Number.isInteger(maxProcesses) || maxProcesses < 1)
      throw new RangeError(`An operator pool needs at least one process, not ${maxProcesses}.`);
  }

  /**
   * Runs one attempt of `operator` (its module at `file`) on `event`. Resolves with the handler's value;
   * rejects with its error (as OperatorFailedError), OperatorTimeoutError past `timeoutMs`, or
   * OperatorCrashedError. Attempts in flight when the pool closes never settle: an engine that stops
   * leaves them RUNNING, for the engine that resumes the task to run again.
   */
  async run(operator: string, file: string, event: OperatorEvent, timeoutMs: number): Promise<unknown> {
    if (this.closed) return never();
    let url = this.urls.get(file);
    if (!url) {
      url = pathToFileURL(file).href;
      this.urls.set(file, url);
    }
    const worker = await this.acquire(url);
    let outcome: Outcome | undefined;
    let phase: 'load' | 'run' = 'run';
    try {
      if (!worker.has(url)) {
        const loaded = await worker.load(url);
        if (loaded.kind !== 'answered') [outcome, phase] = [loaded, 'load'];
      }
      outcome ??= await worker.run(url, event, timeoutMs);
    } finally {
      this.release(worker);
    }
    if (this.closed) return never();
    switch (outcome.kind) {
      case 'answered':
        return outcome.value;
      case 'thrown':
        throw new OperatorFailedError(outcome.error.error, outcome.error.cause);
      case 'timeout':
        throw new OperatorTimeoutError(operator, phase === 'run' ? timeoutMs : LOAD_LIMIT_MS, phase);
      case 'crashed':
        throw new OperatorCrashedError(operator, outcome.exitCode, outcome.signal, outcome.detail);
    }
  }

  /** How many processes are up (idle or running an attempt). */
  get size(): number {
    return this.processes.size;
  }

  /** Kills every process. Attempts in flight and waiting never settle (see `run`). */
  async close(): Promise<void> {
    this.closed = true;
    this.waiters.length = 0;
    this.idle.length = 0;
    const stopping = [...this.processes].map((worker) => worker.stop());
    this.processes.clear();
    await Promise.all(stopping);
  }

  private acquire(url: string): Promise<OperatorProcess> {
    const idle = this.takeIdle((worker) => worker.has(url)) ?? this.takeIdle(() => true);
    if (idle) return Promise.resolve(idle);
    if (this.processes.size + this.starting < this.maxProcesses) return this.grow();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private takeIdle(fits: (worker: OperatorProcess) => boolean): OperatorProcess | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const worker = this.idle[i]!;
      if (!worker.isAlive) {
        this.idle.splice(i, 1);
        this.processes.delete(worker);
      } else if (fits(worker)) {
        this.idle.splice(i, 1);
        return worker;
      }
    }
    return undefined;
  }

  private async grow(): Promise<OperatorProcess> {
    this.starting++;
    try {
      const worker = await OperatorProcess.start();
      if (this.closed) {
        void worker.stop();
        return never();
      }
      this.processes.add(worker);
      return worker;
    } finally {
      this.starting--;
    }
  }

  private release(worker: OperatorProcess): void {
    if (this.closed) return;
    if (!worker.isAlive) {
      this.processes.delete(worker);
      this.replace();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(worker);
    else {
      worker.park();
      this.idle.push(worker);
    }
  }

  /** Starts a process in place of one that died: for the next waiter, or kept warm for the next attempt. */
  private replace(): void {
    this.grow().then(
      (fresh) => this.release(fresh),
      // With nobody waiting the failure is dropped: the next attempt starts a process and reports it.
      (error: unknown) => this.waiters.shift()?.reject(error),
    );
  }
}

function never(): Promise<never> {
  return new Promise<never>(() => {});
}
