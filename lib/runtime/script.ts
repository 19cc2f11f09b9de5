// The `script` node's runner (spec §2): a user's JSONata expression or JavaScript function body, run in
// a sandbox against the node's context, whose JSON value is the node's output.
//
// Both languages run in a pool of child processes (script-worker.mjs), never on the caller's thread,
// because neither can always be stopped from within: JSONata evaluation is a chain of promises that
// starves the timers and a pathological regex never yields; QuickJS polls its interrupt handler only
// every few thousand operations, so a loop of slow built-in calls outlives any deadline. The hard time
// limit is killing the process. Processes rather than worker threads, because a worker thread that
// exhausts its heap can abort the whole host (nodejs/node#47224); a child takes only itself down.
// JavaScript runs in QuickJS (WebAssembly) inside that process: the process has host capabilities,
// the script has none. Memory: QuickJS is bounded by its WebAssembly memory, jsonata by the process's
// V8 heap; either way an exhausted sandbox is a ScriptMemoryLimit and the host is untouched.
//
// Deploying: script-worker.mjs is spawned from beside this module, as a file, and imports jsonata and
// quickjs-emscripten itself; a bundle (a Lambda) must ship it and those two packages next to it.
import { type ChildProcess, fork } from 'node:child_process';
import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import jsonata from 'jsonata';

export type ScriptLanguage = 'jsonata' | 'javascript';

export interface RunScriptOptions {
  readonly language: ScriptLanguage;
  /** A JSONata expression, or the body of `function (ctx)` returning the output. */
  readonly source: string;
  /** The node's context (§3). The script gets a JSON copy of it. */
  readonly context: unknown;
  readonly timeoutMs: number;
  /** What the script may allocate beyond the sandbox's own footprint; 64 MiB by default. */
  readonly memoryLimitBytes?: number;
}

export type ScriptSyntaxCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string; readonly line?: number; readonly column?: number };

/** Where a script failed, 1-based, in the script's own source. */
export interface ScriptPosition {
  readonly line?: number;
  readonly column?: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_SCRIPT_MEMORY_LIMIT_BYTES = 64 * MiB;

// Time the soft limits inside the worker get to report first; past it the process is killed.
const HARD_LIMIT_GRACE_MS = 100;
// jsonata, the QuickJS glue and the context copy live on the worker's V8 heap, beside the script's own.
const WORKER_HEAP_BASE_MB = 48;
// Room for QuickJS's C frames (see QUICKJS_STACK_BYTES in the worker), within the 8 MiB main-thread
// stack of Linux and macOS; where a platform gives less, an overflow kills only the sandbox process.
const WORKER_NATIVE_STACK_KB = 4000;
// Without it V8 recompiles QuickJS's hot WebAssembly functions with its optimising compiler during a
// process's first second or so, and on a busy machine that stalled the fresh process's event loop:
// measured on 2 loaded cores, its first script answered after 0.5-1.2 s instead of ~10 ms (and could
// be killed at its time limit without having run). The price: CPU-heavy scripts run ~1.5x slower.
const WASM_BASELINE_ONLY = '--liftoff-only';
// Scripts are CPU-bound: more processes than cores only adds memory.
const MAX_WORKERS_PER_POOL = Math.max(1, Math.min(4, availableParallelism()));
const STDERR_TAIL_CHARS = 2048;
// Shares line 1 with the source, as in the worker, so that line numbers are the author's own.
const FUNCTION_HEADER = '(function (ctx) {';
const SCRIPT_FILE = 'script.js';

// ---------------------------------------------------------------------------------------------------
// Errors: the class names end in Error; `name` is the error name of the spec, as traces report it.

export class ScriptTimeoutError extends Error {
  override readonly name = 'ScriptTimeout';
  constructor(
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`The script ran longer than its time limit of ${timeoutMs} ms.`, options);
  }
}

export class ScriptMemoryLimitError extends Error {
  override readonly name = 'ScriptMemoryLimit';
  constructor(
    readonly memoryLimitBytes: number,
    options?: ErrorOptions,
  ) {
    super(`The script used more than its memory limit of ${formatBytes(memoryLimitBytes)}.`, options);
  }
}

export class ScriptSyntaxError extends Error {
  override readonly name = 'ScriptSyntaxError';
  declare readonly line?: number;
  declare readonly column?: number;
  constructor(message: string, position: ScriptPosition = {}, options?: ErrorOptions) {
    super(`Syntax error in the script: ${withPosition(message, position)}`, options);
    Object.assign(this, position);
  }
}

/** The script threw, returned something that is not JSON, or its sandbox failed. */
export class ScriptError extends Error {
  override readonly name = 'ScriptError';
  declare readonly line?: number;
  declare readonly column?: number;
  constructor(message: string, position: ScriptPosition = {}, options?: ErrorOptions) {
    super(withPosition(message, position), options);
    Object.assign(this, position);
  }
}

