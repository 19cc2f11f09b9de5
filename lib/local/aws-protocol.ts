// The AWS SDK v3 calls a worker makes, answered by `dag serve` on `POST /` by the `X-Amz-Target` header
// (dag-spec §9), so that a worker written for AWS runs unchanged against the embedded engine:
//   EventBridge `AWSEvents.PutEvents` (awsJson1_1): `dag.worker` / `Node Callback` entries are callbacks (§7);
//   SQS `AmazonSQS.*` (awsJson1_0): the engine's work queues, with receipts and visibility timeouts.
import { createHash, randomUUID } from 'node:crypto';
import type { CallbackAnswer } from '../runtime/callbacks.js';
import {
  DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
  InvalidReceiptHandleError,
  type LocalBus,
  type LocalQueues,
  MessageNotInFlightError,
  queueNameOfUrl,
} from './bus.js';

/** What the callback event of a worker looks like on the bus (dag-spec §7). */
export const CALLBACK_SOURCE = 'dag.worker';
export const CALLBACK_DETAIL_TYPE = 'Node Callback';

/** The account id in local queue URLs: no real account is involved. */
export const LOCAL_ACCOUNT_ID = '000000000000';

const MAX_WAIT_SECONDS = 20;
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

export interface AwsProtocolContext {
  readonly queues: LocalQueues;
  readonly bus: LocalBus;
  /** Applies a callback (the `detail` of a callback event) with its size in bytes. */
  readonly callback: (body: unknown, rawBytes: number) => Promise<CallbackAnswer>;
  /** `http://127.0.0.1:<port>`: queue URLs point back at the server. */
  readonly origin: string;
  /** Aborted when the server stops, to end long polls at once. */
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

export interface AwsAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

type Operation = (input: Record<string, unknown>, context: AwsProtocolContext) => Promise<unknown> | unknown;

/** An error in the JSON protocols' shape: `__type` becomes the SDK exception's name. */
export class AwsProtocolError extends Error {
  constructor(
    readonly type: string,
    message: string,
    /** SQS's query-compatible code, which the SDK prefers when present. */
    readonly queryCode?: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'AwsProtocolError';
  }
}

const SQS_JSON = 'application/x-amz-json-1.0';
const EVENTS_JSON = 'application/x-amz-json-1.1';

const SQS_OPERATIONS: Record<string, Operation> = {
  GetQueueUrl: getQueueUrl,
  ListQueues: listQueues,
  ReceiveMessage: receiveMessage,
  DeleteMessage: deleteMessage,
  DeleteMessageBatch: deleteMessageBatch,
  ChangeMessageVisibility: changeMessageVisibility,
  SendMessage: sendMessage,
};

/** Answers one `X-Amz-Target` call; `body` is the request text. */
export async function answerAwsCall(
  target: string,
  body: string,
  context: AwsProtocolContext,
): Promise<AwsAnswer> {
  const dot = target.indexOf('.');
  const service = target.slice(0, dot);
  const operation = target.slice(dot + 1);
  const contentType = service === 'AmazonSQS' ? SQS_JSON : EVENTS_JSON;
  try {
    let input: unknown;
    try {
      input = body.trim() === '' ? {} : JSON.parse(body);
    } catch {
      throw new AwsProtocolError('SerializationException', 'The request body is not JSON.');
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input))
      throw new AwsProtocolError('SerializationException', 'The request body must be a JSON object.');
    const record = input as Record<string, unknown>;
    let output: unknown;
    if (service === 'AWSEvents' && operation === 'PutEvents') output = await putEvents(record, context);
    else if (service === 'AmazonSQS' && SQS_OPERATIONS[operation])
      output = await SQS_OPERATIONS[operation](record, context);
    else
      throw new AwsProtocolError(
        'UnknownOperationException',
        `dag serve answers AWSEvents.PutEvents and AmazonSQS.${Object.keys(SQS_OPERATIONS).join('/')}, not ${target}.`,
      );
    return { status: 200, headers: responseHeaders(contentType), body: output };
  } catch (error) {
    if (!(error instanceof AwsProtocolError)) throw error;
    const headers = responseHeaders(contentType);
    if (error.queryCode) headers['x-amzn-query-error'] = `${error.queryCode};Sender`;
    const type =
      service === 'AmazonSQS' && !error.type.includes('#') ? `com.amazonaws.sqs#${error.type}` : error.type;
    return { status: error.status, headers, body: { __type: type, message: error.message } };
  }
}

