// `dag serve` end to end: every route of dag-spec §9 with fetch against a server on 127.0.0.1 (port 0),
// a worker written for AWS (the real SQS and EventBridge SDK clients pointed at the server), and the
// uploads folder. Real engine, real dynalite, test operators.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../../lib/cli/io.js';
import { runServe } from '../../lib/cli/serve.js';
import { UsageError } from '../../lib/cli/usage.js';
import type { WorkItem } from '../../lib/local/engine.js';
import { DagServer, DataDirInUseError, type TaskView } from '../../lib/local/serve.js';

let server: DagServer;
let dataDir: string;
/** Every response body of the test, to check that no task token ever leaves the server. */
const responses: string[] = [];

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly text: string;
  readonly headers: Headers;
}

async function call(
  method: string,
  path: string,
  body?: string | object,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(typeof body === 'object' ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  responses.push(text);
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (the web page): `text` has it
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const giveUp = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function taskUntil(taskId: string, done: (view: TaskView) => boolean): Promise<TaskView> {
  return waitFor(`task ${taskId}`, async () => {
    const answer = await call('GET', `/tasks/${taskId}`);
    const view = answer.body as unknown as TaskView;
    return done(view) ? view : undefined;
  });
}

const ended = (view: TaskView) => view.status !== 'RUNNING';

async function register(yaml: string, contentType = 'application/yaml'): Promise<Answer> {
  return call('POST', '/workflows', yaml, { 'content-type': contentType });
}

async function submit(
  workflow: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<string> {
  const answer = await call('POST', `/workflows/${workflow}/tasks`, JSON.stringify(input), headers);
  expect(answer.status, answer.text).toBe(202);
  return answer.body.taskId as string;
}

const ECHO = `name: echo-flow
description: One echo.
input:
  type: object
  required: [x]
  properties:
    x: { type: number }
    tags: { type: array, items: { type: string } }
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { x: $.input.x }, next: done }
  done: { type: end }
`;

const EXTERNAL = `name: external-flow
nodes:
  begin: { type: start, next: review }
  review: { type: async, via: queue, queue: reviews, input: { x: $.input.x }, timeout: 600, next: done }
  done: { type: end, output: { review: $.nodes.review } }
`;

const WORKER = `name: worker-flow
nodes:
  begin: { type: start, next: gpu }
  gpu: { type: async, via: queue, input: { frames: $.input.frames }, timeout: 600, next: done }
  done: { type: end, output: { gpu: $.nodes.gpu } }
`;

const SLOW = `name: slow-flow
nodes:
  begin: { type: start, next: nap }
  nap: { type: sync, operator: test/sleep, input: { ms: 3000 }, timeout: 60, next: done }
  done: { type: end }
`;

const TIMED = `name: timed-flow
timeout: 1
nodes:
  begin: { type: start, next: nap }
  nap: { type: sync, operator: test/sleep, input: { ms: 3000 }, timeout: 60, next: done }
  done: { type: end }
`;

const FAILING = `name: failing-flow
nodes:
  begin: { type: start, next: boom }
  boom: { type: sync, operator: test/fail, input: { name: Boom }, next: done }
  done: { type: end }
`;

const UPLOAD = `name: upload-flow
input:
  type: object
  required: [source]
nodes:
  begin: { type: start, next: look }
  look: { type: sync, operator: test/echo, input: { source: $.input.source }, next: done }
  done: { type: end }
`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dag-serve-'));
  server = await DagServer.start({
    port: 0,
    dataDir,
    operatorsDir: 'test/fixtures/operators',
    retryDelayMs: 0,
    uploadPollMs: 50,
  });
  for (const yaml of [ECHO, EXTERNAL, WORKER, SLOW, TIMED, FAILING, UPLOAD])
    expect((await register(yaml)).status).toBe(201);
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('workflows', () => {
  it('registers a workflow: 201 {name, version}, version +1 per registration', async () => {
    const yaml = ECHO.replace('echo-flow', 'versioned');
    expect((await register(yaml)).body).toEqual({ name: 'versioned', version: 1 });
    expect((await register(yaml, 'text/plain')).body).toEqual({ name: 'versioned', version: 2 });
    const asJson = JSON.stringify({
      name: 'versioned',
      nodes: { begin: { type: 'start', next: 'done' }, done: { type: 'end' } },
    });
    const third = await register(asJson, 'application/json');
    expect(third.status).toBe(201);
    expect(third.body).toEqual({ name: 'versioned', version: 3 });
    const got = await call('GET', '/workflows/versioned');
    expect(got.body).toMatchObject({ name: 'versioned', version: 3, source: asJson });
    const first = await call('GET', '/workflows/versioned?version=1');
    expect(first.body).toMatchObject({ version: 1, description: 'One echo.', input: { required: ['x'] } });
  });

  it('answers 400 with the diagnostics of an invalid workflow', async () => {
    const answer = await register(ECHO.replace('next: done }', 'next: dnoe }'));
    expect(answer.status).toBe(400);
    expect(answer.body.diagnostics).toEqual([
      expect.objectContaining({
        code: 'UNKNOWN_NODE',
        severity: 'error',
        node: 'a',
        line: expect.any(Number),
      }),
    ]);
    const unknownOperator = await register(ECHO.replace('test/echo', 'test/nothing'));
    expect(unknownOperator.status).toBe(400);
    expect(unknownOperator.body.diagnostics).toEqual([expect.objectContaining({ code: 'UNKNOWN_OPERATOR' })]);
    expect((await register('')).status).toBe(400);
    expect((await register('name: [unclosed')).body.diagnostics).toEqual([
      expect.objectContaining({ code: 'PARSE_ERROR' }),
    ]);
    const badSchema = await register(ECHO.replace('type: object', 'type: 12'));
    expect(badSchema.status).toBe(400);
    expect(JSON.stringify(badSchema.body.diagnostics)).toContain('not a valid JSON Schema');
  });

  it('lists workflows and answers 404 for an unknown one', async () => {
    const list = await call('GET', '/workflows');
    const names = (list.body.workflows as { name: string }[]).map((w) => w.name);
    expect(names).toEqual(expect.arrayContaining(['echo-flow', 'external-flow', 'worker-flow']));
    expect([...names].sort()).toEqual(names);
    expect((await call('GET', '/workflows/nope')).status).toBe(404);
    expect((await call('GET', '/workflows/echo-flow?version=x')).status).toBe(400);
    expect((await call('GET', '/workflows/echo-flow?version=99')).status).toBe(404);
  });
});

describe('tasks', () => {
  it('runs a task in the background: 202 {taskId}, then the dag run --json object without traces', async () => {
    const taskId = await submit('echo-flow', { x: 7 });
    const view = await taskUntil(taskId, ended);
    expect(view).toMatchObject({ taskId, workflow: 'echo-flow', status: 'SUCCEEDED' });
    expect(Object.keys(view).sort()).toEqual(
      ['events', 'output', 'segments', 'stats', 'status', 'taskId', 'workflow'].sort(),
    );
    expect((view.output as { a: { echo: { x: number } } }).a.echo.x).toBe(7);
    expect(view.events.map((e) => e.node).sort()).toEqual(['a', 'begin', 'done']);
    expect(view.stats.stateTransitions).toBeGreaterThan(0);
    const traces = await call('GET', `/tasks/${taskId}/traces`);
    expect(traces.body.traces).toEqual([
      expect.objectContaining({
        taskId,
        eventId: `${taskId}_a`,
        attempt: 1,
        status: 'SUCCEEDED',
        resource: 'cpu',
      }),
    ]);
  });

  it('checks the input against the workflow schema: 400 with the failing path', async () => {
    const wrongType = await call('POST', '/workflows/echo-flow/tasks', { x: 'seven' });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toMatchObject({ path: '/x', message: expect.stringContaining('/x') });
    const missing = await call('POST', '/workflows/echo-flow/tasks', {});
    expect(missing.body).toMatchObject({ path: '/x' });
    const nested = await call('POST', '/workflows/echo-flow/tasks', { x: 1, tags: ['a', 2] });
    expect(nested.body).toMatchObject({ path: '/tags/1' });
    const notJson = await call('POST', '/workflows/echo-flow/tasks', '{"x": ', {
      'content-type': 'application/json',
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not JSON/);
    expect((await call('POST', '/workflows/nope/tasks', {})).status).toBe(404);
  });

  it('returns the same task for the same Idempotency-Key', async () => {
    const first = await submit('echo-flow', { x: 1 }, { 'Idempotency-Key': 'order-42' });
    const again = await submit('echo-flow', { x: 1 }, { 'Idempotency-Key': 'order-42' });
    const other = await submit('echo-flow', { x: 1 }, { 'Idempotency-Key': 'order-43' });
    expect(again).toBe(first);
    expect(other).not.toBe(first);
    await taskUntil(first, ended);
    await taskUntil(other, ended);
  });

  it('reports a failed task with its error', async () => {
    const taskId = await submit('failing-flow', {});
    const view = await taskUntil(taskId, ended);
    expect(view.status).toBe('FAILED');
    expect(view.error?.error).toBe('Boom');
    const traces = (await call('GET', `/tasks/${taskId}/traces`)).body.traces as {
      error?: { error: string };
    }[];
    expect(traces[0]?.error?.error).toBe('Boom');
  });

  it('ends a task over the workflow timeout TIMED_OUT', async () => {
    const taskId = await submit('timed-flow', {});
    const view = await taskUntil(taskId, ended);
    expect(view.status).toBe('TIMED_OUT');
    expect(view.error?.error).toBe('States.Timeout');
  });

  it('aborts a running task (then 409), and answers 404 for unknown tasks', async () => {
    const taskId = await submit('slow-flow', {});
    await taskUntil(taskId, (view) => view.events.some((e) => e.node === 'nap'));
    const started = Date.now();
    const abort = await call('POST', `/tasks/${taskId}/abort`);
    expect(abort.status).toBe(200);
    expect(abort.body).toEqual({ taskId, status: 'ABORTED' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await call('GET', `/tasks/${taskId}`)).body.status).toBe('ABORTED');
    expect((await call('POST', `/tasks/${taskId}/abort`)).status).toBe(409);
    expect((await call('POST', '/tasks/no-such-task/abort')).status).toBe(404);
    expect((await call('GET', '/tasks/no-such-task')).status).toBe(404);
    expect((await call('GET', '/tasks/no-such-task/traces')).status).toBe(404);
  });

  it('redrives a failed task from where it failed (409 for one that did not fail, 404 unknown)', async () => {
    const registered = await register(`name: flaky-flow
nodes:
  begin: { type: start, next: once }
  once: { type: sync, operator: test/echo, next: flaky }
  flaky: { type: sync, operator: test/flaky, input: { failures: 1 }, next: done }
  done: { type: end }
`);
    expect(registered.status).toBe(201);
    const taskId = await submit('flaky-flow', {});
    expect((await taskUntil(taskId, ended)).status).toBe('FAILED');
    const redrive = await call('POST', `/tasks/${taskId}/redrive`);
    expect(redrive.status).toBe(202);
    expect(redrive.body).toEqual({ taskId, status: 'RUNNING' });
    const view = await taskUntil(taskId, ended);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.events.find((e) => e.node === 'flaky')).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
    expect(view.events.find((e) => e.node === 'once')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect((await call('POST', `/tasks/${taskId}/redrive`)).status).toBe(409);
    expect((await call('POST', '/tasks/no-such-task/redrive')).status).toBe(404);
  });
});

describe('callbacks', () => {
  async function waitingWork(taskId: string): Promise<string> {
    const view = await taskUntil(taskId, (v) =>
      v.events.some((e) => e.node === 'review' && e.status === 'WAITING'),
    );
    return view.events.find((e) => e.node === 'review')!.eventId;
  }

  it('resumes a waiting node with POST /callbacks/{id}, with the answers of §7', async () => {
    const taskId = await submit('external-flow', { x: 3 });
    const id = await waitingWork(taskId);
    expect(id).toBe(`${taskId}_review`);
    expect(
      (await call('POST', `/callbacks/${id}`, '{"status": ', { 'content-type': 'application/json' })).status,
    ).toBe(400);
    expect((await call('POST', `/callbacks/${id}`, { status: 'DONE' })).status).toBe(400);
    expect((await call('POST', `/callbacks/${id}`, { id: 'other', status: 'SUCCEEDED' })).status).toBe(400);
    expect((await call('POST', `/callbacks/${taskId}_nope`, { status: 'SUCCEEDED' })).status).toBe(404);
    const big = { status: 'SUCCEEDED', output: { blob: 'x'.repeat(256 * 1024) } };
    expect((await call('POST', `/callbacks/${id}`, big)).status).toBe(413);
    expect((await call('POST', `/callbacks/${id}`, { status: 'SUCCEEDED', attempt: 2 })).status).toBe(409);
    expect((await call('POST', `/callbacks/${id}`, { id, status: 'HEARTBEAT' })).status).toBe(202);
    const ok = await call('POST', `/callbacks/${id}`, { status: 'SUCCEEDED', output: { approved: true } });
    expect(ok.status).toBe(202);
    expect((await call('POST', `/callbacks/${id}`, { status: 'SUCCEEDED', output: {} })).status).toBe(409);
    const view = await taskUntil(taskId, ended);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.output).toEqual({ review: { approved: true } });
  });

  it('measures the 256 KiB limit on the raw body', async () => {
    const taskId = await submit('external-flow', { x: 1 });
    const id = await waitingWork(taskId);
    // Whitespace that JSON.stringify would drop still counts: the limit is on the bytes received.
    const padded = `{"status": "SUCCEEDED", "output": {"a": 1}}${' '.repeat(256 * 1024)}`;
    expect(
      (await call('POST', `/callbacks/${id}`, padded, { 'content-type': 'application/json' })).status,
    ).toBe(413);
    // Far over any limit: refused before it is parsed, still with a JSON answer.
    const huge = await call('POST', `/callbacks/${id}`, 'x'.repeat(9 * 1024 * 1024), {
      'content-type': 'application/json',
    });
    expect(huge.status).toBe(413);
    expect(huge.body.message).toMatch(/over/);
    expect((await call('POST', `/callbacks/${id}`, { status: 'FAILED', error: 'no' })).status).toBe(202);
    expect((await taskUntil(taskId, ended)).status).toBe('FAILED');
  });
});

describe('a worker written for AWS', () => {
  const awsConfig = () => ({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  it('receives the work item from SQS, deletes it and calls back through EventBridge PutEvents', async () => {
    const sqs = new SQSClient(awsConfig());
    const events = new EventBridgeClient(awsConfig());
    try {
      const taskId = await submit('worker-flow', { frames: 24 });
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'work' }));
      expect(QueueUrl).toBe(`${server.url}/000000000000/work`);

      const first = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 10,
          VisibilityTimeout: 1,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      expect(first.Messages).toHaveLength(1);
      const item = JSON.parse(first.Messages![0]!.Body!) as WorkItem;
      expect(item).toEqual({
        id: `${taskId}_gpu`,
        attempt: 1,
        task: { id: taskId, workflow: 'worker-flow' },
        node: { name: 'gpu' },
        input: { frames: 24 },
      });
      // Not deleted: hidden for its visibility timeout, then back with a new receipt.
      const hidden = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
      expect(hidden.Messages ?? []).toHaveLength(0);
      const again = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          WaitTimeSeconds: 5,
          VisibilityTimeout: 30,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const message = again.Messages![0]!;
      expect(message.MessageId).toBe(first.Messages![0]!.MessageId);
      expect(message.ReceiptHandle).not.toBe(first.Messages![0]!.ReceiptHandle);
      expect(message.Attributes?.ApproximateReceiveCount).toBe('2');
      // ChangeMessageVisibility on the live receipt works; on the old one the message is not in flight.
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: 60,
        }),
      );
      await expect(
        sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl,
            ReceiptHandle: first.Messages![0]!.ReceiptHandle,
            VisibilityTimeout: 60,
          }),
        ),
      ).rejects.toThrow(expect.objectContaining({ name: 'MessageNotInflight' }));
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));

      const put = await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: 'dag.worker',
              DetailType: 'Node Callback',
              EventBusName: 'dag-engine',
              Detail: JSON.stringify({
                id: item.id,
                attempt: item.attempt,
                status: 'SUCCEEDED',
                output: { gpuMs: 5 },
              }),
            },
          ],
        }),
      );
      expect(put.FailedEntryCount).toBe(0);
      expect(put.Entries?.[0]?.EventId).toEqual(expect.any(String));
      const view = await taskUntil(taskId, ended);
      expect(view.status).toBe('SUCCEEDED');
      expect(view.output).toEqual({ gpu: { gpuMs: 5 } });
      expect(view.events.find((e) => e.node === 'gpu')?.status).toBe('SUCCEEDED');
      // Deleted: the message never comes back.
      const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
      expect(after.Messages ?? []).toHaveLength(0);
    } finally {
      sqs.destroy();
      events.destroy();
    }
  });

  it('long-polls until work arrives', async () => {
    const sqs = new SQSClient(awsConfig());
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'work' }));
      const received = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
      await sleep(200);
      const taskId = await submit('worker-flow', { frames: 1 });
      const started = Date.now();
      const { Messages } = await received;
      expect(Date.now() - started).toBeLessThan(3_000);
      const item = JSON.parse(Messages![0]!.Body!) as WorkItem;
      expect(item.task.id).toBe(taskId);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: Messages![0]!.ReceiptHandle }));
      const callback = await call('POST', `/callbacks/${item.id}`, { status: 'SUCCEEDED', output: {} });
      expect(callback.status).toBe(202);
      expect((await taskUntil(taskId, ended)).status).toBe('SUCCEEDED');
    } finally {
      sqs.destroy();
    }
  });

  it('answers SQS errors in the shape the SDK understands', async () => {
    const sqs = new SQSClient(awsConfig());
    try {
      await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'no-such-queue' }))).rejects.toThrow(
        expect.objectContaining({ name: 'QueueDoesNotExist' }),
      );
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'reviews' }));
      await expect(sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'forged' }))).rejects.toThrow(
        expect.objectContaining({ name: 'ReceiptHandleIsInvalid' }),
      );
    } finally {
      sqs.destroy();
    }
    const noTarget = await call('POST', '/', {});
    expect(noTarget.status).toBe(400);
    const unknown = await call('POST', '/', {}, { 'x-amz-target': 'AmazonSQS.PurgeQueue' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.__type).toBe('com.amazonaws.sqs#UnknownOperationException');
    const notJson = await call('POST', '/', '{', { 'x-amz-target': 'AWSEvents.PutEvents' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.__type).toBe('SerializationException');
  });
});

