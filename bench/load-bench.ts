// Load on `dag serve` through its HTTP API: `npx tsx bench/load-bench.ts [--tasks 500] [--concurrency 32]
// [--deadline 600]`. Starts `dag serve` as a child process on 127.0.0.1 (port 0, a temporary --data
// folder, the benchmark's no-op operator), registers a workflow of 4 sync nodes in a chain, submits the
// tasks with a pool of at most --concurrency requests in flight, polls until every task has ended, and
// checks each one SUCCEEDED with an event per node. Reports throughput (tasks/s, first submit to last
// end) and task latency (submit to end). The client stops at the deadline whatever is left, and the
// server is stopped at the end whatever happens.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { noopChainWorkflow } from './noop-chain.js';
import { currentLoad, reportSummary } from './summary.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '32' },
    deadline: { type: 'string', default: '600' },
  },
});
const TASKS = Number(values.tasks);
const CONCURRENCY = Number(values.concurrency);
const DEADLINE_MS = Number(values.deadline) * 1000;
const ROOT = join(import.meta.dirname, '..');
/** Per request, so that one stuck request cannot hold the client past the deadline. */
const REQUEST_TIMEOUT_MS = 30_000;
const POLL_EVERY_MS = 250;
const POLL_CONCURRENCY = 8;

const { text: WORKFLOW, nodes: NODES } = noopChainWorkflow('bench-load', 4);
const EXPECTED_EVENTS = ['begin', ...NODES, 'done'].sort();

class DeadlinePassedError extends Error {
  constructor() {
    super(`the ${DEADLINE_MS / 1000} s deadline passed`);
    this.name = 'DeadlinePassedError';
  }
}

interface Submitted {
  readonly taskId: string;
  /** Client clock (the same machine's as the server's), ms since the epoch, before the POST was sent. */
  readonly submittedAt: number;
}

interface TaskView {
  readonly status: string;
  readonly events: { node: string; status: string }[];
  readonly stats: { durationMs: number };
}

interface Ended {
  readonly taskId: string;
  readonly view: TaskView;
  /** When the task record ended (server clock, ms since the epoch). */
  readonly endedAt: number;
}

/**
 * The task record's `createdAt` + `durationMs`: the API gives the duration, not the times, but a task
 * id is a UUIDv7 whose first 48 bits are the millisecond it was made, just before the record.
 */
function taskEndedAt(taskId: string, view: TaskView): number {
  return Number.parseInt(taskId.replace(/-/g, '').slice(0, 12), 16) + view.stats.durationMs;
}

/** Starts `dag serve` and resolves with its URL once it listens; the child's stderr is drained. */
async function startServer(
  dataDir: string,
): Promise<{ child: ChildProcess; url: string; logLines: () => number }> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin', 'dag.js'),
      'serve',
      '--port',
      '0',
      '--data',
      dataDir,
      '--operators',
      'bench/operators',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let lines = 0;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('dag serve did not start within 60 s')), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dag serve exited with ${code} before listening`)));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      lines++;
      const found = /dag serve: (http:\/\/127\.0\.0\.1:\d+)\//.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    });
  });
  return { child, url, logLines: () => lines };
}

/** SIGTERM (dag serve closes cleanly on it), then SIGKILL if it has not exited within 15 s. */
async function stopServer(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return `already exited (${child.exitCode})`;
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit ${code}`)),
  );
  child.kill('SIGTERM');
  const outcome = await Promise.race([exited, sleep(15_000).then(() => undefined)]);
  if (outcome !== undefined) return outcome;
  child.kill('SIGKILL');
  return `${await exited} after SIGKILL`;
}

