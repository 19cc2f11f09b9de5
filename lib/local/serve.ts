// `dag serve`: the HTTP API of dag-spec §9 on 127.0.0.1, backed by one embedded engine and dynalite (on
// disk with a data folder), so the API can be tried with curl exactly as on AWS. It also answers the AWS
// SDK calls of workers (aws-protocol.ts), starts tasks for files dropped into `<data>/uploads/<workflow>/`
// (uploads.ts) and serves the web view (lib/web).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAdaptorServer } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { diagnosticJson } from '../dag/diagnostics.js';
import type { Workflow } from '../dag/schema.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../tracking/dynamo-store.js';
import { newTaskId } from '../tracking/ids.js';
import { isFinalTaskStatus, type TaskRecord, type TraceRecord } from '../tracking/records.js';
import { StaleWriteError, TaskNotFoundError } from '../tracking/store.js';
import { type TaskView as SharedTaskView, taskView } from '../tracking/task-view.js';
import { DynamoWorkflowRegistry, WorkflowVersionContendedError } from '../tracking/workflow-registry.js';
import { WebView, type WebViewSource } from '../web/web-view.js';
import { answerAwsCall } from './aws-protocol.js';
import { queueNameOfUrl } from './bus.js';
import { type LocalDynamo, startLocalDynamo } from './dynalite.js';
import { EmbeddedEngine, type ProgressEvent, type TaskHandle } from './engine.js';
import { RegisteredWorkflows, WorkflowNoLongerCompilesError } from './registered-workflows.js';
import { UploadWatcher } from './uploads.js';

export interface ServeOptions {
  /** 0 picks a free port. Default 8080. */
  readonly port?: number;
  /** Keep tracking data and registered workflows here, and watch `<dataDir>/uploads`; in memory when absent. */
  readonly dataDir?: string;
  readonly operatorsDir?: string;
  /** One line per notable thing (listening, task ended, waiting work, callbacks from PutEvents). */
  readonly log?: (line: string) => void;
  readonly uploadPollMs?: number;
  /** Retry waits (ms) instead of the workflow's, for tests. */
  readonly retryDelayMs?: number;
}

/** The `dag run --json` object without traces (dag-spec §9 `GET /tasks/{taskId}`). */
export type TaskView = Omit<SharedTaskView, 'stats'> & {
  readonly stats: { stateTransitions: number; durationMs: number };
};

/** Items done and in all, per parallel node of a running task (what the web view draws as progress). */
export type SegmentProgress = Record<string, { done: number; total: number }>;

const HOST = '127.0.0.1';
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** How long `close` lets the requests under way finish before it drops them and closes the engine. */
const DRAIN_TIMEOUT_MS = 10_000;
/** How often `close` looks whether they have, and how long no request must arrive before it goes on. */
const DRAIN_POLL_MS = 10;

export class DagServer implements WebViewSource {
  private readonly running = new Map<string, TaskHandle>();
  private readonly progress = new Map<string, SegmentProgress>();
  private readonly stopping = new AbortController();
  /** Requests received and not yet answered, and whether one came since `close` last looked. */
  private readonly requests = { underWay: 0, arrived: false };
  readonly app: Hono;
  private server: Server | undefined;
  private uploads: UploadWatcher | undefined;
  private origin = '';

  private constructor(
    readonly engine: EmbeddedEngine,
    readonly workflows: RegisteredWorkflows,
    private readonly dynamo: LocalDynamo,
    private readonly options: ServeOptions,
    private readonly web: WebView,
    private readonly releaseData: () => void,
  ) {
    this.app = this.routes();
  }

