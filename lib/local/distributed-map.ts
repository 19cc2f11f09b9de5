// A Distributed Map's ItemReader and ResultWriter on the embedded engine. aws-local-stepfunctions
// runs a Distributed Map as an inline one and ignores both fields (ARCHITECTURE.md), so before the
// definition is built each such Map gets a Task state in front that does what the ItemReader does (read
// a JSON array from the object store) and one behind that does what the ResultWriter does (write the
// results and a manifest as Step Functions lays them out, and give the Map the output it gives). The
// Map keeps its name, ItemSelector and processor; the two states are not transitions on AWS, so the
// engine neither counts nor reports them, but their failures are the Map's.
import { randomUUID } from 'node:crypto';
import type { AslDefinition, AslState } from '../compiler/emit.js';
import { formatReferencePath } from '../compiler/jsonpath.js';
import type { PathSegment } from '../dag/parse.js';
import { parseReference } from '../dag/reference.js';
import { type PayloadSettings, payloadSettings } from '../runtime/payloads.js';
import { LOCAL_OBJECTS_BUCKET, ObjectNotFoundError, outputUri } from '../storage/object-store.js';

type Handler = (input: unknown) => Promise<unknown>;

export interface EmulatedMaps {
  readonly definition: AslDefinition;
  /** Task handlers of the states added, by name. */
  readonly handlers: Readonly<Record<string, Handler>>;
  /** Added state -> the Map state it works for. */
  readonly owners: ReadonlyMap<string, string>;
}

/** Thrown when a definition holds a Distributed Map field the embedded engine does not emulate. */
export class UnsupportedMapFieldError extends Error {
  constructor(state: string, what: string) {
    super(`Map state '${state}': ${what} is not emulated by the embedded engine.`);
    this.name = 'UnsupportedMapFieldError';
  }
}

export class LocalBucketError extends Error {
  constructor(bucket: string) {
    super(
      `The embedded engine serves only the bucket '${LOCAL_OBJECTS_BUCKET}' (its object root), not '${bucket}'.`,
    );
    this.name = 'LocalBucketError';
  }
}

// Where the added states keep what they pass to the Map and take from it; removed again behind it.
const ITEMS_FIELD = 'dagEmulatedItems';
const RESULTS_FIELD = 'dagEmulatedResults';

export function readerStateOf(map: string): string {
  return `${map} (ItemReader)`;
}

export function writerStateOf(map: string): string {
  return `${map} (ResultWriter)`;
}

/** The definition with every ItemReader and ResultWriter done by added states; `asl` is not changed. */
export function emulateDistributedMaps(
  asl: AslDefinition,
  settings: PayloadSettings = payloadSettings(),
): EmulatedMaps {
  const definition = structuredClone(asl);
  const handlers: Record<string, Handler> = {};
  const owners = new Map<string, string>();
  const rewriteScope = (scope: { StartAt: string; States: Record<string, AslState> }) => {
    for (const [name, state] of Object.entries(scope.States)) {
      for (const branch of (state.Branches as (typeof scope)[] | undefined) ?? []) rewriteScope(branch);
      const processor = (state.ItemProcessor ?? state.Iterator) as typeof scope | undefined;
      if (processor) rewriteScope(processor);
      if (state.Type !== 'Map' || (state.ItemReader === undefined && state.ResultWriter === undefined))
        continue;
      if (state.ItemBatcher !== undefined) throw new UnsupportedMapFieldError(name, 'ItemBatcher');
      const added = emulate(scope, name, state, settings);
      for (const [stateName, handler] of Object.entries(added)) {
        handlers[stateName] = handler;
        owners.set(stateName, name);
      }
    }
  };
  rewriteScope(definition);
  return { definition, handlers, owners };
}