async function request(url: string, init: RequestInit, stop: AbortSignal): Promise<Response> {
  if (stop.aborted) throw new DeadlinePassedError();
  return fetch(url, { ...init, signal: AbortSignal.any([stop, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) });
}

/** Runs `work` over `items` with at most `limit` at once; stops taking new items once `stop` aborts. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  stop: AbortSignal,
  work: (item: T) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop.aborted) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const loadBefore = currentLoad();
  const dataDir = await mkdtemp(join(tmpdir(), 'media-dag-load-'));
  const deadline = AbortSignal.timeout(DEADLINE_MS);
  const notes: string[] = [];
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  // If this process dies on an error or is interrupted, the server must not outlive it.
  const killOnExit = () => server?.child.kill('SIGKILL');
  const interrupted = () => {
    killOnExit();
    process.exit(130);
  };
  process.once('exit', killOnExit);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const submitted: Submitted[] = [];
  const ended = new Map<string, Ended>();
  const failures: string[] = [];
  try {
    server = await startServer(dataDir);
    const { url } = server;
    const registered = await request(
      `${url}/workflows`,
      { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: WORKFLOW },
      deadline,
    );
    if (registered.status !== 201)
      throw new Error(`POST /workflows: ${registered.status} ${await registered.text()}`);

    const t0 = Date.now();
    const submitting = pool(
      Array.from({ length: TASKS }, (_, i) => i),
      CONCURRENCY,
      deadline,
      async (i) => {
        const submittedAt = Date.now();
        try {
          const answer = await request(
            `${url}/workflows/bench-load/tasks`,
            { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ i }) },
            deadline,
          );
          const body = (await answer.json()) as { taskId?: string; message?: string };
          if (answer.status === 202 && body.taskId) submitted.push({ taskId: body.taskId, submittedAt });
          else failures.push(`submit ${i}: ${answer.status} ${body.message ?? ''}`);
        } catch (error) {
          if (!deadline.aborted) failures.push(`submit ${i}: ${(error as Error).message}`);
        }
      },
    );

    // Polls while submitting goes on, until every submitted task has ended or the deadline passes.
    let submitDone = false;
    void submitting.finally(() => {
      submitDone = true;
    });
    while (!deadline.aborted && !(submitDone && ended.size >= submitted.length)) {
      const open = submitted.filter((s) => !ended.has(s.taskId));
      await pool(open, POLL_CONCURRENCY, deadline, async ({ taskId }) => {
        try {
          const answer = await request(`${url}/tasks/${taskId}`, {}, deadline);
          const view = (await answer.json()) as TaskView;
          if (answer.status !== 200 || view.status === 'RUNNING') return;
          ended.set(taskId, { taskId, view, endedAt: taskEndedAt(taskId, view) });
        } catch (error) {
          if (!deadline.aborted) failures.push(`poll ${taskId}: ${(error as Error).message}`);
        }
      });
      await sleep(POLL_EVERY_MS);
    }
    await submitting;
    const submitSeconds =
      submitted.length === 0 ? 0 : (Math.max(...submitted.map((s) => s.submittedAt)) - t0) / 1000;
    if (deadline.aborted)
      notes.push(
        `DEADLINE: stopped after ${DEADLINE_MS / 1000} s with ${submitted.length} of ${TASKS} submitted and ${ended.size} ended.`,
      );

    let succeeded = 0;
    for (const { taskId, view } of ended.values()) {
      const nodes = view.events.map((e) => e.node).sort();
      if (view.status !== 'SUCCEEDED') failures.push(`task ${taskId} ended ${view.status}`);
      else if (JSON.stringify(nodes) !== JSON.stringify(EXPECTED_EVENTS))
        failures.push(`task ${taskId} has events ${nodes.join(', ')}`);
      else if (view.events.some((e) => e.status !== 'SUCCEEDED'))
        failures.push(`task ${taskId} has an event that did not succeed`);
      else succeeded++;
    }

    const latencies = submitted
      .filter((s) => ended.has(s.taskId))
      .map((s) => ended.get(s.taskId)!.endedAt - s.submittedAt)
      .sort((a, b) => a - b);
    const durations = [...ended.values()].map((e) => e.view.stats.durationMs).sort((a, b) => a - b);
    const lastEnd = Math.max(...[...ended.values()].map((e) => e.endedAt));
    const seconds = (lastEnd - Math.min(...submitted.map((s) => s.submittedAt))) / 1000;
    const ms = (value: number | undefined) =>
      value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(0);
    const complete = failures.length === 0 && succeeded === TASKS;
    reportSummary({
      name: 'load',
      load: { before: loadBefore, after: currentLoad() },
      tables: [
        {
          title: `dag serve under load: ${TASKS} tasks of ${NODES.length} no-op sync nodes, at most ${CONCURRENCY} submits in flight`,
          header: ['tasks', 'succeeded', 'submit s', 'seconds', 'tasks/s', 'p50 ms', 'p99 ms', 'max ms'],
          rows: [
            [
              String(TASKS),
              String(succeeded),
              submitSeconds.toFixed(1),
              Number.isFinite(seconds) ? seconds.toFixed(1) : '-',
              Number.isFinite(seconds) ? (ended.size / seconds).toFixed(1) : '-',
              ms(percentile(latencies, 50)),
              ms(percentile(latencies, 99)),
              ms(latencies[latencies.length - 1]),
            ],
          ],
        },
        {
          title: 'server-side task duration (task record: created to ended)',
          header: ['p50 ms', 'p99 ms', 'max ms'],
          rows: [
            [
              ms(percentile(durations, 50)),
              ms(percentile(durations, 99)),
              ms(durations[durations.length - 1]),
            ],
          ],
        },
      ],
      notes: [
        ...notes,
        `latency: client submit to the task record's end; seconds: first submit to last end; server log lines: ${server.logLines()}`,
        ...(complete ? ['every task SUCCEEDED with one SUCCEEDED event per node'] : []),
        ...failures.slice(0, 10).map((f) => `FAILURE: ${f}`),
        ...(failures.length > 10 ? [`... and ${failures.length - 10} more failures`] : []),
      ],
    });
    if (!complete) process.exitCode = 1;
  } finally {
    if (server) console.log(`dag serve stopped: ${await stopServer(server.child)}`);
    process.off('exit', killOnExit);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
