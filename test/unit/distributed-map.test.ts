// Distributed Maps on the embedded engine (lib/local/distributed-map.ts): aws-local-stepfunctions
// ignores ItemReader and ResultWriter, so added states read the items from and write the results to
// the object root (a temp folder, as file://). Each case runs a hand-made definition on the real
// library, as lib/local/engine.ts builds it.
import '../../lib/local/polyfill.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AslDefinition, AslState } from '../../lib/compiler/emit.js';
import { emulateDistributedMaps, UnsupportedMapFieldError } from '../../lib/local/distributed-map.js';
import { type PayloadSettings, payloadSettings } from '../../lib/runtime/payloads.js';
import { FileObjectStore, outputUri } from '../../lib/storage/object-store.js';

type Handler = (input: unknown) => Promise<unknown>;

const store = new FileObjectStore();
let dir: string;
let root: string;
let settings: PayloadSettings;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dag-distributed-map-'));
  root = pathToFileURL(dir).href;
  settings = payloadSettings({ root: () => root });
  await store.put(outputUri(root, 'in/items.json'), JSON.stringify([10, 20, 30]));
  await store.put(outputUri(root, 'in/object.json'), JSON.stringify({ items: [10, 20, 30] }));
  await store.put(outputUri(root, 'in/broken.json'), '[10, 20,');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** The Distributed Map the compiler emits for a store-backed parallel node, cut to its S3 fields. */
function eachMap(overrides: AslState = {}): AslState {
  return {
    Type: 'Map',
    ItemReader: {
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { 'Bucket.$': '$.where.bucket', 'Key.$': '$.where.key' },
    },
    ItemSelector: { 'order.$': '$$.Map.Item.Index', 'value.$': '$$.Map.Item.Value' },
    ItemProcessor: {
      ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
      StartAt: 'Item',
      States: {
        Item: { Type: 'Pass', Parameters: { 'order.$': '$.order', 'output.$': '$.value' }, End: true },
      },
    },
    ResultWriter: {
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: 'dag-objects', Prefix: 'results/each' },
      WriterConfig: { Transformation: 'COMPACT', OutputType: 'JSON' },
    },
    ResultPath: '$.out',
    End: true,
    ...overrides,
  };
}

function stageThenEach(
  map: AslState = eachMap(),
  key = 'in/items.json',
  bucket = 'dag-objects',
): AslDefinition {
  return {
    StartAt: 'Stage',
    States: {
      Stage: { Type: 'Pass', Parameters: { where: { bucket, key }, keep: 1 }, Next: 'Each' },
      Each: map,
    },
  };
}

/** Emulates, builds and runs `asl` as the embedded engine does; `extra` binds Task states of the test. */
async function run(asl: AslDefinition, input: unknown = {}, extra: Record<string, Handler> = {}) {
  const emulated = emulateDistributedMaps(asl, settings);
  const machine = new StateMachine(emulated.definition as never, {
    validationOptions: { checkArn: true, checkPaths: true },
  });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: { ...emulated.handlers, ...extra } as never },
  });
  return { emulated, output: (await execution.result) as Record<string, unknown> };
}

async function readJsonObject(key: string): Promise<unknown> {
  return JSON.parse(await readFile(path.join(dir, key), 'utf8'));
}

class BoomError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Boom';
  }
}