function withPosition(message: string, { line, column }: ScriptPosition): string {
  if (line === undefined) return message;
  return column === undefined ? `${message} (line ${line})` : `${message} (line ${line}, column ${column})`;
}

function formatBytes(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

// ---------------------------------------------------------------------------------------------------
// Running

let nextRequestId = 1;

/**
 * Runs a script and resolves to its output: the JSON value of its result (`undefined` becomes null).
 * Failures reject with ScriptTimeoutError, ScriptMemoryLimitError, ScriptSyntaxError or ScriptError.
 *
 * JavaScript runs as the body of a sloppy-mode `function (ctx)` (a leading 'use strict' works); if it
 * returns a Promise, the sandbox's job queue is drained once and the settled value is the output (a
 * rejection is a ScriptError; a Promise that cannot settle, having no timers or I/O, is one too).
 */
export async function runScript(options: RunScriptOptions): Promise<unknown> {
  const { language, source, timeoutMs } = options;
  const memoryLimitBytes = options.memoryLimitBytes ?? DEFAULT_SCRIPT_MEMORY_LIMIT_BYTES;
  assertRunnable(language, timeoutMs, memoryLimitBytes);
  const request: WorkerRequest = {
    id: nextRequestId++,
    language,
    source,
    contextJson: contextToJson(options.context),
    timeoutMs,
  };
  const reply = await poolFor(memoryLimitBytes).run(request, timeoutMs + HARD_LIMIT_GRACE_MS);
  if (!reply.ok) throw toScriptError(reply.failure, source, timeoutMs, memoryLimitBytes);
  return JSON.parse(reply.resultJson);
}

/** Ends every sandbox process; scripts still running fail with ScriptError. Later runs start afresh. */
export async function closeScriptWorkers(): Promise<void> {
  const closing = [...pools.values()].map((pool) => pool.close());
  pools.clear();
  await Promise.all(closing);
}

function assertRunnable(language: string, timeoutMs: number, memoryLimitBytes: number): void {
  if (language !== 'jsonata' && language !== 'javascript') {
    throw new TypeError(`Unknown script language '${language}'. Use 'jsonata' or 'javascript'.`);
  }
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(`A script's timeout must be a positive number of milliseconds, not ${timeoutMs}.`);
  }
  if (!Number.isInteger(memoryLimitBytes) || memoryLimitBytes < MiB) {
    throw new RangeError(`A script's memory limit must be a whole number of bytes, at least 1 MiB.`);
  }
}

function contextToJson(context: unknown): string {
  try {
    return JSON.stringify(context) ?? 'null';
  } catch (error) {
    throw new ScriptError(
      `The script's context is not JSON: ${(error as Error).message}`,
      {},
      { cause: error },
    );
  }
}

function toScriptError(
  failure: ScriptFailure,
  source: string,
  timeoutMs: number,
  memoryLimitBytes: number,
): Error {
  const position = failure.offset === undefined ? failure : offsetToPosition(source, failure.offset);
  const { line, column } = position;
  const where = { ...(line === undefined ? {} : { line }), ...(column === undefined ? {} : { column }) };
  switch (failure.kind) {
    case 'timeout':
      return new ScriptTimeoutError(timeoutMs);
    case 'memory':
      return new ScriptMemoryLimitError(memoryLimitBytes);
    case 'syntax':
      return new ScriptSyntaxError(failure.message, where);
    default:
      return new ScriptError(failure.message, where);
  }
}

// ---------------------------------------------------------------------------------------------------
// Syntax, checked without running anything

/**
 * Whether a script parses, for the validator: JSONata is parsed by jsonata; JavaScript is compiled,
 * never run, by V8 in the same `function (ctx)` shape the sandbox uses. V8 is used rather than QuickJS
 * because QuickJS loads asynchronously; both implement the same ES2023 grammar.
 */
export function checkScriptSyntax(language: ScriptLanguage, source: string): ScriptSyntaxCheck {
  return language === 'jsonata' ? checkJsonataSyntax(source) : checkJavascriptSyntax(source);
}

function checkJsonataSyntax(source: string): ScriptSyntaxCheck {
  try {
    jsonata(source);
    return { ok: true };
  } catch (error) {
    const { message, position } = error as { message?: unknown; position?: unknown };
    const text = typeof message === 'string' ? message : String(error);
    return typeof position === 'number'
      ? { ok: false, message: text, ...offsetToPosition(source, position) }
      : { ok: false, message: text };
  }
}

function checkJavascriptSyntax(source: string): ScriptSyntaxCheck {
  try {
    new Script(`${FUNCTION_HEADER}${source}\n})`, { filename: SCRIPT_FILE });
    return { ok: true };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return { ok: false, message: error.message, ...v8SyntaxPosition(error) };
  }
}