  static async start(options: ServeOptions = {}): Promise<DagServer> {
    const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
    const releaseData = dataDir === undefined ? () => {} : lockDataDir(dataDir);
    let dynamo: LocalDynamo | undefined;
    let engine: EmbeddedEngine | undefined;
    try {
      dynamo = await startLocalDynamo(dataDir === undefined ? {} : { path: join(dataDir, 'dynamodb') });
      const documentClient = createTrackingDocumentClient(dynamo.client);
      const store = new DynamoTrackingStore({ documentClient, tableNames: dynamo.tableNames });
      engine = await EmbeddedEngine.start({
        store,
        ...(options.operatorsDir === undefined ? {} : { operatorsDir: options.operatorsDir }),
        ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
      });
      const catalog = engine.catalog;
      const workflows = new RegisteredWorkflows(
        new DynamoWorkflowRegistry(documentClient, dynamo.tableNames.workflows),
        (op) => catalog.has(op),
      );
      const web = await WebView.create();
      const server = new DagServer(engine, workflows, dynamo, { ...options, dataDir }, web, releaseData);
      await server.declareQueues();
      // Before listening: a callback for work parked again must find it parked.
      const reparked = await server.resumeTasks();
      await server.listen(options.port ?? 8080);
      for (const work of reparked) server.logWaiting(work, ', parked again after a restart');
      if (dataDir !== undefined) server.watchUploads(dataDir);
      return server;
    } catch (error) {
      await engine?.close();
      await dynamo?.close();
      releaseData();
      throw error;
    }
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return this.origin;
  }

  get port(): number {
    return Number(new URL(this.origin).port);
  }

  /**
   * Stops the server: it takes no more requests (those arriving are answered 503), lets the requests
   * under way finish (long polls answer at once; at most DRAIN_TIMEOUT_MS in all), stops listening,
   * then closes the engine and the database, which those requests use. Tasks still running are not
   * ended: they stay RUNNING in the data folder, and the next `dag serve` on it resumes them (in
   * memory, they are gone with the rest).
   */
  async close(): Promise<void> {
    this.stopping.abort();
    await this.uploads?.stop();
    await this.drain(Date.now() + DRAIN_TIMEOUT_MS);
    // Only now: closing the listener resets connections it has not accepted yet, and closing idle
    // keep-alive connections drops a request a client is sending on one; those got their 503 meanwhile.
    if (this.server) {
      const server = this.server;
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await closed;
    }
    await this.engine.close();
    await this.dynamo.close();
    this.releaseData();
  }

  /**
   * Until `deadline`: waits for the requests under way to be answered, and for a quiet moment after
   * (requests the server has accepted but not read yet arrive in it, and get their 503).
   */
  private async drain(deadline: number): Promise<void> {
    while (Date.now() < deadline) {
      this.requests.arrived = false;
      await sleep(DRAIN_POLL_MS);
      if (this.requests.underWay === 0 && !this.requests.arrived) return;
    }
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private async listen(port: number): Promise<void> {
    const server = createAdaptorServer({ fetch: this.app.fetch }) as Server;
    server.on('request', (_request, response: ServerResponse) => {
      this.requests.underWay++;
      this.requests.arrived = true;
      response.once('close', () => this.requests.underWay--);
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(port, HOST, () => {
        server.off('error', fail);
        done();
      });
    });
    this.server = server;
    this.origin = `http://${HOST}:${(server.address() as AddressInfo).port}`;
    this.engine.emitWaiting = (item) => this.logWaiting(item);
  }

  private logWaiting(work: { id: string; attempt: number }, why = ''): void {
    this.log(
      `waiting: ${work.id} (attempt ${work.attempt}${why}) — POST ${this.origin}/callbacks/${work.id}`,
    );
  }

  /** The work queues answer GetQueueUrl from the start, for workers of tasks resumed or to come. */
  private async declareQueues(): Promise<void> {
    this.engine.queues.declare('work');
    for (const record of await this.workflows.list()) {
      const runnable = await this.workflows.get(record.name, record.version).catch(() => undefined);
      for (const queue of runnable ? queuesOf(runnable.workflow) : []) this.engine.queues.declare(queue);
    }
  }

  /**
   * Resumes the tasks that an earlier `dag serve` on the same data left RUNNING (it stopped or died),
   * as recovery.ts describes; a task whose workflow version cannot be run any more ends FAILED with
   * `EngineStopped`. Returns the external work parked again, waiting for its callback.
   */
  private async resumeTasks(): Promise<{ id: string; attempt: number }[]> {
    if (this.options.dataDir === undefined) return [];
    const running: TaskRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.engine.store.listTasks(cursor === undefined ? {} : { cursor });
      running.push(...page.tasks.filter((task) => task.status === 'RUNNING'));
      cursor = page.cursor;
    } while (cursor !== undefined);
    const reparked: { id: string; attempt: number }[] = [];
    for (const task of running) {
      try {
        const runnable =
          task.version === undefined ? undefined : await this.workflows.get(task.workflow, task.version);
        if (!runnable) throw new Error(`no version ${task.version ?? '(none recorded)'} of it is registered`);
        const handle = await this.engine.startTask(runnable.compiled, undefined, {
          taskId: task.taskId,
          resume: true,
          onProgress: (event) => this.onProgress(event),
        });
        this.follow(task.taskId, task.workflow, handle);
        reparked.push(...handle.reparked);
        this.log(`task ${task.taskId} (${task.workflow}) resumed after a restart`);
      } catch (error) {
        await this.engine.store.updateTaskStatus({
          taskId: task.taskId,
          status: 'FAILED',
          error: {
            error: 'EngineStopped',
            cause: `dag serve stopped while the task ran, and cannot resume it: ${(error as Error).message}`,
          },
        });
        this.log(`task ${task.taskId} was running when dag serve stopped and cannot resume: now FAILED`);
      }
    }
    return reparked;
  }