function emulate(
  scope: { StartAt: string; States: Record<string, AslState> },
  name: string,
  map: AslState,
  settings: PayloadSettings,
): Record<string, Handler> {
  const added: Record<string, Handler> = {};
  const states: Record<string, AslState> = {};
  // The items go where the Map's ItemsPath can reach them: inside its effective input (after InputPath).
  const itemsParent = map.ItemReader === undefined ? [] : effectiveInputOf(name, map);
  const withoutAddedFields = (state: unknown) => stripAdded(state, itemsParent);
  // A Catch that keeps the state's input would keep the added fields: each one passes through a
  // state that takes them out, on its way to where it went.
  const catches = (map.Catch as { Next: string }[] | undefined) ?? [];
  catches.forEach((entry, i) => {
    const cleanup = `${name} (caught ${i + 1})`;
    states[cleanup] = { Type: 'Task', Resource: 'arn:aws:states:::s3:putObject', Next: entry.Next };
    added[cleanup] = async (input) => withoutAddedFields(input);
    entry.Next = cleanup;
  });
  const caught = map.Catch === undefined ? {} : { Catch: structuredClone(map.Catch) };
  const retried = map.Retry === undefined ? {} : { Retry: structuredClone(map.Retry) };
  if (map.ItemReader !== undefined) {
    const reader = map.ItemReader as {
      Resource?: string;
      ReaderConfig?: { InputType?: string; MaxItems?: number };
      Parameters?: Record<string, unknown>;
    };
    if (reader.Resource !== 'arn:aws:states:::s3:getObject' || reader.ReaderConfig?.InputType !== 'JSON')
      throw new UnsupportedMapFieldError(
        name,
        'an ItemReader other than a JSON file (s3:getObject, InputType JSON)',
      );
    if ('MaxItemsPath' in (reader.ReaderConfig ?? {}))
      throw new UnsupportedMapFieldError(name, 'ReaderConfig.MaxItemsPath (use MaxItems)');
    // `$` would hand every item the whole input, the items read included.
    if (JSON.stringify(map.ItemSelector ?? {}).includes('"$"'))
      throw new UnsupportedMapFieldError(
        name,
        "an ItemSelector that passes the whole input ('$') beside an ItemReader",
      );
    const readerName = readerStateOf(name);
    retargetInto(scope, name, readerName);
    states[readerName] = {
      Type: 'Task',
      Resource: 'arn:aws:states:::s3:getObject',
      // The engine resolves Bucket.$ and Key.$ against the Map's effective input, as Step Functions does.
      ...(map.InputPath === undefined ? {} : { InputPath: map.InputPath }),
      Parameters: reader.Parameters ?? {},
      ResultPath: formatReferencePath([...itemsParent, ITEMS_FIELD]),
      Next: name,
      ...retried,
      ...caught,
    };
    const maxItems = reader.ReaderConfig.MaxItems;
    added[readerName] = async (input) => {
      const { Bucket, Key } = input as { Bucket: string; Key: string };
      let items: unknown;
      try {
        items = JSON.parse((await getObject(Bucket, Key, settings)).toString('utf8'));
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        throw Object.assign(new Error(`The ItemReader's object ${Bucket}/${Key} is not JSON.`), {
          name: 'States.ItemReaderFailed',
        });
      }
      if (!Array.isArray(items))
        throw Object.assign(
          new Error(`The ItemReader's object ${Bucket}/${Key} does not hold a JSON array.`),
          {
            name: 'States.ItemReaderFailed',
          },
        );
      return maxItems === undefined ? items : items.slice(0, maxItems);
    };
    delete map.ItemReader;
    map.ItemsPath = `$.${ITEMS_FIELD}`;
  }
  // Behind the Map: the ResultWriter's files, or just the results, at the Map's own ResultPath, with
  // the fields the added states used taken out of the state again (a Catch of the Map that keeps
  // its input would keep them too: the compiler's Catches replace it with the error).
  if (map.ResultSelector !== undefined && map.ResultWriter !== undefined)
    throw new UnsupportedMapFieldError(name, 'ResultSelector beside a ResultWriter');
  const writer = map.ResultWriter as
    | {
        Resource?: string;
        Parameters?: Record<string, unknown>;
        WriterConfig?: { Transformation?: string; OutputType?: string };
      }
    | undefined;
  if (writer !== undefined) {
    const config = writer.WriterConfig;
    if (writer.Resource !== 'arn:aws:states:::s3:putObject' || writer.Parameters === undefined)
      throw new UnsupportedMapFieldError(name, 'a ResultWriter without an S3 location');
    if (config?.Transformation !== 'COMPACT' || (config.OutputType ?? 'JSON') !== 'JSON')
      throw new UnsupportedMapFieldError(
        name,
        'a ResultWriter other than WriterConfig { Transformation: COMPACT, OutputType: JSON }',
      );
  }
  const writerName = writer === undefined ? `${name} (after ItemReader)` : writerStateOf(name);
  const resultPath = map.ResultPath === undefined ? '$' : (map.ResultPath as string | null);
  states[writerName] = {
    Type: 'Task',
    Resource: 'arn:aws:states:::s3:putObject',
    Parameters: { 'state.$': '$', ...(writer?.Parameters ?? {}) },
    ...(map.OutputPath === undefined ? {} : { OutputPath: map.OutputPath }),
    ...(map.End === true ? { End: true } : { Next: map.Next }),
    ...retried,
    ...caught,
  };
  added[writerName] = async (input) => {
    const { state, Bucket, Prefix } = input as {
      state: Record<string, unknown>;
      Bucket?: string;
      Prefix?: string;
    };
    const results = state[RESULTS_FIELD];
    const rest = withoutAddedFields(state) as Record<string, unknown>;
    const value =
      writer === undefined ? results : await writeResults(name, results, Bucket!, Prefix ?? '', settings);
    return placeResult(rest, resultPath, value);
  };
  map.ResultPath = `$.${RESULTS_FIELD}`;
  delete map.ResultWriter;
  delete map.OutputPath;
  delete map.End;
  map.Next = writerName;
  // Insert the added states next to the Map, the reader before it.
  const readerName = readerStateOf(name);
  const entries = Object.entries(scope.States);
  for (const key of Object.keys(scope.States)) delete scope.States[key];
  for (const [key, value] of entries) {
    if (key === name && states[readerName]) scope.States[readerName] = states[readerName]!;
    scope.States[key] = value;
    if (key === name)
      for (const [other, state] of Object.entries(states))
        if (other !== readerName) scope.States[other] = state;
  }
  return added;
}