/**
 * Node prefixes a compile error's stack with "script.js:LINE", the source line and a caret line
 * under the offending token; the caret gives the column.
 */
function v8SyntaxPosition(error: SyntaxError): ScriptPosition {
  const [header, , carets] = (error.stack ?? '').split('\n');
  const match = new RegExp(`^${SCRIPT_FILE.replace('.', '\\.')}:(\\d+)$`).exec(header ?? '');
  if (!match) return {};
  const line = Number(match[1]);
  const caret = carets?.indexOf('^') ?? -1;
  if (caret < 0) return { line };
  const column = caret + 1 - (line === 1 ? FUNCTION_HEADER.length : 0);
  return { line, column: Math.max(1, column) };
}

/** jsonata positions are the 1-based offset of the offending token's last character. */
function offsetToPosition(source: string, offset: number): Required<ScriptPosition> {
  const before = source.slice(0, Math.max(0, offset - 1));
  const line = before.split('\n').length;
  return { line, column: Math.max(1, offset - before.lastIndexOf('\n') - 1) };
}

// ---------------------------------------------------------------------------------------------------
// Sandbox processes
//
// The message shapes script-worker.mjs exchanges with this module.

interface WorkerRequest {
  readonly id: number;
  readonly language: ScriptLanguage;
  readonly source: string;
  readonly contextJson: string;
  readonly timeoutMs: number;
}

type FailureKind = 'timeout' | 'memory' | 'syntax' | 'thrown' | 'result' | 'crash';

interface ScriptFailure {
  readonly kind: FailureKind;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
  /** jsonata's character offset, turned into line and column here. */
  readonly offset?: number;
}

type WorkerReply =
  | { readonly ok: true; readonly resultJson: string; readonly recycle?: boolean }
  | { readonly ok: false; readonly failure: ScriptFailure; readonly recycle: boolean };

/** A reply for a process that did not answer: it is gone, so it is never reused. */
function lostWorker(kind: FailureKind, message: string): WorkerReply {
  return { ok: false, failure: { kind, message }, recycle: true };
}

/** What V8 prints when a process runs out of heap. */
const HEAP_EXHAUSTED = /heap out of memory|Reached heap limit/;

/** One sandbox process, running one script at a time. */
class ScriptWorker {
  private alive = true;
  // The end of the process's stderr: V8 writes there why it aborted (a heap exhausted, typically).
  private stderrTail = '';
  private heapExhausted = false;

  private constructor(private readonly child: ChildProcess) {
    child.once('exit', () => {
      this.alive = false;
    });
    // A permanent listener: an 'error' event with none would be thrown on the host's event loop.
    child.on('error', () => {});
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      // V8's "heap limit" line comes before a long native stack trace that can push it out of the
      // tail, so it is noted as it passes (the tail before the chunk covers a line split in two).
      if (HEAP_EXHAUSTED.test(this.stderrTail.slice(-200) + chunk)) this.heapExhausted = true;
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
    });
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** Resolves once the process has loaded jsonata and QuickJS, so start-up never eats a time limit. */
  static start(memoryLimitBytes: number): Promise<ScriptWorker> {
    // Resolved here, not at import: a bundle that only checks syntax never needs the worker file.
    const workerPath = fileURLToPath(new URL('./script-worker.mjs', import.meta.url));
    const child = fork(workerPath, [String(memoryLimitBytes)], {
      // Its own heap limit; and none of the host's loaders (tsx, vitest): the worker is plain JavaScript.
      execArgv: [
        `--max-old-space-size=${WORKER_HEAP_BASE_MB + Math.ceil(memoryLimitBytes / MiB)}`,
        `--stack-size=${WORKER_NATIVE_STACK_KB}`,
        WASM_BASELINE_ONLY,
      ],
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const worker = new ScriptWorker(child);
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        child.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (error) reject(error);
        else resolve(worker);
      };
      const onMessage = (message: { type?: string }) => message.type === 'ready' && settle();
      const onError = (cause: Error) =>
        settle(new ScriptError('The script sandbox did not start.', {}, { cause }));
      const onExit = () =>
        settle(new ScriptError(`The script sandbox did not start: ${worker.exitReason()}`));
      child.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
  }

  /** Never rejects: every outcome, the process's death included, is a reply. */
  run(request: WorkerRequest, hardLimitMs: number): Promise<WorkerReply> {
    if (!this.alive) return Promise.resolve(lostWorker('crash', 'The script sandbox has exited.'));
    const { child } = this;
    this.hold(true);
    return new Promise((resolve) => {
      const settle = (reply: WorkerReply) => {
        clearTimeout(timer);
        child.off('message', onMessage).off('exit', onExit);
        resolve(reply);
      };
      const timer = setTimeout(() => {
        void this.stop();
        settle(lostWorker('timeout', 'killed at the time limit'));
      }, hardLimitMs);
      const onMessage = (reply: WorkerReply & { id?: number }) => reply.id === request.id && settle(reply);
      const onExit = () => settle(this.deathReply());
      child.on('message', onMessage).on('exit', onExit);
      child.send(request);
    });
  }

  /** An idle process must not keep the host alive (the CLI exits when its work is done). */
  park(): void {
    this.hold(false);
  }

  stop(): Promise<void> {
    this.alive = false;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    return exited;
  }

  private hold(keepHostAlive: boolean): void {
    const handles = [this.child, this.child.channel, this.child.stderr as Socket | null];
    for (const handle of handles) {
      if (keepHostAlive) handle?.ref();
      else handle?.unref();
    }
  }

  private deathReply(): WorkerReply {
    // V8 aborts the process (SIGABRT) when a heap is exhausted, even when its message is lost.
    return this.heapExhausted || this.child.signalCode === 'SIGABRT'
      ? lostWorker('memory', 'heap out of memory')
      : lostWorker('crash', `The script sandbox failed: ${this.exitReason()}`);
  }

  private exitReason(): string {
    const { exitCode, signalCode } = this.child;
    const status = signalCode ? `killed by ${signalCode}` : `exited with code ${exitCode}`;
    // Node ends a crash report with its version; the error's own line says more.
    const lines = this.stderrTail.split('\n').filter((line) => line.trim() !== '');
    const reason = lines.findLast((line) => /Error\b|FATAL/.test(line)) ?? lines.at(-1);
    return reason ? `${status}: ${reason.trim()}` : status;
  }
}

