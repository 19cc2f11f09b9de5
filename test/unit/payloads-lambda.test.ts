// Large payloads in the Lambdas (the S3 path): the script function and an operator's worker resolve
// references from S3 before running and offload large outputs to S3, under the stack's object root.
// S3, DynamoDB and EventBridge are faked with aws-sdk-client-mock.
import { Readable } from 'node:stream';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBridgeCallbackReporter, runWorkItem } from '../../lib/aws/worker.js';
import { ENV } from '../../lib/config/env.js';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.js';
import { closeScriptWorkers } from '../../lib/runtime/script.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../../lib/tracking/dynamo-store.js';
import { stubHandlerEnv, TABLES } from './handlers-support.js';

const s3 = mockClient(S3Client);
const db = mockClient(DynamoDBDocumentClient);
const events = mockClient(EventBridgeClient);
let script: typeof import('../../functions/script/handler.js');

const TASK = '0190f3c2-0000-7000-8000-000000000003';
const ROOT = 's3://media-bucket/objects';
const BIG = { data: 'b'.repeat(300_000) };
const BIG_KEY = `objects/${TASK}/gen/output-1.json`;

/** What the SDK returns in Node: a Readable with the SDK's transform helpers mixed in. */
function body(text: string): GetObjectCommandOutput['Body'] {
  const bytes = Buffer.from(text);
  return Object.assign(Readable.from([bytes]), {
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToString: async () => text,
    transformToWebStream: () => {
      throw new Error('not used');
    },
  });
}

beforeAll(async () => {
  stubHandlerEnv();
  vi.stubEnv(ENV.OBJECT_ROOT, ROOT);
  script = await import('../../functions/script/handler.js');
});
beforeEach(() => {
  db.on(UpdateCommand).resolves({
    Attributes: { taskId: TASK, eventId: `${TASK}_measure`, status: 'RUNNING', attempts: 1 },
  });
  db.on(PutCommand).resolves({});
  s3.on(PutObjectCommand).resolves({});
  s3.on(GetObjectCommand, { Bucket: 'media-bucket', Key: BIG_KEY }).resolves({
    Body: body(JSON.stringify(BIG)),
  });
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
});
afterEach(() => {
  for (const mock of [s3, db, events]) mock.reset();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await closeScriptWorkers();
});

const reference = { $payload: `${ROOT}/${TASK}/gen/output-1.json`, bytes: 300_011 };

describe('the script Lambda', () => {
  it('reads a referenced payload from S3 and puts its own large output to S3', async () => {
    const output = await script.handler({
      task: { id: TASK, workflow: 'flow' },
      node: 'measure',
      language: 'javascript',
      source: 'return { chars: ctx.nodes.gen.data.length, twice: ctx.nodes.gen.data + ctx.nodes.gen.data };',
      timeoutMs: 5000,
      context: { task: { id: TASK, workflow: 'flow' }, input: {}, params: {}, nodes: { gen: reference } },
    });
    const key = `objects/${TASK}/measure/output-1.json`;
    const put = s3.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: 'media-bucket', Key: key, ContentType: 'application/json' });
    const stored = JSON.parse(put.Body as string) as { chars: number; twice: string };
    expect(stored.chars).toBe(300_000);
    expect(stored.twice).toBe(BIG.data + BIG.data);
    expect(output).toEqual({
      $payload: `s3://media-bucket/${key}`,
      bytes: Buffer.byteLength(put.Body as string),
    });
    // The event record gets the reference, never the value.
    const finish = db.commandCalls(UpdateCommand).at(-1)!.args[0].input;
    expect(finish.TableName).toBe(TABLES.events);
    expect(JSON.parse(finish.ExpressionAttributeValues?.[':new_output'] as string)).toEqual(output);
  });

  it('fails the run with PayloadNotFoundError when the object is gone', async () => {
    s3.on(GetObjectCommand).rejects(
      new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }),
    );
    await expect(
      script.handler({
        task: { id: TASK, workflow: 'flow' },
        node: 'measure',
        language: 'jsonata',
        source: 'nodes.gen',
        timeoutMs: 5000,
        context: { nodes: { gen: reference } },
      }),
    ).rejects.toMatchObject({ name: 'PayloadNotFoundError' });
    const trace = db.commandCalls(PutCommand)[0]!.args[0].input;
    expect(trace.Item).toMatchObject({ status: 'FAILED', error: { error: 'PayloadNotFoundError' } });
  });
});

describe('an operator worker (runWorkItem)', () => {
  const store = new DynamoTrackingStore({
    documentClient: createTrackingDocumentClient(new DynamoDBClient({ region: 'eu-west-1' })),
    tableNames: { ...TABLES },
  });
  const reporter = new EventBridgeCallbackReporter(
    new EventBridgeClient({ region: 'eu-west-1' }),
    'engine-bus',
  );

  it('gets the resolved value and answers with a reference to its offloaded output', async () => {
    const received: unknown[] = [];
    await runWorkItem(
      {
        id: `${TASK}_sum_2`,
        attempt: 3,
        task: { id: TASK, workflow: 'flow' },
        node: { name: 'sum' },
        segment: { id: `${TASK}_sum_2`, order: 2 },
        input: { big: reference },
      },
      {
        runtime: new OperatorRuntime(store),
        operator: async (event) => {
          received.push(event.input);
          return { echoed: (event.input as { big: unknown }).big };
        },
        reporter,
      },
    );
    expect(received).toEqual([{ big: BIG }]);
    const key = `objects/${TASK}/sum/2/output-3.json`;
    expect(s3.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'media-bucket',
      Key: key,
    });
    const [entry] = events.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries!;
    expect(JSON.parse(entry!.Detail!)).toEqual({
      id: `${TASK}_sum_2`,
      attempt: 3,
      status: 'SUCCEEDED',
      output: { $payload: `s3://media-bucket/${key}`, bytes: JSON.stringify({ echoed: BIG }).length },
    });
  });
});
