// A Distributed Map's items and results in the object store (dag-spec §6, docs/planning.md): a
// parallel node's items and its results may pass Step Functions' 256 KiB per state, so around its
// Distributed Map the plan puts two Tasks of the map-store function. Before: `stage` resolves the
// node's `items` path (through offloaded outputs) and writes the array as one JSON object, which the
// Map's ItemReader reads. After: `collect` reads what the Map's ResultWriter wrote, puts the items'
// outputs back in item order, applies the node's tolerated failures, and offloads the array when it
// is over the payload threshold. The embedded engine and the Lambda run this same code.
import { z } from 'zod';
import { parseReference } from '../dag/reference.js';
import { bucketKeyOf, ObjectNotFoundError, outputUri, uriOfBucketKey } from '../storage/object-store.js';
import { OperatorFailedError } from './operator-runtime.js';
import {
  isUnderObjectRoot,
  offloadOutput,
  type PayloadSettings,
  payloadSettings,
  resolvePayloads,
} from './payloads.js';
import { checkTolerance, isFailedItem } from './tolerance.js';

const taskSchema = z.object({ id: z.string().min(1), workflow: z.string().min(1) });

const stageSchema = z.object({
  action: z.literal('stage'),
  task: taskSchema,
  node: z.string().min(1),
  /** The parallel node's `items`: a reference under `$.nodes`. */
  items: z.string().startsWith('$.nodes.'),
  nodes: z.record(z.string(), z.unknown()),
});

const collectSchema = z.object({
  action: z.literal('collect'),
  task: taskSchema,
  node: z.string().min(1),
  toleratedFailurePercentage: z.number().min(0).max(100),
  /** The Map's `ResultWriterDetails`: where its manifest is. */
  written: z.object({ Bucket: z.string().min(1), Key: z.string().min(1) }),
  /** How many items the Map ran: the results must be exactly that many. */
  count: z.number().int().min(0).optional(),
});

const inputSchema = z.discriminatedUnion('action', [stageSchema, collectSchema]);

export type StageItemsInput = z.infer<typeof stageSchema>;
export type CollectResultsInput = z.infer<typeof collectSchema>;
export type MapStoreInput = z.infer<typeof inputSchema>;

/** What `stage` returns: where the ItemReader finds the items. */
export interface StagedItems {
  readonly bucket: string;
  readonly key: string;
  readonly count: number;
}

export class MapStoreInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MapStoreInputError';
  }
}

/** Stages a Distributed Map's items, or collects its results: what the map-store Task passes. */
export async function runMapStore(
  input: unknown,
  settings: PayloadSettings = payloadSettings(),
): Promise<unknown> {
  const parsed = inputSchema.safeParse(input);
  if (!parsed.success)
    throw new MapStoreInputError(
      `The map-store function got an input it cannot use: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}.`,
    );
  return parsed.data.action === 'stage'
    ? stageItems(parsed.data, settings)
    : collectResults(parsed.data, settings);
}

/** The node's items as one JSON array object under the object root; returns its bucket and key. */
export async function stageItems(input: StageItemsInput, settings: PayloadSettings): Promise<StagedItems> {
  const path = parseReference(input.items);
  if (!path.ok) throw new MapStoreInputError(`'${input.items}' is not a reference: ${path.message}.`);
  const [, producer, ...rest] = path.segments;
  if (typeof producer !== 'string') throw new MapStoreInputError(`'${input.items}' names no node.`);
  // Offloaded outputs are references at any depth (a whole output, or one item of a parallel node's).
  let value = await resolvePayloads(input.nodes[producer], input.node, settings);
  for (const segment of rest)
    value = (value as Record<string | number, unknown> | null | undefined)?.[segment];
  if (!Array.isArray(value))
    throw new OperatorFailedError(
      'ItemsNotArray',
      `The items of parallel node '${input.node}' (${input.items}) are ${value === undefined ? 'missing' : `not an array but ${value === null ? 'null' : typeof value}`}: '${producer}' must output an array there.`,
    );
  const root = settings.root();
  const uri = outputUri(root, input.task.id, input.node, 'items.json');
  await settings.storeFor(uri).put(uri, JSON.stringify(value), { contentType: 'application/json' });
  return { ...bucketKeyOf(uri, root), count: value.length };
}

// What a ResultWriter writes (WriterConfig COMPACT, OutputType JSON): manifest.json naming result
// files; SUCCEEDED files hold the child executions' outputs, FAILED files their full records.
const manifestSchema = z.object({
  ResultFiles: z.object({
    SUCCEEDED: z.array(z.object({ Key: z.string() })).default([]),
    FAILED: z.array(z.object({ Key: z.string() })).default([]),
    PENDING: z.array(z.object({ Key: z.string() })).default([]),
  }),
});

/** An item's child execution output: the plan nests it as `{ order, output }` (emit.ts). */
const itemResultSchema = z.object({ order: z.number().int().min(0), output: z.unknown() });

/** A child execution's full record, as FAILED files (and NONE-transformation files) hold it. */
const executionRecordSchema = z.object({
  Input: z.string(),
  Output: z.string().optional(),
  Status: z.string().optional(),
  Error: z.string().optional(),
  Cause: z.string().optional(),
});

