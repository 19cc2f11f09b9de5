import { spawn } from 'node:child_process';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import ffprobeInstaller from '@ffprobe-installer/ffprobe';

/** The binaries shipped inside the npm packages: the same ffmpeg on a laptop, in CI and in Lambda. */
export const ffmpegPath: string = ffmpegInstaller.path;
export const ffprobePath: string = ffprobeInstaller.path;

export interface RunOptions {
  /** Kill the process (SIGKILL) after this long. No limit by default. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  /** The tail of stderr (the last 64 KiB): enough to explain a failure. */
  stderr: string;
}

type Program = 'ffmpeg' | 'ffprobe';

export interface FfmpegErrorDetails {
  program: Program;
  args: readonly string[];
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  stderr?: string;
}

export class FfmpegError extends Error {
  readonly program: Program;
  readonly args: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;

  constructor(message: string, details: FfmpegErrorDetails, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FfmpegError';
    this.program = details.program;
    this.args = details.args;
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.stderr = details.stderr ?? '';
  }
}

export class FfmpegTimeoutError extends FfmpegError {
  constructor(timeoutMs: number, details: FfmpegErrorDetails) {
    super(`${details.program} timed out after ${timeoutMs} ms and was killed`, details);
    this.name = 'FfmpegTimeoutError';
  }
}

export class FfmpegAbortedError extends FfmpegError {
  constructor(details: FfmpegErrorDetails, options?: ErrorOptions) {
    super(`${details.program} was aborted`, details, options);
    this.name = 'FfmpegAbortedError';
  }
}

/**
 * Runs ffmpeg. `-hide_banner -nostdin -y` always: no banner noise in errors, never wait on a stdin a
 * Lambda does not have, overwrite outputs (they live in temp folders we own). Log level `error`
 * unless `args` set one, so stderr holds the reason for a failure rather than progress lines.
 */
export function runFfmpeg(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const logLevel = hasLogLevel(args) ? [] : ['-loglevel', 'error'];
  return runProgram('ffmpeg', ffmpegPath, ['-hide_banner', '-nostdin', '-y', ...logLevel, ...args], options);
}

/** Runs ffprobe (log level `error` unless `args` set one); its report is on `stdout`. */
export function runFfprobe(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const logLevel = hasLogLevel(args) ? [] : ['-v', 'error'];
  return runProgram('ffprobe', ffprobePath, ['-hide_banner', ...logLevel, ...args], options);
}

function hasLogLevel(args: readonly string[]): boolean {
  return args.includes('-v') || args.includes('-loglevel');
}

const STDERR_LIMIT = 64 * 1024;
const ERROR_LINES = 8;

function runProgram(
  program: Program,
  binary: string,
  args: readonly string[],
  { timeoutMs, signal }: RunOptions,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const details = (extra: Partial<FfmpegErrorDetails> = {}): FfmpegErrorDetails => ({
      program,
      args,
      stderr,
      ...extra,
    });
    if (signal?.aborted) {
      reject(new FfmpegAbortedError(details(), { cause: signal.reason }));
      return;
    }

    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stoppedBy: 'timeout' | 'abort' | undefined;
    let settled = false;

    const stop = (reason: 'timeout' | 'abort') => {
      if (stoppedBy !== undefined) return;
      stoppedBy = reason;
      child.kill('SIGKILL');
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => stop('timeout'), timeoutMs);
    const onAbort = () => stop('abort');
    signal?.addEventListener('abort', onAbort, { once: true });

    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };

    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // Long encodes print a lot; only the end explains a failure.
      stderr = (stderr + chunk).slice(-STDERR_LIMIT);
    });

    child.on('error', (error) =>
      settle(() =>
        reject(
          new FfmpegError(`could not start ${program} (${binary}): ${error.message}`, details(), {
            cause: error,
          }),
        ),
      ),
    );
    const failureOf = (exitCode: number | null, exitSignal: NodeJS.Signals | null) => {
      const ended = details({ exitCode, signal: exitSignal });
      if (stoppedBy === 'timeout') return new FfmpegTimeoutError(timeoutMs ?? 0, ended);
      if (stoppedBy === 'abort') return new FfmpegAbortedError(ended, { cause: signal?.reason });
      if (exitCode === 0) return undefined;
      return new FfmpegError(failureMessage(program, exitCode, exitSignal, stderr), ended);
    };
    child.on('close', (exitCode, exitSignal) =>
      settle(() => {
        const failure = failureOf(exitCode, exitSignal);
        if (failure === undefined) resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr });
        else reject(failure);
      }),
    );
  });
}

function failureMessage(
  program: Program,
  exitCode: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
): string {
  const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with code ${exitCode}`;
  const tail = lastLines(stderr, ERROR_LINES);
  return tail === '' ? `${program} ${how}` : `${program} ${how}: ${tail}`;
}

/** The last non-empty lines of ffmpeg's stderr, which separates progress updates with `\r`. */
export function lastLines(text: string, count: number): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(-count)
    .join('\n');
}