describe('emulateDistributedMaps', () => {
  it('reads the items, runs the processor and writes the results and a manifest as a ResultWriter does', async () => {
    const asl = stageThenEach();
    const before = structuredClone(asl);
    const { emulated, output } = await run(asl);

    expect(output).toEqual({
      where: { bucket: 'dag-objects', key: 'in/items.json' },
      keep: 1,
      out: {
        MapRunArn: expect.stringMatching(/^arn:aws:states:/),
        ResultWriterDetails: {
          Bucket: 'dag-objects',
          Key: expect.stringMatching(new RegExp(`^results/each/${UUID}/manifest\\.json$`)),
        },
      },
    });
    expect(JSON.stringify(output)).not.toMatch(/dagEmulated/);

    const details = (output.out as { ResultWriterDetails: { Key: string }; MapRunArn: string })
      .ResultWriterDetails;
    const manifest = (await readJsonObject(details.Key)) as {
      DestinationBucket: string;
      MapRunArn: string;
      ResultFiles: Record<string, { Key: string; Size: number }[]>;
    };
    expect(manifest.DestinationBucket).toBe('dag-objects');
    expect(manifest.MapRunArn).toBe((output.out as { MapRunArn: string }).MapRunArn);
    expect(manifest.ResultFiles.FAILED).toEqual([]);
    expect(manifest.ResultFiles.PENDING).toEqual([]);
    expect(manifest.ResultFiles.SUCCEEDED).toHaveLength(1);
    const [succeeded] = manifest.ResultFiles.SUCCEEDED!;
    expect(path.posix.dirname(succeeded!.Key)).toBe(path.posix.dirname(details.Key));
    const body = await readFile(path.join(dir, succeeded!.Key), 'utf8');
    expect(succeeded!.Size).toBe(Buffer.byteLength(body));
    expect(JSON.parse(body)).toEqual([
      { order: 0, output: 10 },
      { order: 1, output: 20 },
      { order: 2, output: 30 },
    ]);

    expect(Object.keys(emulated.handlers).sort()).toEqual(['Each (ItemReader)', 'Each (ResultWriter)']);
    expect([...emulated.owners]).toEqual(
      expect.arrayContaining([
        ['Each (ItemReader)', 'Each'],
        ['Each (ResultWriter)', 'Each'],
      ]),
    );
    expect(emulated.owners.size).toBe(2);
    expect(emulated.definition.States.Stage?.Next).toBe('Each (ItemReader)');
    expect(Object.keys(emulated.definition.States)).toEqual([
      'Stage',
      'Each (ItemReader)',
      'Each',
      'Each (ResultWriter)',
    ]);
    expect(asl).toEqual(before);
  });

  it('writes a fresh run folder each time the Map runs', async () => {
    const asl = stageThenEach(
      eachMap({
        ResultWriter: {
          ...(eachMap().ResultWriter as object),
          Parameters: { Bucket: 'dag-objects', Prefix: 'results/twice' },
        },
      }),
    );
    const first = await run(asl);
    const second = await run(asl);
    const keyOf = (o: Record<string, unknown>) =>
      (o.out as { ResultWriterDetails: { Key: string } }).ResultWriterDetails.Key;
    expect(keyOf(first.output)).not.toBe(keyOf(second.output));
    expect(await readdir(path.join(dir, 'results', 'twice'))).toHaveLength(2);
  });

  it('retargets StartAt, Choice rules and Catches that enter the Map to its reader', async () => {
    const asl: AslDefinition = {
      StartAt: 'Each',
      States: {
        Each: eachMap({ End: undefined, Next: 'Risky', ResultWriter: undefined }),
        Risky: {
          Type: 'Task',
          Resource: 'arn:aws:lambda:us-east-1:000000000000:function:risky',
          Catch: [{ ErrorEquals: ['Boom'], ResultPath: '$.caught', Next: 'Each' }],
          Next: 'Route',
        },
        Route: {
          Type: 'Choice',
          Choices: [{ Variable: '$.lap', NumericEquals: 2, Next: 'Each' }],
          Default: 'Done',
        },
        Done: { Type: 'Succeed' },
      },
    };
    // Risky fails once (its Catch re-enters the Map), then sends the Choice back to it once.
    let calls = 0;
    const risky: Handler = async (input) => {
      calls += 1;
      if (calls === 1) throw new BoomError('first lap');
      return { ...(input as object), lap: calls };
    };
    const { emulated, output } = await run(
      asl,
      { where: { bucket: 'dag-objects', key: 'in/items.json' } },
      { Risky: risky },
    );

    const states = emulated.definition.States;
    expect(emulated.definition.StartAt).toBe('Each (ItemReader)');
    expect(states.Route).toMatchObject({ Choices: [{ Next: 'Each (ItemReader)' }], Default: 'Done' });
    expect(states.Risky).toMatchObject({ Catch: [{ Next: 'Each (ItemReader)' }], Next: 'Route' });
    expect(states['Each (ItemReader)']?.Next).toBe('Each');
    expect(calls).toBe(3);
    expect(output.lap).toBe(3);
    expect(output.caught).toMatchObject({ Error: 'Boom', Cause: 'first lap' });
    expect(output.out).toEqual([
      { order: 0, output: 10 },
      { order: 1, output: 20 },
      { order: 2, output: 30 },
    ]);
    expect(JSON.stringify(output)).not.toMatch(/dagEmulated/);
  });

  it("goes to the Map's Catch target when an item fails, without the added fields", async () => {
    const map = eachMap({
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        StartAt: 'Work',
        States: {
          Work: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:000000000000:function:work',
            End: true,
          },
        },
      },
      Catch: [{ ErrorEquals: ['Boom'], ResultPath: '$.caught', Next: 'Recover' }],
      End: undefined,
      Next: 'After',
    });
    const asl = stageThenEach(map);
    asl.States.After = { Type: 'Pass', Result: 'not reached', ResultPath: '$.after', End: true };
    asl.States.Recover = { Type: 'Pass', Result: 'recovered', ResultPath: '$.recovered', End: true };
    const work: Handler = async (input) => {
      const { order, value } = input as { order: number; value: number };
      if (value === 20) throw new BoomError(`item ${order} exploded`);
      return { order, output: value };
    };
    const { emulated, output } = await run(asl, {}, { Work: work });

    expect(output).toEqual({
      where: { bucket: 'dag-objects', key: 'in/items.json' },
      keep: 1,
      caught: { Error: 'Boom', Cause: 'item 1 exploded' },
      recovered: 'recovered',
    });
    expect(emulated.owners.get('Each (caught 1)')).toBe('Each');
    expect(emulated.definition.States.Each).toMatchObject({ Catch: [{ Next: 'Each (caught 1)' }] });
    expect(emulated.definition.States['Each (caught 1)']?.Next).toBe('Recover');
  });

  it('fails the execution with States.ItemReaderFailed when the items object is missing', async () => {
    const running = run(stageThenEach(eachMap(), 'in/missing.json'));
    await expect(running).rejects.toThrow(ExecutionError);
    await expect(running).rejects.toMatchObject({
      cause: {
        name: 'States.ItemReaderFailed',
        message: "The ItemReader's object dag-objects/in/missing.json does not exist.",
      },
    });
  });

  it('fails with States.ItemReaderFailed when the items object holds no JSON array', async () => {
    const running = run(stageThenEach(eachMap(), 'in/object.json'));
    await expect(running).rejects.toMatchObject({
      cause: {
        name: 'States.ItemReaderFailed',
        message: expect.stringContaining('does not hold a JSON array'),
      },
    });
  });

  it('fails with States.ItemReaderFailed when the items object is not JSON', async () => {
    const running = run(stageThenEach(eachMap(), 'in/broken.json'));
    await expect(running).rejects.toMatchObject({ cause: { name: 'States.ItemReaderFailed' } });
  });

  it('serves only the local bucket, naming the one asked for', async () => {
    const reading = run(stageThenEach(eachMap(), 'in/items.json', 'media-in'));
    await expect(reading).rejects.toThrow(ExecutionError);
    await expect(reading).rejects.toThrow(/'media-in'/);

    const writer = {
      ...(eachMap().ResultWriter as object),
      Parameters: { Bucket: 'media-out', Prefix: 'r' },
    };
    const writing = run(stageThenEach(eachMap({ ResultWriter: writer })));
    await expect(writing).rejects.toThrow(/not 'media-out'/);
  });

  it.each([
    ['ItemBatcher', { ItemBatcher: { MaxItemsPerBatch: 10 } }, 'ItemBatcher'],
    [
      'a NONE transformation',
      {
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: 'dag-objects', Prefix: 'results/each' },
          WriterConfig: { Transformation: 'NONE', OutputType: 'JSON' },
        },
      },
      'WriterConfig',
    ],
    [
      'a CSV ItemReader',
      {
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'CSV', CSVHeaderLocation: 'FIRST_ROW' },
          Parameters: { Bucket: 'dag-objects', Key: 'in/items.csv' },
        },
      },
      'JSON file',
    ],
    ['a ResultSelector beside a ResultWriter', { ResultSelector: { 'n.$': '$' } }, 'ResultSelector'],
  ])('throws UnsupportedMapFieldError for %s', (_, overrides, what) => {
    const asl = stageThenEach(eachMap(overrides));
    expect(() => emulateDistributedMaps(asl, settings)).toThrow(UnsupportedMapFieldError);
    expect(() => emulateDistributedMaps(asl, settings)).toThrow(`Map state 'Each':`);
    expect(() => emulateDistributedMaps(asl, settings)).toThrow(what);
  });

  it('reads only ReaderConfig.MaxItems items', async () => {
    const reader = { ...(eachMap().ItemReader as object), ReaderConfig: { InputType: 'JSON', MaxItems: 2 } };
    const { output } = await run(stageThenEach(eachMap({ ItemReader: reader, ResultWriter: undefined })));
    expect(output.out).toEqual([
      { order: 0, output: 10 },
      { order: 1, output: 20 },
    ]);
  });

  it('gives the results array at ResultPath for a Map with an ItemReader and no ResultWriter', async () => {
    const { emulated, output } = await run(stageThenEach(eachMap({ ResultWriter: undefined })));
    expect(output).toEqual({
      where: { bucket: 'dag-objects', key: 'in/items.json' },
      keep: 1,
      out: [
        { order: 0, output: 10 },
        { order: 1, output: 20 },
        { order: 2, output: 30 },
      ],
    });
    expect(Object.keys(emulated.handlers).sort()).toEqual(['Each (ItemReader)', 'Each (after ItemReader)']);
  });

  it('writes the results of a Map with a ResultWriter and ItemsPath (no ItemReader)', async () => {
    const map = eachMap({ ItemReader: undefined, ItemsPath: '$.values' });
    const { emulated, output } = await run(
      { StartAt: 'Each', States: { Each: map } },
      { values: ['a', 'b'] },
    );
    expect(emulated.definition.StartAt).toBe('Each');
    expect(emulated.handlers['Each (ItemReader)']).toBeUndefined();
    const key = (output.out as { ResultWriterDetails: { Key: string } }).ResultWriterDetails.Key;
    const manifest = (await readJsonObject(key)) as { ResultFiles: { SUCCEEDED: { Key: string }[] } };
    expect(await readJsonObject(manifest.ResultFiles.SUCCEEDED[0]!.Key)).toEqual([
      { order: 0, output: 'a' },
      { order: 1, output: 'b' },
    ]);
    expect(output.values).toEqual(['a', 'b']);
  });

  it("places the value at a bracketed ResultPath, keeping the object's other fields", async () => {
    const map = eachMap({ ResultWriter: undefined, ResultPath: "$.nodes['a-b']" });
    const { output } = await run(
      { StartAt: 'Each', States: { Each: map } },
      { where: { bucket: 'dag-objects', key: 'in/items.json' }, nodes: { split: { n: 3 } } },
    );
    expect(output.nodes).toEqual({
      split: { n: 3 },
      'a-b': [
        { order: 0, output: 10 },
        { order: 1, output: 20 },
        { order: 2, output: 30 },
      ],
    });
  });

  it('replaces the state without a ResultPath and keeps it unchanged with ResultPath null', async () => {
    const whole = await run(stageThenEach(eachMap({ ResultPath: undefined, ResultWriter: undefined })));
    expect(whole.output).toEqual([
      { order: 0, output: 10 },
      { order: 1, output: 20 },
      { order: 2, output: 30 },
    ]);
    const dropped = await run(stageThenEach(eachMap({ ResultPath: null })));
    expect(dropped.output).toEqual({ where: { bucket: 'dag-objects', key: 'in/items.json' }, keep: 1 });
  });

  it('applies the OutputPath after the result is placed', async () => {
    const { output } = await run(stageThenEach(eachMap({ ResultWriter: undefined, OutputPath: '$.out' })));
    expect(output).toEqual([
      { order: 0, output: 10 },
      { order: 1, output: 20 },
      { order: 2, output: 30 },
    ]);
  });

  it('emulates a Map nested in a Parallel branch, in that branch', async () => {
    const asl: AslDefinition = {
      StartAt: 'Fork',
      States: {
        Fork: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'Each', States: { Each: eachMap({ ResultWriter: undefined }) } }],
          End: true,
        },
      },
    };
    const { emulated, output } = await run(asl, { where: { bucket: 'dag-objects', key: 'in/items.json' } });
    expect(emulated.definition.States.Fork).toMatchObject({ Branches: [{ StartAt: 'Each (ItemReader)' }] });
    expect(emulated.owners.get('Each (ItemReader)')).toBe('Each');
    expect((output as unknown as { out: unknown }[])[0]?.out).toHaveLength(3);
  });

  // Step Functions applies the Map's InputPath before the ItemReader, and its ResultPath to the raw input.
  it("reads the items from the Map's effective input, after its InputPath", async () => {
    const reader = {
      ...(eachMap().ItemReader as object),
      Parameters: { 'Bucket.$': '$.bucket', 'Key.$': '$.key' },
    };
    const map = eachMap({ InputPath: '$.where', ItemReader: reader, ResultWriter: undefined });
    const { output } = await run(
      { StartAt: 'Each', States: { Each: map } },
      {
        where: { bucket: 'dag-objects', key: 'in/items.json' },
      },
    );
    expect(output.out).toHaveLength(3);
  });

  // `$` in the ItemSelector is the Map's input, where the emulation keeps the items it read.
  it("refuses an ItemSelector passing the whole input ('$') beside an ItemReader", () => {
    const map = eachMap({ ItemSelector: { 'input.$': '$' }, ResultWriter: undefined });
    expect(() => emulateDistributedMaps(stageThenEach(map), settings)).toThrow(UnsupportedMapFieldError);
    const nested = eachMap({ ItemSelector: { deep: { 'input.$': '$' } } });
    expect(() => emulateDistributedMaps(stageThenEach(nested), settings)).toThrow(/whole input/);
  });

  it('leaves a Map without ItemReader or ResultWriter as it is', () => {
    const asl: AslDefinition = {
      StartAt: 'Each',
      States: { Each: eachMap({ ItemReader: undefined, ResultWriter: undefined, ItemsPath: '$.values' }) },
    };
    const emulated = emulateDistributedMaps(asl, settings);
    expect(emulated.definition).toEqual(asl);
    expect(emulated.owners.size).toBe(0);
  });
});