/** Where a Map's InputPath points inside its input: the items are put there for its ItemsPath. */
function effectiveInputOf(name: string, map: AslState): PathSegment[] {
  if (map.InputPath === undefined) return [];
  const parsed = typeof map.InputPath === 'string' ? parseReference(map.InputPath) : undefined;
  if (!parsed?.ok)
    throw new UnsupportedMapFieldError(
      name,
      `InputPath ${JSON.stringify(map.InputPath)} beside an ItemReader`,
    );
  return [...parsed.segments];
}

/** `state` without the fields the added states put in it: the results, and the items at `itemsParent`. */
function stripAdded(state: unknown, itemsParent: readonly PathSegment[]): unknown {
  const strip = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (depth === itemsParent.length) {
      if (Array.isArray(value)) return value;
      const { [ITEMS_FIELD]: _items, ...rest } = value as Record<string, unknown>;
      return rest;
    }
    const key = itemsParent[depth]!;
    if (!(key in value)) return value;
    const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<string | number, unknown>;
    copy[key] = strip(copy[key], depth + 1);
    return copy;
  };
  const stripped = strip(state, 0);
  if (stripped === null || typeof stripped !== 'object' || Array.isArray(stripped)) return stripped;
  const { [RESULTS_FIELD]: _results, ...rest } = stripped as Record<string, unknown>;
  return rest;
}