interface Waiter {
  resolve(worker: ScriptWorker): void;
  reject(error: unknown): void;
}

/**
 * Processes of one memory limit (a process's heap limit is fixed when it starts). Idle ones are reused;
 * one that was terminated or asked to be recycled is replaced at once, so the next script does not
 * wait for a start-up.
 */
class ScriptWorkerPool {
  private readonly idle: ScriptWorker[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly workers = new Set<ScriptWorker>();
  // Processes running or starting: counting those still starting keeps concurrent callers within max.
  private size = 0;
  // Replacements under way; a caller waits for one rather than starting yet another process.
  private replacing = 0;
  private closed = false;

  constructor(
    private readonly memoryLimitBytes: number,
    private readonly maxWorkers: number,
  ) {}

  async run(request: WorkerRequest, hardLimitMs: number): Promise<WorkerReply> {
    const worker = await this.acquire();
    const reply = await worker.run(request, hardLimitMs);
    if (reply.recycle || !worker.isAlive) this.replace(worker);
    else this.release(worker);
    return reply;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0))
      waiter.reject(new ScriptError('The script runner was closed.'));
    const stopping = [...this.workers].map((worker) => worker.stop());
    this.workers.clear();
    this.idle.length = 0;
    await Promise.all(stopping);
  }

  private acquire(): Promise<ScriptWorker> {
    for (let worker = this.idle.pop(); worker; worker = this.idle.pop()) {
      if (worker.isAlive) return Promise.resolve(worker);
      this.forget(worker);
    }
    if (this.size < this.maxWorkers && this.replacing <= this.waiters.length) return this.grow();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private async grow(): Promise<ScriptWorker> {
    this.size++;
    try {
      const worker = await ScriptWorker.start(this.memoryLimitBytes);
      this.workers.add(worker);
      return worker;
    } catch (error) {
      this.size--;
      throw error;
    }
  }

  private release(worker: ScriptWorker): void {
    if (this.closed) {
      this.forget(worker);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(worker);
      return;
    }
    worker.park();
    this.idle.push(worker);
  }

  private replace(worker: ScriptWorker): void {
    this.forget(worker);
    if (this.closed) return;
    this.replacing++;
    this.grow()
      .finally(() => this.replacing--)
      .then(
        (fresh) => this.release(fresh),
        // With nobody waiting the failure is dropped: the next run starts a process and reports it.
        (error: unknown) => this.waiters.shift()?.reject(error),
      );
  }

  private forget(worker: ScriptWorker): void {
    if (this.workers.delete(worker)) this.size--;
    void worker.stop();
  }
}

const pools = new Map<number, ScriptWorkerPool>();

function poolFor(memoryLimitBytes: number): ScriptWorkerPool {
  let pool = pools.get(memoryLimitBytes);
  if (!pool) {
    pool = new ScriptWorkerPool(memoryLimitBytes, MAX_WORKERS_PER_POOL);
    pools.set(memoryLimitBytes, pool);
  }
  return pool;
}