  private watchUploads(dataDir: string): void {
    this.uploads = new UploadWatcher({
      uploadsDir: join(dataDir, 'uploads'),
      ledgerFile: join(dataDir, 'uploads.ledger'),
      ...(this.options.uploadPollMs === undefined ? {} : { pollMs: this.options.uploadPollMs }),
      log: (line) => this.log(line),
      onUpload: async (file) => {
        const runnable = await this.workflows.get(file.workflow).catch(() => undefined);
        if (!runnable) {
          this.log(`uploads: ${file.path}: no workflow '${file.workflow}' is registered; waiting for one`);
          return 'later';
        }
        const input = { source: file.path };
        const problem = runnable.checkInput(input);
        if (problem) {
          this.log(`uploads: ${file.path}: ${problem.message}`);
          return 'skipped';
        }
        const taskId = await this.submit(
          runnable.record.name,
          runnable.record.version,
          input,
          `upload:${file.version}`,
        );
        this.log(`uploads: ${file.path} started task ${taskId}`);
        return 'started';
      },
    });
    this.uploads.start();
  }

  /** Creates the task (once per idempotency key) and starts it in the background; returns its id. */
  private async submit(
    workflow: string,
    version: number,
    input: unknown,
    idempotencyKey?: string,
  ): Promise<string> {
    const runnable = await this.workflows.get(workflow, version);
    if (!runnable) throw new Error(`internal: workflow ${workflow}@${version} vanished`);
    const created = await this.engine.store.createTask({
      taskId: newTaskId(),
      workflow,
      version,
      input,
      engine: 'embedded',
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    if (!created.created) return created.task.taskId;
    const taskId = created.task.taskId;
    const handle = await this.engine.startTask(runnable.compiled, input, {
      taskId,
      onProgress: (event) => this.onProgress(event),
    });
    this.follow(taskId, workflow, handle);
    return taskId;
  }

  /**
   * Re-runs a failed, timed-out or aborted task from where it failed (the engine reuses what
   * succeeded). StaleWriteError when the task is not in such a state; undefined for an unknown task.
   */
  private async redrive(taskId: string): Promise<string | undefined> {
    const task = await this.engine.store.getTask(taskId);
    if (!task) return undefined;
    const runnable = await this.workflows.get(task.workflow, task.version);
    if (!runnable) throw new Error(`internal: workflow ${task.workflow}@${task.version} vanished`);
    const handle = await this.engine.startTask(runnable.compiled, undefined, {
      taskId,
      redrive: true,
      onProgress: (event) => this.onProgress(event),
    });
    this.follow(taskId, task.workflow, handle);
    return taskId;
  }

  private follow(taskId: string, workflow: string, handle: TaskHandle): void {
    this.running.set(taskId, handle);
    handle.done
      .then(
        (result) => {
          if (result.status === 'RUNNING')
            this.log(`task ${taskId} (${workflow}) suspended: the next dag serve on this data resumes it`);
          else this.log(`task ${taskId} (${workflow}) ${result.status} in ${result.stats.durationMs} ms`);
        },
        (error: unknown) =>
          this.log(`task ${taskId} (${workflow}) broke: ${(error as Error).stack ?? error}`),
      )
      .finally(() => {
        this.running.delete(taskId);
      });
  }

  private onProgress(event: ProgressEvent): void {
    if (event.type !== 'segments') return;
    const progress = this.progress.get(event.taskId) ?? {};
    progress[event.node] = { done: event.done, total: event.total };
    this.progress.set(event.taskId, progress);
  }

  /** The §9 task object; undefined for an unknown task. */
  async taskView(taskId: string): Promise<TaskView | undefined> {
    const store = this.engine.store;
    const task = await store.getTask(taskId);
    if (!task) return undefined;
    const [events, segments] = await Promise.all([store.getEvents(taskId), store.getSegments(taskId)]);
    const view = taskView(task, events, segments, new Date());
    // While it runs, the live count; once it ended, the one recorded (it survives a restart).
    const stats = this.running.get(taskId)?.stats() ?? {
      stateTransitions: view.stats.stateTransitions ?? 0,
      durationMs: view.stats.durationMs,
    };
    return { ...view, stats };
  }

  async traces(taskId: string): Promise<TraceRecord[]> {
    return this.engine.store.getTraces(taskId);
  }

  segmentProgress(taskId: string): SegmentProgress {
    return this.progress.get(taskId) ?? {};
  }

  taskRecord(taskId: string): Promise<TaskRecord | undefined> {
    return this.engine.store.getTask(taskId);
  }

  async recentTasks(workflow: string, limit: number): Promise<TaskRecord[]> {
    return (await this.engine.store.listTasks({ workflow, limit })).tasks;
  }

  // ---- routes --------------------------------------------------------------------------------------

  private routes(): Hono {
    const app = new Hono();

    // First: once the server stops, no request starts, and connections close after their answer.
    app.use('*', async (c, next) => {
      if (this.stopping.signal.aborted) {
        // Read first: closing a connection with its request unread resets it (the client sees no 503).
        await c.req.arrayBuffer();
        c.header('connection', 'close');
        return c.json({ message: 'dag serve is stopping; try again once it is back.' }, 503);
      }
      await next();
      if (this.stopping.signal.aborted) c.res.headers.set('connection', 'close');
    });

    app.onError((error, c) => {
      if (error instanceof BodyTooLargeError) return c.json({ message: error.message }, 413);
      if (error instanceof WorkflowNoLongerCompilesError) return c.json({ message: error.message }, 409);
      if (error instanceof WorkflowVersionContendedError) return c.json({ message: error.message }, 503);
      this.log(`internal error on ${c.req.method} ${c.req.path}: ${error.stack ?? error}`);
      return c.json({ message: `Internal error: ${error.message}` }, 500);
    });
    app.notFound((c) => c.json({ message: `No route ${c.req.method} ${c.req.path}.` }, 404));

    app.post('/workflows', async (c) => {
      const contentType = c.req.header('content-type') ?? '';
      if (contentType.startsWith('multipart/'))
        return c.json(
          { message: 'Post the workflow file itself as application/yaml, application/json or text/plain.' },
          415,
        );
      const source = (await readBody(c)).text;
      if (source.trim() === '') return c.json({ message: 'The body is empty: post a workflow file.' }, 400);
      const result = await this.workflows.register(source);
      if (!result.ok) return c.json({ diagnostics: result.diagnostics.map(diagnosticJson) }, 400);
      for (const queue of queuesOf(result.workflow)) this.engine.queues.declare(queue);
      this.uploads?.retryDeferred();
      const warnings = result.warnings.map(diagnosticJson);
      return c.json(
        {
          name: result.record.name,
          version: result.record.version,
          ...(warnings.length ? { diagnostics: warnings } : {}),
        },
        201,
      );
    });

    app.get('/workflows', async (c) => {
      const list = await this.workflows.list();
      return c.json({
        workflows: list.map((w) => ({
          name: w.name,
          version: w.version,
          ...(w.description === undefined ? {} : { description: w.description }),
          createdAt: w.createdAt,
        })),
      });
    });

    app.get('/workflows/:name', async (c) => {
      const version = optionalVersion(c.req.query('version'));
      if (version === null) return c.json({ message: '?version takes a positive integer.' }, 400);
      const runnable = await this.workflows.get(c.req.param('name'), version);
      if (!runnable)
        return c.json(
          { message: `No workflow '${c.req.param('name')}'${version ? ` version ${version}` : ''}.` },
          404,
        );
      const { record, workflow } = runnable;
      return c.json({
        name: record.name,
        version: record.version,
        ...(record.description === undefined ? {} : { description: record.description }),
        createdAt: record.createdAt,
        ...(workflow.input === undefined ? {} : { input: workflow.input }),
        source: record.source,
      });
    });

    app.post('/workflows/:name/tasks', async (c) => {
      const name = c.req.param('name');
      const runnable = await this.workflows.get(name);
      if (!runnable)
        return c.json({ message: `No workflow '${name}': register it with POST /workflows.` }, 404);
      const body = await readBody(c);
      let input: unknown = {};
      if (body.text.trim() !== '') {
        const parsed = parseJson(body.text);
        if (!parsed.ok) return c.json({ message: `The task input is not JSON: ${parsed.message}` }, 400);
        input = parsed.value;
      }
      const problem = runnable.checkInput(input);
      if (problem) return c.json({ message: problem.message, path: problem.path }, 400);
      const key = c.req.header('idempotency-key');
      if (key !== undefined && (key.length === 0 || key.length > 255))
        return c.json({ message: 'Idempotency-Key takes 1 to 255 characters.' }, 400);
      const taskId = await this.submit(name, runnable.record.version, input, key);
      return c.json({ taskId }, 202);
    });

    app.get('/tasks/:taskId', async (c) => {
      const view = await this.taskView(c.req.param('taskId'));
      if (!view) return c.json({ message: `No task '${c.req.param('taskId')}'.` }, 404);
      return c.json(view);
    });

    app.get('/tasks/:taskId/traces', async (c) => {
      const taskId = c.req.param('taskId');
      if (!(await this.engine.store.getTask(taskId))) return c.json({ message: `No task '${taskId}'.` }, 404);
      return c.json({ traces: await this.traces(taskId) });
    });

    app.post('/tasks/:taskId/abort', async (c) => {
      const taskId = c.req.param('taskId');
      const handle = this.running.get(taskId);
      if (handle) {
        handle.abort();
        const result = await handle.done;
        if (result.status !== 'ABORTED')
          return c.json({ message: `Task '${taskId}' had already ended ${result.status}.` }, 409);
        return c.json({ taskId, status: result.status });
      }
      const task = await this.engine.store.getTask(taskId);
      if (!task) return c.json({ message: `No task '${taskId}'.` }, 404);
      if (isFinalTaskStatus(task.status))
        return c.json({ message: `Task '${taskId}' has already ended ${task.status}.` }, 409);
      // RUNNING in the store but not in this engine: nothing runs it any more.
      try {
        await this.engine.store.updateTaskStatus({ taskId, status: 'ABORTED' });
      } catch (error) {
        if (error instanceof StaleWriteError) return c.json({ message: error.message }, 409);
        if (error instanceof TaskNotFoundError) return c.json({ message: error.message }, 404);
        throw error;
      }
      return c.json({ taskId, status: 'ABORTED' });
    });

    app.post('/tasks/:taskId/redrive', async (c) => {
      const taskId = c.req.param('taskId');
      try {
        const redriven = await this.redrive(taskId);
        if (redriven === undefined) return c.json({ message: `No task '${taskId}'.` }, 404);
        return c.json({ taskId: redriven, status: 'RUNNING' }, 202);
      } catch (error) {
        if (error instanceof StaleWriteError)
          return c.json(
            {
              message: `Task '${taskId}' did not fail: only a FAILED, TIMED_OUT or ABORTED task can be redriven.`,
            },
            409,
          );
        throw error;
      }
    });

    app.post('/callbacks/:id', async (c) => {
      const id = c.req.param('id');
      const body = await readBody(c);
      const parsed = parseJson(body.text);
      if (!parsed.ok) return c.json({ message: `The callback is not JSON: ${parsed.message}` }, 400);
      let callback = parsed.value;
      if (callback !== null && typeof callback === 'object' && !Array.isArray(callback)) {
        const bodyId = (callback as { id?: unknown }).id;
        if (bodyId === undefined) callback = { ...callback, id };
        else if (bodyId !== id)
          return c.json(
            { message: `The body's id '${String(bodyId)}' is not the id in the path, '${id}'.` },
            400,
          );
      }
      const answer = await this.engine.callback(callback, body.bytes);
      return c.json({ message: answer.message }, answer.status);
    });

    app.post('/', async (c) => {
      const target = c.req.header('x-amz-target');
      if (!target)
        return c.json(
          { message: 'POST / answers AWS SDK calls (X-Amz-Target: AWSEvents.PutEvents, AmazonSQS.*).' },
          400,
        );
      const body = await readBody(c);
      const answer = await answerAwsCall(target, body.text, {
        queues: this.engine.queues,
        bus: this.engine.bus,
        callback: (detail, bytes) => this.engine.callback(detail, bytes),
        origin: this.origin,
        signal: this.stopping.signal,
        log: (line) => this.log(line),
      });
      return new Response(JSON.stringify(answer.body), { status: answer.status, headers: answer.headers });
    });

    this.web.mount(app, this);
    return app;
  }
}

/** The queues a workflow's async nodes and SQS callbacks use: they answer GetQueueUrl once it is registered. */
function queuesOf(workflow: Workflow): string[] {
  const queues = new Set<string>();
  for (const node of Object.values(workflow.nodes)) {
    const work = node.type === 'parallel' ? node.node : node;
    if (work.type === 'async' && work.via === 'queue') queues.add(work.queue ?? 'work');
    if (node.type === 'callback' && node.target.kind === 'sqs') queues.add(queueNameOfUrl(node.target.queue));
  }
  return [...queues];
}

/** Another `dag serve` (a live process) already uses the data folder. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`${dataDir} is in use by another dag serve (pid ${pid}); stop it or use another --data folder.`);
    this.name = 'DataDirInUseError';
  }
}

/**
 * Takes `<dataDir>/serve.lock` for this process. dynalite's LevelDB store allows one process at a time
 * and fails inside a request otherwise; this turns that into a clear error at start. A lock left by a
 * process that no longer runs is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'serve.lock');
  for (let round = 0; round < 2; round++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lock, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && processRuns(pid)) throw new DataDirInUseError(dataDir, pid);
      rmSync(lock, { force: true });
    }
  }
  throw new DataDirInUseError(dataDir, Number.NaN);
}

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`The body is over ${limit} bytes.`);
    this.name = 'BodyTooLargeError';
  }
}

/** The raw body, its size in bytes (callbacks are limited on it, dag-spec §7) and its text. */
async function readBody(c: Context): Promise<{ text: string; bytes: number }> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > MAX_BODY_BYTES) throw new BodyTooLargeError(MAX_BODY_BYTES);
  const raw = new Uint8Array(await c.req.arrayBuffer());
  if (raw.byteLength > MAX_BODY_BYTES) throw new BodyTooLargeError(MAX_BODY_BYTES);
  return { text: new TextDecoder().decode(raw), bytes: raw.byteLength };
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

/** `undefined` when absent, `null` when not a positive integer. */
function optionalVersion(raw: string | undefined): number | undefined | null {
  if (raw === undefined) return undefined;
  return /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : null;
}