/** The outputs of a Distributed Map's items in item order, as an inline Map would have given them. */
export async function collectResults(
  input: CollectResultsInput,
  settings: PayloadSettings,
): Promise<unknown> {
  const root = settings.root();
  const bucket = input.written.Bucket;
  const manifestUri = uriOfBucketKey(bucket, input.written.Key, root);
  const manifest = parseResults(
    manifestSchema,
    await readJson(manifestUri, input.node, root, settings),
    `The manifest ${manifestUri} of '${input.node}'`,
  );
  const files = manifest.ResultFiles;
  if (files.PENDING.length > 0)
    throw new OperatorFailedError(
      'MapResultsIncomplete',
      `The Distributed Map of '${input.node}' left ${files.PENDING.length} result file(s) pending (${manifestUri}).`,
    );
  const byOrder = new Map<number, unknown>();
  const place = (order: number, output: unknown) => {
    if (byOrder.has(order))
      throw new OperatorFailedError(
        'MapResultsIncomplete',
        `The results of '${input.node}' hold item ${order} twice (${manifestUri}).`,
      );
    byOrder.set(order, output);
  };
  for (const file of files.SUCCEEDED) {
    const uri = uriOfBucketKey(bucket, file.Key, root);
    const records = parseResults(
      z.array(z.unknown()),
      await readJson(uri, input.node, root, settings),
      `The results file ${uri} of '${input.node}'`,
    );
    for (const record of records) place(...itemResult(record, input.node, manifestUri));
  }
  for (const file of files.FAILED) {
    const uri = uriOfBucketKey(bucket, file.Key, root);
    const records = parseResults(
      z.array(executionRecordSchema),
      await readJson(uri, input.node, root, settings),
      `The failed-results file ${uri} of '${input.node}'`,
    );
    for (const record of records) {
      const [order] = itemResult(record.Input, input.node, manifestUri);
      place(order, {
        dagFailed: true,
        error: record.Error ?? 'States.TaskFailed',
        cause: record.Cause ?? '',
      });
    }
  }
  if (input.count !== undefined && byOrder.size !== input.count)
    throw new OperatorFailedError(
      'MapResultsIncomplete',
      `The Map of '${input.node}' ran ${input.count} items, but its results hold ${byOrder.size} (${manifestUri}).`,
    );
  const items = Array.from({ length: byOrder.size }, (_, order) => {
    if (!byOrder.has(order))
      throw new OperatorFailedError(
        'MapResultsIncomplete',
        `The results of '${input.node}' have no item ${order} of ${byOrder.size} (${manifestUri}).`,
      );
    return byOrder.get(order);
  });
  if (input.toleratedFailurePercentage === 0) {
    // As an inline Map fails: with the first failed item's own error.
    const failed = items.findIndex(isFailedItem);
    if (failed >= 0) {
      const marker = items[failed] as { error: string; cause: string };
      throw new OperatorFailedError(marker.error, `Item ${failed} of '${input.node}': ${marker.cause}`);
    }
  }
  const outputs = checkTolerance({
    node: input.node,
    toleratedFailurePercentage: input.toleratedFailurePercentage,
    items,
  });
  return offloadOutput(outputs, { taskId: input.task.id, node: input.node, attempt: 1 }, settings);
}

/**
 * One SUCCEEDED record: the item's `{ order, output }` as COMPACT writes it, also taken as JSON text
 * or inside a full execution record (the NONE transformation), so a changed WriterConfig still reads.
 */
function itemResult(record: unknown, node: string, manifestUri: string): [number, unknown] {
  const full = executionRecordSchema.safeParse(record);
  let value: unknown = full.success && full.data.Output !== undefined ? full.data.Output : record;
  try {
    if (typeof value === 'string') value = JSON.parse(value);
  } catch {
    // Not JSON text: the schema below says what is wrong with it.
  }
  const result = itemResultSchema.safeParse(value);
  if (!result.success)
    throw new OperatorFailedError(
      'MapResultsIncomplete',
      `A result of '${node}' is not an item's { order, output } (${manifestUri}): ${JSON.stringify(value).slice(0, 200)}`,
    );
  return [result.data.order, result.data.output];
}

function parseResults<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new OperatorFailedError(
      'MapResultsIncomplete',
      `${what} is not what a ResultWriter writes: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}.`,
    );
  return parsed.data;
}

async function readJson(
  uri: string,
  node: string,
  root: string,
  settings: PayloadSettings,
): Promise<unknown> {
  if (!isUnderObjectRoot(uri, root))
    throw new OperatorFailedError(
      'MapResultsOutsideRoot',
      `The results of '${node}' are at ${uri}, outside the object root ${root}: results are read only from there.`,
    );
  let body: Buffer;
  try {
    body = await settings.storeFor(uri).get(uri);
  } catch (error) {
    if (error instanceof ObjectNotFoundError)
      throw new OperatorFailedError('MapResultsIncomplete', `The results of '${node}' lack ${uri}.`);
    throw error;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new OperatorFailedError(
      'MapResultsIncomplete',
      `The results file ${uri} of '${node}' is not JSON.`,
    );
  }
}
