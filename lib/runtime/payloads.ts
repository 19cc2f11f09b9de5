// Payloads over the Step Functions limit (ARCHITECTURE.md): an operator's or script's output that
// serialises over the threshold is written to the object store, and the context holds a small
// reference in its place; before an operator or script runs, the references in its input are
// replaced by their values. The operator runtime does both, so a Lambda and the embedded engine
// behave alike and the tracking records only ever hold the reference.
import path from 'node:path';
import { mapConcurrent } from '../media/workspace.js';
import {
  ObjectNotFoundError,
  type ObjectStore,
  objectRoot,
  objectStoreFor,
  outputUri,
  parseObjectUri,
} from '../storage/object-store.js';
import {
  isPayloadReference,
  PAYLOAD_KEY,
  PAYLOAD_THRESHOLD_BYTES,
  type PayloadReference,
} from './payload-reference.js';

export {
  explainPathIntoPayload,
  isPayloadReference,
  PAYLOAD_KEY,
  PAYLOAD_THRESHOLD_BYTES,
  type PayloadReference,
} from './payload-reference.js';

/** Whose output a payload is; names its object. */
export interface PayloadLocation {
  readonly taskId: string;
  readonly node: string;
  /** Set for one item of a parallel node. */
  readonly order?: number;
  readonly attempt: number;
}

export interface PayloadSettings {
  readonly thresholdBytes: number;
  /** The object root, read on every call as `objectRoot()` is (tests point it elsewhere per run). */
  readonly root: () => string;
  readonly storeFor: (uri: string) => ObjectStore;
}

export function payloadSettings(overrides: Partial<PayloadSettings> = {}): PayloadSettings {
  return {
    thresholdBytes: overrides.thresholdBytes ?? PAYLOAD_THRESHOLD_BYTES,
    root: overrides.root ?? (() => objectRoot()),
    storeFor: overrides.storeFor ?? objectStoreFor,
  };
}

// Reads in flight while resolving one input: a merge over a thousand offloaded parts should not open
// a thousand files or S3 connections at once.
const RESOLVE_CONCURRENCY = 8;

export class PayloadNotFoundError extends Error {
  constructor(
    readonly uri: string,
    readonly node: string,
    options?: ErrorOptions,
  ) {
    super(
      `The input of node '${node}' references the payload ${uri}, which does not exist (deleted, or written under another object root).`,
      options,
    );
    this.name = 'PayloadNotFoundError';
  }
}

export class PayloadOutsideRootError extends Error {
  constructor(
    readonly uri: string,
    readonly node: string,
    readonly root: string,
  ) {
    super(
      `The input of node '${node}' references the payload ${uri}, which is not under the object root ${root}: payloads are read only from there.`,
    );
    this.name = 'PayloadOutsideRootError';
  }
}

export class PayloadNotJsonError extends Error {
  constructor(
    readonly uri: string,
    readonly node: string,
    options?: ErrorOptions,
  ) {
    super(`The payload ${uri} in the input of node '${node}' is not JSON.`, options);
    this.name = 'PayloadNotJsonError';
  }
}

/**
 * `<root>/<taskId>/<node>[/<order>]/output-<attempt>.json`: beside the node's media outputs, one
 * object per attempt, so a retry never overwrites what an earlier attempt's reader may be reading.
 */
export function payloadUri(root: string, at: PayloadLocation): string {
  const order = at.order === undefined ? [] : [String(at.order)];
  return outputUri(root, at.taskId, at.node, ...order, `output-${at.attempt}.json`);
}

/** The distinct URIs referenced anywhere in `value`, in the order first met. */
export function payloadReferencesIn(value: unknown): string[] {
  const uris = new Set<string>();
  const visit = (v: unknown): void => {
    if (isPayloadReference(v)) uris.add(v.$payload);
    else if (Array.isArray(v)) for (const element of v) visit(element);
    else if (v !== null && typeof v === 'object') for (const field of Object.values(v)) visit(field);
  };
  visit(value);
  return [...uris];
}

/** `value` with every reference replaced by its value from `values` (which must hold every URI). */
export function withPayloadValues(value: unknown, values: ReadonlyMap<string, unknown>): unknown {
  if (isPayloadReference(value)) {
    if (!values.has(value.$payload)) throw new Error(`internal: no value for payload ${value.$payload}`);
    return values.get(value.$payload);
  }
  if (Array.isArray(value)) return value.map((element) => withPayloadValues(element, values));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([key, field]) => [key, withPayloadValues(field, values)]),
    );
  return value;
}

/**
 * Whether `uri` names an object under `root`. References are data (an operator's output, a callback,
 * even the task input can carry one), so without this check a task could read any file of the host
 * or any object the function may read into an operator's input.
 */
export function isUnderObjectRoot(uri: string, root: string): boolean {
  let target: ReturnType<typeof parseObjectUri>;
  let base: ReturnType<typeof parseObjectUri>;
  try {
    target = parseObjectUri(uri);
    base = parseObjectUri(root);
  } catch {
    return false;
  }
  if (target.scheme === 's3' && base.scheme === 's3') {
    // S3 keeps `..` in keys literally, but a client or proxy that normalises the request path would not.
    if (target.key.split('/').some((part) => part === '.' || part === '..')) return false;
    const prefix = base.key.replace(/\/+$/, '');
    return target.bucket === base.bucket && (prefix === '' || target.key.startsWith(`${prefix}/`));
  }
  if (target.scheme === 'file' && base.scheme === 'file') {
    const relative = path.relative(base.path, target.path);
    return relative !== '' && !path.isAbsolute(relative) && relative.split(path.sep)[0] !== '..';
  }
  return false;
}

/**
 * The output itself when its JSON fits the threshold; otherwise it is written to the object store
 * and its reference is returned.
 */
export async function offloadOutput(
  output: unknown,
  at: PayloadLocation,
  settings: PayloadSettings,
): Promise<unknown> {
  const text = JSON.stringify(output);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most outputs are decided without counting bytes.
  if (text === undefined || text.length * 3 <= settings.thresholdBytes) return output;
  const bytes = Buffer.byteLength(text);
  if (bytes <= settings.thresholdBytes) return output;
  const uri = payloadUri(settings.root(), at);
  await settings.storeFor(uri).put(uri, text, { contentType: 'application/json' });
  const reference: PayloadReference = { [PAYLOAD_KEY]: uri, bytes };
  return reference;
}

/**
 * `value` with every reference in it (at any depth, inside arrays too) replaced by the JSON value it
 * names; `value` itself when it holds none. `node` is the node about to run, for the errors (a
 * caller resolving a task's output names that instead). Resolved values are not searched for
 * references in turn.
 */
export async function resolvePayloads(
  value: unknown,
  node: string,
  settings: PayloadSettings = payloadSettings(),
): Promise<unknown> {
  const uris = payloadReferencesIn(value);
  if (uris.length === 0) return value;
  const root = settings.root();
  for (const uri of uris)
    if (!isUnderObjectRoot(uri, root)) throw new PayloadOutsideRootError(uri, node, root);
  const loaded = await mapConcurrent(uris, RESOLVE_CONCURRENCY, (uri) => readPayload(uri, node, settings));
  return withPayloadValues(value, new Map(uris.map((uri, i) => [uri, loaded[i]])));
}

async function readPayload(uri: string, node: string, settings: PayloadSettings): Promise<unknown> {
  let body: Buffer;
  try {
    body = await settings.storeFor(uri).get(uri);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new PayloadNotFoundError(uri, node, { cause: error });
    throw error;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new PayloadNotJsonError(uri, node, { cause: error });
  }
}
