// Task tokens never leave the engine (dag-spec §5): tasks with async work (an operator via lambda and
// via batch, external work via a queue) run on `dag serve` and through `dag run --json`; every token is
// read from the store itself (the dynalite tables, scanned while the work waits), and every answer the
// test can reach, API, web view, callbacks, AWS protocol, log lines and CLI output, is searched for it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runRun } from '../../lib/cli/run.js';
import type { LocalDynamo } from '../../lib/local/dynalite.js';
import { DagServer, type TaskView } from '../../lib/local/serve.js';

// Every dynalite the code under test starts (the server's, the CLI's), so the test can scan its
// tables directly: the store's own reads hide the token by design.
const dynamos = vi.hoisted(() => [] as unknown[]);
vi.mock('../../lib/local/dynalite.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../lib/local/dynalite.js')>();
  return {
    ...actual,
    startLocalDynamo: async (...args: Parameters<typeof actual.startLocalDynamo>) => {
      const dynamo = await actual.startLocalDynamo(...args);
      dynamos.push(dynamo);
      return dynamo;
    },
  };
});

/**
 * Polls every table of the dynalites started from now on for `taskToken` attributes until stopped:
 * tokens are short-lived (a row loses its token when its work is claimed).
 */
function collectTokens(): { tokens: Set<string>; stop: () => Promise<void> } {
  const from = dynamos.length;
  const tokens = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const dynamo of (dynamos as LocalDynamo[]).slice(from)) {
        for (const table of Object.values(dynamo.tableNames)) {
          try {
            const page = await dynamo.client.send(new ScanCommand({ TableName: table }));
            for (const item of page.Items ?? []) if (item.taskToken?.S) tokens.add(item.taskToken.S);
          } catch {
            // a dynalite that has been closed
          }
        }
      }
      await sleep(10);
    }
  })();
  return {
    tokens,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const giveUp = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function expectNoToken(outputs: readonly string[], tokens: ReadonlySet<string>): void {
  const all = outputs.join('\n');
  for (const token of tokens) expect(all.includes(token), `token ${token} in an output`).toBe(false);
  expect(all).not.toMatch(/taskToken/i);
}

// Sleeps long enough that the collector sees the tokens of work that calls back on its own.
const WORKFLOW = `name: token-flow
nodes:
  begin: { type: start, next: [worker, gpu, review] }
  worker: { type: async, via: lambda, operator: test/outcome, input: { ms: 800 }, next: tell }
  gpu: { type: async, via: batch, operator: test/outcome, input: { ms: 800 }, next: tell }
  review: { type: async, via: queue, queue: reviews, heartbeat: 300, timeout: 600, input: { x: $.input.x }, next: tell }
  tell: { type: callback, target: { kind: eventbridge, detailType: Reviewed }, payload: { id: $.task.id }, next: done }
  done: { type: end }
`;

describe('task tokens on dag serve', () => {
  let server: DagServer;
  const logs: string[] = [];
  const bodies: string[] = [];
  let collector: ReturnType<typeof collectTokens>;

  beforeAll(async () => {
    collector = collectTokens();
    server = await DagServer.start({
      port: 0,
      operatorsDir: 'test/fixtures/operators',
      retryDelayMs: 0,
      log: (line) => logs.push(line),
    });
  });

  afterAll(async () => {
    await collector.stop();
    await server.close();
  });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    bodies.push(text);
    return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  /** Every GET a client or the web view can make about these tasks. */
  async function readEverything(taskIds: readonly string[]): Promise<void> {
    for (const path of ['/workflows', '/workflows/token-flow', '/', '/ui/app.js'])
      expect((await call('GET', path)).status).toBe(200);
    expect((await call('GET', '/ui/api/workflows/token-flow/graphs')).status).toBe(200);
    expect((await call('GET', '/ui/api/workflows/token-flow/tasks')).status).toBe(200);
    for (const taskId of taskIds) {
      expect((await call('GET', `/tasks/${taskId}`)).status).toBe(200);
      expect((await call('GET', `/tasks/${taskId}/traces`)).status).toBe(200);
      expect((await call('GET', `/ui/api/tasks/${taskId}`)).status).toBe(200);
    }
  }

  async function aws(target: string, body: unknown) {
    const json = target.startsWith('AmazonSQS') ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1';
    return call('POST', '/', body, { 'content-type': json, 'x-amz-target': target });
  }

  it('never shows one in any answer, web view, callback answer or log line', async () => {
    const register = await call('POST', '/workflows', WORKFLOW, { 'content-type': 'application/yaml' });
    expect(register.status, register.text).toBe(201);
    const submit = (input: unknown, headers = {}) =>
      call('POST', '/workflows/token-flow/tasks', input, headers).then((a) => a.json().taskId as string);
    const taskIds = [await submit({ x: 1 }), await submit({ x: 2 }, { 'idempotency-key': 'once' })];
    const reviewOf = (taskId: string) => `${taskId}_review`;

    // Every async node of both tasks has parked its token: three per task.
    await until('six tokens', () => (collector.tokens.size >= 6 ? true : undefined));
    await until('both reviews waiting', async () => {
      const views = await Promise.all(taskIds.map(async (id) => (await call('GET', `/tasks/${id}`)).json()));
      const waiting = views.every((v) =>
        (v as unknown as TaskView).events.some((e) => e.node === 'review' && e.status === 'WAITING'),
      );
      return waiting ? true : undefined;
    });
    await readEverything(taskIds);

    // A worker written for AWS: the work item from SQS, the callback through EventBridge.
    const queue = await aws('AmazonSQS.GetQueueUrl', { QueueName: 'reviews' });
    const { QueueUrl } = queue.json();
    const received = await aws('AmazonSQS.ReceiveMessage', {
      QueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    });
    expect(received.text).toContain(reviewOf(taskIds[1]!));
    const putEvents = await aws('AWSEvents.PutEvents', {
      Entries: [
        {
          Source: 'dag.worker',
          DetailType: 'Node Callback',
          EventBusName: 'default',
          Detail: JSON.stringify({ id: reviewOf(taskIds[1]!), status: 'SUCCEEDED', output: { ok: true } }),
        },
      ],
    });
    expect(putEvents.json()).toMatchObject({ FailedEntryCount: 0 });

    // Callbacks over HTTP, with every answer of §7 that a caller can provoke here.
    const id = reviewOf(taskIds[0]!);
    expect((await call('POST', `/callbacks/${id}`, { status: 'HEARTBEAT' })).status).toBe(202);
    expect((await call('POST', `/callbacks/${id}`, { status: 'SUCCEEDED', output: { ok: 1 } })).status).toBe(
      202,
    );
    expect((await call('POST', `/callbacks/${id}`, { status: 'SUCCEEDED' })).status).toBe(409);
    expect((await call('POST', `/callbacks/${taskIds[0]}_nope`, { status: 'SUCCEEDED' })).status).toBe(404);
    expect((await call('POST', `/callbacks/${id}`, 'not json')).status).toBe(400);

    for (const taskId of taskIds)
      await until(`task ${taskId}`, async () =>
        (await call('GET', `/tasks/${taskId}`)).json().status === 'SUCCEEDED' ? true : undefined,
      );
    await readEverything(taskIds);
    expect((await call('POST', `/tasks/${taskIds[0]}/redrive`)).status).toBe(409);
    expect((await call('POST', `/tasks/${taskIds[0]}/abort`)).status).toBe(409);

    expect(collector.tokens.size).toBeGreaterThanOrEqual(6);
    expect(logs.some((line) => line.includes(reviewOf(taskIds[0]!)))).toBe(true);
    expectNoToken([...bodies, ...logs], collector.tokens);
  });
});

describe('task tokens in dag run --json', () => {
  let dir: string;
  const realStdin = Object.getOwnPropertyDescriptor(process, 'stdin')!;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dag-tokens-'));
  });

  afterEach(() => {
    Object.defineProperty(process, 'stdin', realStdin);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('never prints one on stdout or stderr', async () => {
    const file = join(dir, 'token-flow.yaml');
    writeFileSync(file, WORKFLOW);
    // The CLI reads callbacks for external work as JSON lines on stdin (dag-spec §8).
    const stdin = new PassThrough();
    Object.defineProperty(process, 'stdin', { configurable: true, get: () => stdin });
    const out: string[] = [];
    const err: string[] = [];
    const collector = collectTokens();
    try {
      const exit = runRun([file, '--json', '--input', '{"x": 3}', '--operators', 'test/fixtures/operators'], {
        stdout: (line) => out.push(line),
        stderr: (line) => err.push(line),
      });
      const waiting = await until('the waiting line', () =>
        err.map((line) => /^waiting: (\S+)/.exec(line)?.[1]).find(Boolean),
      );
      await until('three tokens', () => (collector.tokens.size >= 3 ? true : undefined));
      stdin.write(`${JSON.stringify({ id: waiting, status: 'HEARTBEAT' })}\n`);
      stdin.write(`${JSON.stringify({ id: waiting, status: 'SUCCEEDED', output: { ok: true } })}\n`);
      expect(await exit).toBe(0);
    } finally {
      await collector.stop();
    }
    const result = JSON.parse(out.join('\n')) as { status: string; events: { node: string }[] };
    expect(result.status).toBe('SUCCEEDED');
    expect(result.events.map((e) => e.node)).toContain('review');
    expect(err.some((line) => line.startsWith('callback: 202'))).toBe(true);
    expect(collector.tokens.size).toBeGreaterThanOrEqual(3);
    expectNoToken([...out, ...err], collector.tokens);
  });
});