/** Files as a ResultWriter lays them out (COMPACT, JSON) under `<Prefix>/<run>/`; returns the Map's output. */
async function writeResults(
  map: string,
  results: unknown,
  bucket: string,
  prefix: string,
  settings: PayloadSettings,
): Promise<unknown> {
  const run = randomUUID();
  const base = [prefix.replace(/\/+$/, ''), run].filter((p) => p !== '').join('/');
  const body = JSON.stringify(results ?? []);
  const succeeded = `${base}/SUCCEEDED_0.json`;
  await putObject(bucket, succeeded, body, settings);
  const mapRunArn = `arn:aws:states:local:000000000000:mapRun:dag/${encodeURIComponent(map)}:${run}`;
  const manifest = {
    DestinationBucket: bucket,
    MapRunArn: mapRunArn,
    ResultFiles: { FAILED: [], PENDING: [], SUCCEEDED: [{ Key: succeeded, Size: Buffer.byteLength(body) }] },
  };
  const manifestKey = `${base}/manifest.json`;
  await putObject(bucket, manifestKey, JSON.stringify(manifest), settings);
  return { MapRunArn: mapRunArn, ResultWriterDetails: { Bucket: bucket, Key: manifestKey } };
}

function localUri(bucket: string, key: string, settings: PayloadSettings): string {
  if (bucket !== LOCAL_OBJECTS_BUCKET) throw new LocalBucketError(bucket);
  return outputUri(settings.root(), key);
}

async function getObject(bucket: string, key: string, settings: PayloadSettings): Promise<Buffer> {
  const uri = localUri(bucket, key, settings);
  try {
    return await settings.storeFor(uri).get(uri);
  } catch (error) {
    if (error instanceof ObjectNotFoundError)
      throw Object.assign(new Error(`The ItemReader's object ${bucket}/${key} does not exist.`), {
        name: 'States.ItemReaderFailed',
      });
    throw error;
  }
}

async function putObject(
  bucket: string,
  key: string,
  body: string,
  settings: PayloadSettings,
): Promise<void> {
  const uri = localUri(bucket, key, settings);
  await settings.storeFor(uri).put(uri, body, { contentType: 'application/json' });
}

/** `state` with `value` at a ResultPath (`$`, a reference path such as `$.nodes['a-b']`, or null to drop it). */
function placeResult(state: Record<string, unknown>, resultPath: string | null, value: unknown): unknown {
  if (resultPath === null) return state;
  const parsed = parseReference(resultPath);
  if (!parsed.ok) throw new Error(`internal: ResultPath '${resultPath}' is not a reference path`);
  if (parsed.segments.length === 0) return value;
  const out: Record<string, unknown> = { ...state };
  let at: Record<string | number, unknown> = out;
  for (const [i, key] of parsed.segments.entries()) {
    if (i === parsed.segments.length - 1) at[key] = value;
    else {
      const inner = at[key];
      at[key] =
        inner !== null && typeof inner === 'object' ? (Array.isArray(inner) ? [...inner] : { ...inner }) : {};
      at = at[key] as Record<string | number, unknown>;
    }
  }
  return out;
}

/** Every way into `from` in the scope (StartAt, Next, Choice rules, Catch) now enters `to`. */
function retargetInto(
  scope: { StartAt: string; States: Record<string, AslState> },
  from: string,
  to: string,
): void {
  if (scope.StartAt === from) scope.StartAt = to;
  for (const state of Object.values(scope.States)) {
    if (state.Next === from) state.Next = to;
    if (state.Default === from) state.Default = to;
    for (const rule of (state.Choices as { Next?: string }[] | undefined) ?? [])
      if (rule.Next === from) rule.Next = to;
    for (const c of (state.Catch as { Next?: string }[] | undefined) ?? []) if (c.Next === from) c.Next = to;
  }
}