describe('uploads', () => {
  it('starts one task per file version dropped into <data>/uploads/<workflow>/', async () => {
    const folder = join(dataDir, 'uploads', 'upload-flow', 'day1');
    await mkdir(folder, { recursive: true });
    const file = join(folder, 'clip.mp4');
    writeFileSync(file, 'first');
    const tasksOf = async () => (await server.engine.store.listTasks({ workflow: 'upload-flow' })).tasks;
    const [task] = await waitFor('a task for the upload', async () => {
      const tasks = await tasksOf();
      return tasks.length > 0 ? tasks : undefined;
    });
    expect(task!.input).toEqual({ source: file });
    expect((await taskUntil(task!.taskId, ended)).status).toBe('SUCCEEDED');
    await sleep(300); // several scans: the same version starts nothing more
    expect(await tasksOf()).toHaveLength(1);
    writeFileSync(file, 'second version');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    await waitFor('a task for the new version', async () =>
      (await tasksOf()).length === 2 ? true : undefined,
    );
    // A folder with no registered workflow starts nothing.
    await mkdir(join(dataDir, 'uploads', 'unknown-flow'), { recursive: true });
    writeFileSync(join(dataDir, 'uploads', 'unknown-flow', 'x.mp4'), 'x');
    await sleep(300);
    expect((await server.engine.store.listTasks({ workflow: 'unknown-flow' })).tasks).toHaveLength(0);
  });
});