function responseHeaders(contentType: string): Record<string, string> {
  return { 'content-type': contentType, 'x-amzn-requestid': randomUUID() };
}

// ---- EventBridge -------------------------------------------------------------------------------------

interface PutEventsEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
}

/**
 * Every entry is accepted, as EventBridge accepts it: a callback entry is then applied, and its answer
 * (which on AWS only the callback function's log would show) goes to the server log.
 */
async function putEvents(input: Record<string, unknown>, context: AwsProtocolContext): Promise<unknown> {
  const entries = input.Entries;
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > 10)
    throw new AwsProtocolError('ValidationException', 'PutEvents takes 1 to 10 Entries.');
  const results: Record<string, string>[] = [];
  let failed = 0;
  for (const raw of entries as PutEventsEntry[]) {
    const { Source, DetailType, Detail, EventBusName } = raw ?? {};
    if (typeof Source !== 'string' || typeof DetailType !== 'string' || typeof Detail !== 'string') {
      failed++;
      results.push({
        ErrorCode: 'MalformedDetail',
        ErrorMessage: 'An entry needs Source, DetailType and Detail (a JSON string).',
      });
      continue;
    }
    let detail: unknown;
    try {
      detail = JSON.parse(Detail);
    } catch {
      failed++;
      results.push({ ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON.' });
      continue;
    }
    const eventId = randomUUID();
    context.bus.put({
      source: Source,
      detailType: DetailType,
      detail,
      bus: typeof EventBusName === 'string' ? EventBusName : 'default',
    });
    if (Source === CALLBACK_SOURCE && DetailType === CALLBACK_DETAIL_TYPE) {
      const answer = await context.callback(detail, Buffer.byteLength(Detail));
      const id = (detail as { id?: unknown } | null)?.id;
      context.log(
        `callback ${typeof id === 'string' ? id : '?'} by PutEvents: ${answer.status} ${answer.message}`,
      );
    }
    results.push({ EventId: eventId });
  }
  return { FailedEntryCount: failed, Entries: results };
}

// ---- SQS ---------------------------------------------------------------------------------------------

function queueUrlOf(context: AwsProtocolContext, queue: string): string {
  return `${context.origin}/${LOCAL_ACCOUNT_ID}/${queue}`;
}

function queueOf(input: Record<string, unknown>, context: AwsProtocolContext): string {
  const url = input.QueueUrl;
  if (typeof url !== 'string' || url === '')
    throw new AwsProtocolError('InvalidAddress', 'QueueUrl is required.', 'InvalidAddress');
  const name = queueNameOfUrl(url);
  if (!context.queues.has(name)) throw queueDoesNotExist(name);
  return name;
}

function queueDoesNotExist(name: string): AwsProtocolError {
  return new AwsProtocolError(
    'QueueDoesNotExist',
    `The queue '${name}' does not exist: queues are the work queues of registered workflows (and 'work').`,
    'AWS.SimpleQueueService.NonExistentQueue',
  );
}

function integerParameter(
  input: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new AwsProtocolError(
      'InvalidParameterValue',
      `${name} must be an integer from ${min} to ${max}.`,
      'InvalidParameterValue',
    );
  return value;
}

function receiptOf(input: Record<string, unknown>): string {
  const receipt = input.ReceiptHandle;
  if (typeof receipt !== 'string' || receipt === '')
    throw new AwsProtocolError(
      'ReceiptHandleIsInvalid',
      'ReceiptHandle is required.',
      'ReceiptHandleIsInvalid',
    );
  return receipt;
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function getQueueUrl(input: Record<string, unknown>, context: AwsProtocolContext): unknown {
  const name = input.QueueName;
  if (typeof name !== 'string' || name === '')
    throw new AwsProtocolError('InvalidParameterValue', 'QueueName is required.', 'InvalidParameterValue');
  if (!context.queues.has(name)) throw queueDoesNotExist(name);
  return { QueueUrl: queueUrlOf(context, name) };
}

function listQueues(input: Record<string, unknown>, context: AwsProtocolContext): unknown {
  const prefix = typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : '';
  return {
    QueueUrls: context.queues
      .names()
      .filter((name) => name.startsWith(prefix))
      .map((name) => queueUrlOf(context, name)),
  };
}

async function receiveMessage(input: Record<string, unknown>, context: AwsProtocolContext): Promise<unknown> {
  const queue = queueOf(input, context);
  const max = integerParameter(input, 'MaxNumberOfMessages', 1, 10) ?? 1;
  const visibility =
    integerParameter(input, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS) ??
    DEFAULT_VISIBILITY_TIMEOUT_SECONDS;
  const waitSeconds = integerParameter(input, 'WaitTimeSeconds', 0, MAX_WAIT_SECONDS) ?? 0;
  const deadline = Date.now() + waitSeconds * 1000;
  const wanted = new Set(
    [input.AttributeNames, input.MessageSystemAttributeNames].flatMap((list) =>
      Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string') : [],
    ),
  );
  for (;;) {
    const messages = context.queues.receive(queue, { max, visibilityTimeoutSeconds: visibility });
    if (messages.length > 0)
      return {
        Messages: messages.map((m) => ({
          MessageId: m.messageId,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: md5(m.body),
          Body: m.body,
          ...(wanted.size > 0 ? { Attributes: messageAttributes(wanted, m.sentAt, m.receiveCount) } : {}),
        })),
      };
    const left = deadline - Date.now();
    if (left <= 0 || context.signal.aborted) return {};
    await context.queues.waitForMessages(queue, left, context.signal);
  }
}

function messageAttributes(
  wanted: ReadonlySet<string>,
  sentAt: string,
  receiveCount: number,
): Record<string, string> {
  const all = wanted.has('All');
  const attributes: Record<string, string> = {};
  if (all || wanted.has('ApproximateReceiveCount')) attributes.ApproximateReceiveCount = String(receiveCount);
  if (all || wanted.has('SentTimestamp')) attributes.SentTimestamp = String(Date.parse(sentAt));
  return attributes;
}

function deleteMessage(input: Record<string, unknown>, context: AwsProtocolContext): unknown {
  const queue = queueOf(input, context);
  try {
    context.queues.delete(queue, receiptOf(input));
  } catch (error) {
    throw translateQueueError(error);
  }
  return {};
}

function deleteMessageBatch(input: Record<string, unknown>, context: AwsProtocolContext): unknown {
  const queue = queueOf(input, context);
  const entries = input.Entries;
  if (!Array.isArray(entries) || entries.length === 0)
    throw new AwsProtocolError(
      'EmptyBatchRequest',
      'Entries is empty.',
      'AWS.SimpleQueueService.EmptyBatchRequest',
    );
  if (entries.length > 10)
    throw new AwsProtocolError(
      'TooManyEntriesInBatchRequest',
      'At most 10 entries.',
      'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    );
  const successful: { Id: string }[] = [];
  const failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
  for (const entry of entries as { Id?: unknown; ReceiptHandle?: unknown }[]) {
    const id = typeof entry?.Id === 'string' ? entry.Id : '';
    try {
      context.queues.delete(queue, typeof entry?.ReceiptHandle === 'string' ? entry.ReceiptHandle : '');
      successful.push({ Id: id });
    } catch (error) {
      failed.push({
        Id: id,
        SenderFault: true,
        Code: 'ReceiptHandleIsInvalid',
        Message: (error as Error).message,
      });
    }
  }
  return { Successful: successful, Failed: failed };
}

function changeMessageVisibility(input: Record<string, unknown>, context: AwsProtocolContext): unknown {
  const queue = queueOf(input, context);
  const seconds = integerParameter(input, 'VisibilityTimeout', 0, MAX_VISIBILITY_SECONDS);
  if (seconds === undefined)
    throw new AwsProtocolError(
      'InvalidParameterValue',
      'VisibilityTimeout is required.',
      'InvalidParameterValue',
    );
  try {
    context.queues.changeVisibility(queue, receiptOf(input), seconds);
  } catch (error) {
    throw translateQueueError(error);
  }
  return {};
}

function sendMessage(input: Record<string, unknown>, context: AwsProtocolContext): unknown {
  const queue = queueOf(input, context);
  const body = input.MessageBody;
  if (typeof body !== 'string' || body === '')
    throw new AwsProtocolError('InvalidParameterValue', 'MessageBody is required.', 'InvalidParameterValue');
  const message = context.queues.send(queue, body);
  return { MessageId: message.messageId, MD5OfMessageBody: md5(body) };
}

function translateQueueError(error: unknown): unknown {
  if (error instanceof InvalidReceiptHandleError)
    return new AwsProtocolError('ReceiptHandleIsInvalid', error.message, 'ReceiptHandleIsInvalid');
  if (error instanceof MessageNotInFlightError)
    return new AwsProtocolError(
      'MessageNotInflight',
      error.message,
      'AWS.SimpleQueueService.MessageNotInflight',
    );
  return error;
}
