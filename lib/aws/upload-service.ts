// S3 uploads start tasks (dag-spec §9): an object created under `uploads/<workflow>/` starts a task of
// that workflow with input `{ source: "s3://bucket/key" }`, once per object version. The notification
// reaches the s3-trigger Lambda through an SQS buffer; deduplication is the tracking store's
// Idempotency-Key, derived from the object version, so a redelivered notification returns the task it
// started the first time.
import { createHash } from 'node:crypto';
import { WORKFLOW_NAME_PATTERN } from '../dag/schema.js';

export const UPLOADS_PREFIX = 'uploads/';

export interface UploadedObject {
  readonly bucket: string;
  readonly key: string;
  /** The version id; the sequencer when the bucket is not versioned. */
  readonly version: string;
}

export interface UploadRequest {
  readonly workflow: string;
  readonly input: { readonly source: string };
  readonly idempotencyKey: string;
}

interface S3NotificationRecord {
  readonly eventSource?: string;
  readonly eventName?: string;
  readonly s3?: {
    readonly bucket?: { readonly name?: string };
    readonly object?: { readonly key?: string; readonly versionId?: string; readonly sequencer?: string };
  };
}

export class InvalidUploadNotificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidUploadNotificationError';
  }
}

/** The created objects of an S3 event notification (an SQS message body); `s3:TestEvent` has none. */
export function uploadedObjects(body: string): UploadedObject[] {
  let parsed: { Records?: S3NotificationRecord[]; Event?: string };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    throw new InvalidUploadNotificationError('The message is not JSON.');
  }
  if (parsed.Event === 's3:TestEvent') return [];
  if (!Array.isArray(parsed.Records)) throw new InvalidUploadNotificationError('The message has no Records.');
  return parsed.Records.flatMap((record) => {
    if (record.eventSource !== 'aws:s3' || !record.eventName?.startsWith('ObjectCreated:')) return [];
    const bucket = record.s3?.bucket?.name;
    const rawKey = record.s3?.object?.key;
    const version = record.s3?.object?.versionId ?? record.s3?.object?.sequencer;
    if (!bucket || !rawKey || !version)
      throw new InvalidUploadNotificationError('A record lacks the bucket, key or version of its object.');
    // S3 notifications URL-encode keys, with '+' for spaces.
    const key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    return [{ bucket, key, version }];
  });
}

/** The task an object starts, or undefined when its key is not `uploads/<workflow>/<name>`. */
export function uploadRequest(object: UploadedObject): UploadRequest | undefined {
  if (!object.key.startsWith(UPLOADS_PREFIX)) return undefined;
  const rest = object.key.slice(UPLOADS_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return undefined;
  const workflow = rest.slice(0, slash);
  if (!WORKFLOW_NAME_PATTERN.test(workflow)) return undefined;
  const identity = createHash('sha256')
    .update(`${object.bucket}/${object.key}#${object.version}`)
    .digest('hex');
  return {
    workflow,
    input: { source: `s3://${object.bucket}/${object.key}` },
    idempotencyKey: `upload:${identity}`,
  };
}