describe('the web view', () => {
  it('serves the page and its script', async () => {
    const page = await call('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('<script type="module" src="/ui/app.js">');
    const script = await call('GET', '/ui/app.js');
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect(script.text).toContain('renderGantt');
    expect(script.text).not.toMatch(/^import /m);
  });

  it('draws a workflow as its business DAG and its execution plan', async () => {
    const graphs = await call('GET', '/ui/api/workflows/external-flow/graphs');
    expect(graphs.body).toMatchObject({ name: 'external-flow', version: 1 });
    expect(graphs.body.business).toMatch(/^<svg [^>]*class="dag-graph dag-business"/);
    expect(graphs.body.business).toContain('data-nodes="review"');
    expect(graphs.body.plan).toMatch(/class="dag-graph dag-plan"/);
    expect((await call('GET', '/ui/api/workflows/nope/graphs')).status).toBe(404);
  });

  it('gives a task with its traces and segment progress, and a workflow with its recent tasks', async () => {
    const taskId = await submit('echo-flow', { x: 2 });
    await taskUntil(taskId, ended);
    const detail = await call('GET', `/ui/api/tasks/${taskId}`);
    expect(detail.body).toMatchObject({ task: { taskId, status: 'SUCCEEDED' }, version: 1, progress: {} });
    expect(detail.body.traces).toHaveLength(1);
    const recent = await call('GET', '/ui/api/workflows/echo-flow/tasks');
    expect((recent.body.tasks as { taskId: string }[]).map((t) => t.taskId)).toContain(taskId);
    expect((await call('GET', '/ui/api/tasks/nope')).status).toBe(404);
  });
});

describe('the server', () => {
  it('answers unknown routes with JSON 404', async () => {
    const answer = await call('GET', '/no/such/route');
    expect(answer.status).toBe(404);
    expect(answer.body.message).toMatch(/No route/);
  });

  it('never returns a task token', async () => {
    // Every token the engine minted for the tests above has this shape; none may appear in a response.
    const all = responses.join('\n');
    expect(all).not.toMatch(/local-[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(all).not.toMatch(/taskToken/i);
  });
});

describe('a data folder', () => {
  it('keeps workflows and tasks across restarts, ends tasks it cannot resume, and admits one server at a time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dag-serve-restart-'));
    try {
      const first = await DagServer.start({ port: 0, dataDir: dir, operatorsDir: 'test/fixtures/operators' });
      try {
        await expect(DagServer.start({ port: 0, dataDir: dir })).rejects.toThrow(DataDirInUseError);
        const registered = await fetch(`${first.url}/workflows`, { method: 'POST', body: ECHO });
        expect(registered.status).toBe(201);
        // A running task of no known workflow version: there is no definition to resume it with.
        await first.engine.store.createTask({ taskId: 'orphan-1', workflow: 'echo-flow', input: {} });
      } finally {
        await first.close();
      }
      const second = await DagServer.start({
        port: 0,
        dataDir: dir,
        operatorsDir: 'test/fixtures/operators',
      });
      try {
        const workflow = await fetch(`${second.url}/workflows/echo-flow`);
        expect(await workflow.json()).toMatchObject({ name: 'echo-flow', version: 1 });
        const orphan = (await (await fetch(`${second.url}/tasks/orphan-1`)).json()) as TaskView;
        expect(orphan.status).toBe('FAILED');
        expect(orphan.error?.error).toBe('EngineStopped');
        const again = await fetch(`${second.url}/workflows`, { method: 'POST', body: ECHO });
        expect(await again.json()).toEqual({ name: 'echo-flow', version: 2 });
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** `call` against another server than the shared one. */
  function on(base: string) {
    const request = async (method: string, path: string, body?: object) => {
      const response = await fetch(`${base}${path}`, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      const text = await response.text();
      responses.push(text);
      return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
    };
    return {
      request,
      register: async (yaml: string) =>
        (await fetch(`${base}/workflows`, { method: 'POST', body: yaml })).status,
      submit: async (workflow: string, input: unknown) =>
        (await request('POST', `/workflows/${workflow}/tasks`, input as object)).body.taskId as string,
      task: (taskId: string, done: (view: TaskView) => boolean) =>
        waitFor(`task ${taskId}`, async () => {
          const view = (await request('GET', `/tasks/${taskId}`)).body as unknown as TaskView;
          return done(view) ? view : undefined;
        }),
      sqs: () =>
        new SQSClient({
          endpoint: base,
          region: 'us-east-1',
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }),
    };
  }

  const eventOf = (view: TaskView, node: string) => view.events.find((e) => e.node === node);

  const RESUMED = `name: resume-flow
nodes:
  begin: { type: start, next: prep }
  prep: { type: sync, operator: test/echo, input: { v: 1 }, next: [review, fan] }
  review: { type: async, via: queue, queue: resume-reviews, timeout: 600, next: after }
  fan:
    type: parallel
    items: $.input.items
    node: { type: async, via: queue, queue: resume-reviews, timeout: 600, input: { item: $.item } }
    next: after
  after: { type: sync, operator: test/echo, input: { review: $.nodes.review, fan: $.nodes.fan }, next: done }
  done: { type: end, output: { after: $.nodes.after.echo } }
`;

  it('resumes, after a restart, a task whose work waited for callbacks; finished tasks read as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dag-serve-resume-'));
    const options = { port: 0, dataDir: dir, operatorsDir: 'test/fixtures/operators', retryDelayMs: 0 };
    const lines: string[] = [];
    try {
      const first = await DagServer.start(options);
      let finished: string;
      let finishedView: TaskView;
      let taskId: string;
      let items: WorkItem[];
      const api1 = on(first.url);
      const sqs1 = api1.sqs();
      try {
        expect(await api1.register(ECHO)).toBe(201);
        expect(await api1.register(RESUMED)).toBe(201);
        finished = await api1.submit('echo-flow', { x: 5 });
        finishedView = await api1.task(finished, ended);
        taskId = await api1.submit('resume-flow', { items: ['a', 'b'] });
        // The outside worker takes the three work items, as it would on AWS.
        const { QueueUrl } = await sqs1.send(new GetQueueUrlCommand({ QueueName: 'resume-reviews' }));
        items = [];
        while (items.length < 3) {
          const { Messages = [] } = await sqs1.send(
            new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }),
          );
          items.push(...Messages.map((m) => JSON.parse(m.Body!) as WorkItem));
        }
        const segment0 = items.find((i) => i.segment?.order === 0)!;
        const answer = await api1.request('POST', `/callbacks/${segment0.id}`, {
          status: 'SUCCEEDED',
          output: 'A',
        });
        expect(answer.status).toBe(202);
      } finally {
        sqs1.destroy();
        await first.close();
      }

      const second = await DagServer.start({ ...options, log: (line) => lines.push(line) });
      const api2 = on(second.url);
      const sqs2 = api2.sqs();
      const events = new EventBridgeClient({
        endpoint: second.url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      try {
        await expect(DagServer.start(options)).rejects.toThrow(DataDirInUseError);
        expect(lines).toContain(`task ${taskId} (resume-flow) resumed after a restart`);
        const review = items.find((i) => i.node.name === 'review')!;
        const segment1 = items.find((i) => i.segment?.order === 1)!;
        expect(lines.filter((line) => line.startsWith('waiting:')).sort()).toEqual(
          [review, segment1]
            .map(
              (i) =>
                `waiting: ${i.id} (attempt 1, parked again after a restart) — POST ${second.url}/callbacks/${i.id}`,
            )
            .sort(),
        );
        // The finished task reads as it did.
        expect((await api2.request('GET', `/tasks/${finished}`)).body).toEqual(finishedView);
        expect((await api2.request('GET', `/tasks/${finished}/traces`)).body.traces).toHaveLength(1);

        const waiting = await api2.task(taskId, (view) => view.status === 'RUNNING');
        expect(eventOf(waiting, 'review')).toMatchObject({ status: 'WAITING', attempts: 1 });
        expect(waiting.segments.map((s) => `${s.order}:${s.status}:${s.attempts}`)).toEqual([
          '0:SUCCEEDED:1',
          '1:WAITING:1',
        ]);
        // Not handed out again: the worker still holds the items. The queue is known from the start.
        const { QueueUrl } = await sqs2.send(new GetQueueUrlCommand({ QueueName: 'resume-reviews' }));
        const { Messages = [] } = await sqs2.send(
          new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }),
        );
        expect(Messages).toEqual([]);

        expect(
          (
            await api2.request('POST', `/callbacks/${items.find((i) => i.segment?.order === 0)!.id}`, {
              status: 'SUCCEEDED',
            })
          ).status,
        ).toBe(409);
        const answer = await api2.request('POST', `/callbacks/${review.id}`, {
          attempt: 1,
          status: 'SUCCEEDED',
          output: { approved: true },
        });
        expect(answer.status).toBe(202);
        const put = await events.send(
          new PutEventsCommand({
            Entries: [
              {
                Source: 'dag.worker',
                DetailType: 'Node Callback',
                Detail: JSON.stringify({ id: segment1.id, attempt: 1, status: 'SUCCEEDED', output: 'B' }),
              },
            ],
          }),
        );
        expect(put.FailedEntryCount).toBe(0);
        const view = await api2.task(taskId, ended);
        expect(view.status).toBe('SUCCEEDED');
        expect(view.output).toEqual({ after: { review: { approved: true }, fan: ['A', 'B'] } });
        expect(view.events.map((e) => `${e.node}:${e.status}:${e.attempts}`).sort()).toEqual(
          ['after', 'begin', 'done', 'fan', 'prep', 'review'].map((node) => `${node}:SUCCEEDED:1`),
        );
        // prep ran once, before the restart: its output was reused.
        const traces = (await api2.request('GET', `/tasks/${taskId}/traces`)).body.traces as {
          eventId: string;
        }[];
        expect(traces.map((t) => t.eventId.split('_')[1]).sort()).toEqual(['after', 'prep']);
      } finally {
        sqs2.destroy();
        events.destroy();
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('resumes after the process was killed: work running inside it runs again, a callback resumes the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dag-serve-crash-'));
    const CRASHED = `name: crash-flow
nodes:
  begin: { type: start, next: [nap, review] }
  nap: { type: sync, operator: test/stall, input: { ms: 600000 }, timeout: 900, next: done }
  review: { type: async, via: queue, queue: crash-reviews, timeout: 600, next: done }
  done: { type: end }
`;
    const child = spawn(
      process.execPath,
      ['bin/dag.js', 'serve', '--port', '0', '--data', dir, '--operators', 'test/fixtures/operators'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    try {
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const url = await waitFor(
        'the child server',
        async () => /dag serve: (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)?.[1],
        30_000,
      );
      const api1 = on(url);
      expect(await api1.register(CRASHED)).toBe(201);
      const taskId = await api1.submit('crash-flow', {});
      await api1.task(
        taskId,
        (view) => eventOf(view, 'nap')?.status === 'RUNNING' && eventOf(view, 'review')?.status === 'WAITING',
      );
      child.kill('SIGKILL');
      await once(child, 'exit');

      const second = await DagServer.start({
        port: 0,
        dataDir: dir,
        operatorsDir: 'test/fixtures/operators',
      });
      try {
        const api2 = on(second.url);
        // nap's first attempt died with the process; its next attempt runs (and answers at once).
        const napped = await api2.task(taskId, (view) => eventOf(view, 'nap')?.status === 'SUCCEEDED');
        expect(eventOf(napped, 'nap')?.attempts).toBe(2);
        expect(eventOf(napped, 'review')).toMatchObject({ status: 'WAITING', attempts: 1 });
        const id = eventOf(napped, 'review')!.eventId;
        expect(
          (await api2.request('POST', `/callbacks/${id}`, { attempt: 1, status: 'SUCCEEDED', output: 7 }))
            .status,
        ).toBe(202);
        const view = await api2.task(taskId, ended);
        expect(view.status).toBe('SUCCEEDED');
        expect(view.events.map((e) => `${e.node}:${e.status}:${e.attempts}`).sort()).toEqual([
          'begin:SUCCEEDED:1',
          'done:SUCCEEDED:1',
          'nap:SUCCEEDED:2',
          'review:SUCCEEDED:1',
        ]);
        // The attempt cut off by the crash left no trace; the one that ran after it did.
        const traces = (await api2.request('GET', `/tasks/${taskId}/traces`)).body.traces as {
          attempt: number;
          status: string;
        }[];
        expect(traces.map((t) => [t.attempt, t.status])).toEqual([[2, 'SUCCEEDED']]);
        expect((await api2.request('POST', `/callbacks/${id}`, { status: 'SUCCEEDED' })).status).toBe(409);
      } finally {
        await second.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stopping under load', () => {
  it('lets the requests under way finish before it closes the engine: none answers 500', async () => {
    const lines: string[] = [];
    const busy = await DagServer.start({
      port: 0,
      operatorsDir: 'test/fixtures/operators',
      retryDelayMs: 0,
      log: (line) => lines.push(line),
    });
    const request = async (method: string, path: string, body?: unknown) => {
      try {
        const response = await fetch(`${busy.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        await response.text();
        return response.status;
      } catch (error) {
        // Refused: sent after the server stopped listening. Anything else: dropped on the way.
        const code = (error as { cause?: { code?: string } }).cause?.code;
        return code === 'ECONNREFUSED' ? 'refused' : `dropped (${code ?? (error as Error).message})`;
      }
    };
    const registered = await fetch(`${busy.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/yaml' },
      body: ECHO,
    });
    expect(registered.status).toBe(201);
    const taskId = (
      (await (
        await fetch(`${busy.url}/workflows/echo-flow/tasks`, { method: 'POST', body: '{"x": 1}' })
      ).json()) as { taskId: string }
    ).taskId;
    // Submits and reads, every one going to the store, still arriving as the server stops.
    const answers: Promise<number | string>[] = [];
    let first!: () => void;
    const answered = new Promise<void>((resolve) => {
      first = resolve;
    });
    for (let i = 0; i < 60; i++) {
      const answer =
        i % 3 === 0
          ? request('POST', '/workflows/echo-flow/tasks', { x: i })
          : request('GET', i % 3 === 1 ? `/tasks/${taskId}` : '/workflows');
      answers.push(answer.finally(first));
    }
    await answered;
    await busy.close();
    const statuses = await Promise.all(answers);
    expect(statuses.filter((status) => status === 500)).toEqual([]);
    // Each answered as the API says, or was told the server is stopping, or found it gone.
    for (const status of statuses) expect([200, 202, 503, 'refused']).toContain(status);
    expect(lines.filter((line) => line.startsWith('internal error'))).toEqual([]);
  });
});

describe('dag serve', () => {
  function bufferIo(): CommandIo & { err: string[] } {
    const err: string[] = [];
    return { err, stdout: () => {}, stderr: (line) => err.push(line) };
  }

  it('serves until stopped, on the port it prints', async () => {
    const io = bufferIo();
    const stop = new AbortController();
    const exit = runServe(['--port', '0', '--operators', 'test/fixtures/operators'], io, stop.signal);
    const url = await waitFor('the listening line', async () =>
      io.err.map((line) => /(http:\/\/127\.0\.0\.1:\d+)\//.exec(line)?.[1]).find(Boolean),
    );
    const list = await fetch(`${url}/workflows`);
    expect(await list.json()).toEqual({ workflows: [] });
    stop.abort();
    expect(await exit).toBe(0);
  });

  it('refuses a bad command line', async () => {
    await expect(runServe(['--port', 'eighty'], bufferIo())).rejects.toThrow(UsageError);
    await expect(runServe(['--operators', 'no/such/dir'], bufferIo())).rejects.toThrow(UsageError);
    await expect(runServe(['file.yaml'], bufferIo())).rejects.toThrow(UsageError);
  });
});
