// What a reference to an offloaded payload looks like (payloads.ts does the offloading and reading):
// the shape, the threshold, and what a failed path into one means. No storage here, so a function that
// only recognises references (the status Lambda) does not bundle an object store client.
import { parseReference } from '../dag/reference.js';
import type { TrackingStore } from '../tracking/store.js';

/**
 * Outputs whose JSON is larger than this many bytes (UTF-8) are offloaded. Below Step Functions'
 * 256 KiB per state so that an inline output leaves room for the rest of the context, and below
 * DynamoDB's 400 KB item so that the event or segment record can hold it.
 */
export const PAYLOAD_THRESHOLD_BYTES = 200 * 1024;

/** The key that marks a reference: `$` keeps it apart from the fields operators return. */
export const PAYLOAD_KEY = '$payload';

/** What the context holds instead of an offloaded value: `{ "$payload": "<uri>", "bytes": N }`. */
export interface PayloadReference {
  readonly $payload: string;
  /** The stored JSON's size. The engine always writes it; a reference written by a worker may omit it. */
  readonly bytes?: number;
}

/**
 * A reference is an object with a string `$payload` and nothing but an optional integer `bytes`, so
 * an operator's own output that merely has a `$payload` field among others is left alone.
 */
export function isPayloadReference(value: unknown): value is PayloadReference {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  const uri = record[PAYLOAD_KEY];
  if (typeof uri !== 'string' || uri === '') return false;
  for (const key of Object.keys(record)) {
    if (key === PAYLOAD_KEY) continue;
    if (key !== 'bytes') return false;
    const bytes = record.bytes;
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0) return false;
  }
  return true;
}

/** A quoted `$.nodes...` path in a Step Functions error's cause (both engines quote it). */
const NODES_PATH_IN_CAUSE = /'(\$\.nodes\.[^'\s]+)'/;

/** The node whose output a failed `States.Runtime` path reads inside (`big` of `$.nodes.big.rows`). */
export function nodeOfFailedPath(error: {
  readonly error: string;
  readonly cause: string;
}): string | undefined {
  const match = error.error === 'States.Runtime' ? NODES_PATH_IN_CAUSE.exec(error.cause) : null;
  const parsed = match ? parseReference(match[1]!) : undefined;
  const node = parsed?.ok && parsed.segments.length > 2 ? parsed.segments[1] : undefined;
  return typeof node === 'string' ? node : undefined;
}

/**
 * A `States.Runtime` error on a path into an offloaded output (`$.nodes.big.rows` where `big` is a
 * reference) with a cause that says why the path found nothing and what to do; any other error as it
 * is. `outputOf` gives a node's recorded output.
 */
export function explainPathIntoPayload(
  error: { readonly error: string; readonly cause: string },
  outputOf: (node: string) => unknown,
): { error: string; cause: string } {
  const node = nodeOfFailedPath(error);
  if (node === undefined || !isPayloadReference(outputOf(node))) return { ...error };
  return {
    error: error.error,
    cause: `${error.cause}. The output of '${node}' is over ${PAYLOAD_THRESHOLD_BYTES / 1024} KiB, so it is in the object store and the context holds a reference: a path into it finds nothing. Reference the whole output ($.nodes.${node}); for a parallel node's items, set \`mode: distributed\`.`,
  };
}

/** `explainPathIntoPayload` with the output read from the task's records, only when the error may need it. */
export async function explainFailure(
  store: Pick<TrackingStore, 'getEvents'>,
  taskId: string,
  error: { readonly error: string; readonly cause: string },
): Promise<{ error: string; cause: string }> {
  const node = nodeOfFailedPath(error);
  if (node === undefined) return { ...error };
  const output = (await store.getEvents(taskId)).find((e) => e.node === node)?.output;
  return explainPathIntoPayload(error, () => output);
}
