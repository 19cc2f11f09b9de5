// A Distributed Map's items and results in the object store (lib/runtime/map-store.ts), over a real
// object root (a temp folder, as file://): `stage` resolves a parallel node's items through offloaded
// outputs and writes them where the ItemReader reads; `collect` reads what a ResultWriter wrote, in
// the layout Step Functions uses, and gives the items' outputs back in item order.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapStoreInputError, runMapStore } from '../../lib/runtime/map-store.js';
import {
  isPayloadReference,
  PayloadOutsideRootError,
  type PayloadSettings,
  payloadSettings,
} from '../../lib/runtime/payloads.js';
import { FileObjectStore, InvalidObjectUriError, outputUri } from '../../lib/storage/object-store.js';

const TASK = '0190f3c2-0000-7000-8000-000000000011';
const store = new FileObjectStore();
let dir: string;
let root: string;
let settings: PayloadSettings;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dag-map-store-unit-'));
  root = pathToFileURL(dir).href;
  settings = payloadSettings({ root: () => root });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `value` as JSON under the root and returns a reference to it, as an offloaded output is. */
async function offloaded(key: string, value: unknown): Promise<{ $payload: string; bytes: number }> {
  const uri = outputUri(root, key);
  const text = JSON.stringify(value);
  await store.put(uri, text);
  return { $payload: uri, bytes: Buffer.byteLength(text) };
}

function stage(node: string, items: string, nodes: Record<string, unknown>) {
  return { action: 'stage', task: { id: TASK, workflow: 'flow' }, node, items, nodes };
}

describe('runMapStore stage', () => {
  it("resolves the producer's offloaded output and stages the items under <root>/<task>/<node>/", async () => {
    const split = await offloaded(`${TASK}/split/output-1.json`, { segments: ['s0', 's1', 's2'], n: 3 });
    const staged = await runMapStore(stage('encode', '$.nodes.split.segments', { split }), settings);
    expect(staged).toEqual({ bucket: 'dag-objects', key: `${TASK}/encode/items.json`, count: 3 });
    const written = await readFile(path.join(dir, TASK, 'encode', 'items.json'), 'utf8');
    expect(JSON.parse(written)).toEqual(['s0', 's1', 's2']);
  });

  it('follows indexes, and a reference that is one item of a parallel output', async () => {
    const second = await offloaded(`${TASK}/split/1/output-1.json`, { list: [{ at: 4 }, { at: 5 }] });
    const staged = await runMapStore(
      stage('fan', '$.nodes.split.parts[1].list', { split: { parts: [{ list: ['wrong'] }, second] } }),
      settings,
    );
    expect(staged).toEqual({ bucket: 'dag-objects', key: `${TASK}/fan/items.json`, count: 2 });
    const written = await readFile(path.join(dir, TASK, 'fan', 'items.json'), 'utf8');
    expect(JSON.parse(written)).toEqual([{ at: 4 }, { at: 5 }]);
  });

  it('stages an empty array as zero items', async () => {
    const staged = await runMapStore(
      stage('none', '$.nodes.split.segments', { split: { segments: [] } }),
      settings,
    );
    expect(staged).toMatchObject({ count: 0 });
    expect(JSON.parse(await readFile(path.join(dir, TASK, 'none', 'items.json'), 'utf8'))).toEqual([]);
  });

  it('fails with ItemsNotArray, naming the node and path, when the items are an object', async () => {
    const split = await offloaded(`${TASK}/split-object/output-1.json`, { segments: { a: 1 } });
    const staging = runMapStore(stage('encode', '$.nodes.split.segments', { split }), settings);
    await expect(staging).rejects.toMatchObject({ name: 'ItemsNotArray' });
    await expect(staging).rejects.toThrow(
      "The items of parallel node 'encode' ($.nodes.split.segments) are not an array but object",
    );
  });

  it('fails with ItemsNotArray when the items are missing or null', async () => {
    const missing = runMapStore(
      stage('encode', '$.nodes.split.segments', { split: { other: [] } }),
      settings,
    );
    await expect(missing).rejects.toMatchObject({ name: 'ItemsNotArray' });
    await expect(missing).rejects.toThrow(/'encode' \(\$\.nodes\.split\.segments\) are missing/);
    const absent = runMapStore(stage('encode', '$.nodes.ghost.segments', {}), settings);
    await expect(absent).rejects.toMatchObject({ name: 'ItemsNotArray' });
    const nulled = runMapStore(
      stage('encode', '$.nodes.split.segments', { split: { segments: null } }),
      settings,
    );
    await expect(nulled).rejects.toThrow(/not an array but null/);
  });

  it('refuses a reference outside the object root', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'dag-map-store-outside-'));
    try {
      const file = path.join(outside, 'output-1.json');
      await writeFile(file, JSON.stringify({ segments: [1, 2] }));
      const split = { $payload: pathToFileURL(file).href, bytes: 17 };
      const staging = runMapStore(stage('leak', '$.nodes.split.segments', { split }), settings);
      await expect(staging).rejects.toThrow(PayloadOutsideRootError);
      await expect(staging).rejects.toThrow(/not under the object root/);
      await expect(readFile(path.join(dir, TASK, 'leak', 'items.json'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it.each([
    ['no task', { action: 'stage', node: 'encode', items: '$.nodes.split.segments', nodes: {} }],
    ['items not under $.nodes', stage('encode', '$.input.segments', {})],
    ['items naming no node', stage('encode', '$.nodes', {})],
    [
      'no nodes',
      { action: 'stage', task: { id: TASK, workflow: 'flow' }, node: 'encode', items: '$.nodes.a' },
    ],
    ['an unknown action', { action: 'scatter', task: { id: TASK, workflow: 'flow' } }],
  ])('rejects an input with %s as MapStoreInputError', async (_, input) => {
    await expect(runMapStore(input, settings)).rejects.toThrow(MapStoreInputError);
  });

  it('rejects an items path that is not a reference path, quoting it', async () => {
    const staging = runMapStore(stage('encode', '$.nodes.split[*]', {}), settings);
    await expect(staging).rejects.toThrow(MapStoreInputError);
    await expect(staging).rejects.toThrow("'$.nodes.split[*]' is not a reference");
  });
});

// The ResultWriter's layout (COMPACT, JSON): a manifest naming SUCCEEDED files of the items'
// outputs and FAILED files of full execution records, all relative to the bucket.
interface ResultFiles {
  readonly SUCCEEDED?: unknown[][];
  readonly FAILED?: unknown[][];
  readonly PENDING?: string[];
}

let runs = 0;

/** Writes a manifest and its result files under `results/<run>/`; returns the Map's ResultWriterDetails. */
async function writeResults(files: ResultFiles): Promise<{ Bucket: string; Key: string }> {
  runs += 1;
  const base = `results/flow/encode/run-${runs}`;
  const list = async (kind: string, contents: unknown[][] = []) =>
    Promise.all(
      contents.map(async (records, i) => {
        const Key = `${base}/${kind}_${i}.json`;
        const text = JSON.stringify(records);
        await store.put(outputUri(root, Key), text);
        return { Key, Size: Buffer.byteLength(text) };
      }),
    );
  const manifest = {
    DestinationBucket: 'dag-objects',
    MapRunArn: `arn:aws:states:us-east-1:000000000000:mapRun:flow/encode:run-${runs}`,
    ResultFiles: {
      SUCCEEDED: await list('SUCCEEDED', files.SUCCEEDED),
      FAILED: await list('FAILED', files.FAILED),
      PENDING: (files.PENDING ?? []).map((Key) => ({ Key, Size: 0 })),
    },
  };
  const Key = `${base}/manifest.json`;
  await store.put(outputUri(root, Key), JSON.stringify(manifest));
  return { Bucket: 'dag-objects', Key };
}

function collect(written: { Bucket: string; Key: string }, toleratedFailurePercentage = 0, node = 'encode') {
  return {
    action: 'collect',
    task: { id: TASK, workflow: 'flow' },
    node,
    toleratedFailurePercentage,
    written,
  };
}

/** A FAILED file's record: the child execution's input is the item's `{ order, output }` as JSON text. */
function failedRecord(order: number, error: string, cause: string) {
  return {
    ExecutionArn: `arn:aws:states:us-east-1:000000000000:execution:flow/encode:item-${order}`,
    Input: JSON.stringify({ order, output: { item: `clip-${order}` } }),
    InputDetails: { Included: true },
    Status: 'FAILED',
    Error: error,
    Cause: cause,
  };
}

describe('runMapStore collect', () => {
  it('puts the outputs of two SUCCEEDED files back in item order', async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          { order: 3, output: { clip: 'c3' } },
          { order: 1, output: { clip: 'c1' } },
        ],
        [
          { order: 2, output: { clip: 'c2' } },
          { order: 0, output: { clip: 'c0' } },
        ],
      ],
    });
    expect(await runMapStore(collect(written), settings)).toEqual([
      { clip: 'c0' },
      { clip: 'c1' },
      { clip: 'c2' },
      { clip: 'c3' },
    ]);
  });

  it('reads records given as JSON text and as full execution records with an Output', async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          JSON.stringify({ order: 1, output: 'from text' }),
          {
            ExecutionArn: 'arn:aws:states:us-east-1:000000000000:execution:flow/encode:item-2',
            Input: JSON.stringify({ order: 2, output: null }),
            Output: JSON.stringify({ order: 2, output: 'from a full record' }),
            Status: 'SUCCEEDED',
          },
          { order: 0, output: 'compact' },
        ],
      ],
    });
    expect(await runMapStore(collect(written), settings)).toEqual([
      'compact',
      'from text',
      'from a full record',
    ]);
  });

  it('makes failed items null within the tolerated share', async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          { order: 0, output: 'a' },
          { order: 2, output: 'c' },
          // An item whose own Catch marked it, as the compiled processor does.
          { order: 3, output: { dagFailed: true, error: 'MediaError', cause: 'bad frame' } },
        ],
      ],
      FAILED: [[failedRecord(1, 'States.Timeout', 'took too long')]],
    });
    expect(await runMapStore(collect(written, 50), settings)).toEqual(['a', null, 'c', null]);
  });

  it("fails as an inline Map would when nothing is tolerated: with the first failed item's own error", async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          { order: 0, output: 'a' },
          { order: 2, output: 'c' },
        ],
      ],
      FAILED: [
        [failedRecord(3, 'LaterError', 'second failure'), failedRecord(1, 'MediaError', 'corrupt input')],
      ],
    });
    const collecting = runMapStore(collect(written, 0), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MediaError' });
    await expect(collecting).rejects.toThrow("Item 1 of 'encode': corrupt input");
  });

  it("fails with a marked item's error when nothing is tolerated", async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          { order: 1, output: { dagFailed: true, error: 'OperatorTimeout', cause: 'slow' } },
          { order: 0, output: 'a' },
        ],
      ],
    });
    const collecting = runMapStore(collect(written, 0), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'OperatorTimeout' });
    await expect(collecting).rejects.toThrow('Item 1');
  });

  it('fails with ToleratedFailureExceeded over a tolerance above 0', async () => {
    const written = await writeResults({
      SUCCEEDED: [[{ order: 0, output: 'a' }]],
      FAILED: [[failedRecord(1, 'MediaError', 'x'), failedRecord(2, 'MediaError', 'y')]],
    });
    const collecting = runMapStore(collect(written, 50), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'ToleratedFailureExceeded' });
    await expect(collecting).rejects.toThrow(
      "2 of 3 items of 'encode' failed (66.7%), over the tolerated 50%",
    );
  });

  it('gives a failed record without Error the name States.TaskFailed', async () => {
    const written = await writeResults({
      FAILED: [[{ Input: JSON.stringify({ order: 0, output: {} }), Status: 'FAILED' }]],
    });
    await expect(runMapStore(collect(written, 0), settings)).rejects.toMatchObject({
      name: 'States.TaskFailed',
    });
  });

  it('gives an empty array for a Map that had no items', async () => {
    const written = await writeResults({ SUCCEEDED: [[]] });
    expect(await runMapStore(collect(written), settings)).toEqual([]);
  });

  it('fails with MapResultsIncomplete while result files are pending', async () => {
    const written = await writeResults({
      SUCCEEDED: [[{ order: 0, output: 'a' }]],
      PENDING: ['results/flow/encode/pending/PENDING_0.json'],
    });
    const collecting = runMapStore(collect(written), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow(/left 1 result file\(s\) pending/);
  });

  it('fails with MapResultsIncomplete when an item is missing', async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          { order: 0, output: 'a' },
          { order: 2, output: 'c' },
        ],
      ],
    });
    const collecting = runMapStore(collect(written), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow("The results of 'encode' have no item 1 of 2");
  });

  it('fails with MapResultsIncomplete when an item comes back twice, across files', async () => {
    const written = await writeResults({
      SUCCEEDED: [[{ order: 0, output: 'a' }], [{ order: 1, output: 'b' }]],
      FAILED: [[failedRecord(0, 'MediaError', 'x')]],
    });
    const collecting = runMapStore(collect(written, 100), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow("The results of 'encode' hold item 0 twice");
  });

  it('fails with MapResultsIncomplete when a record is not an { order, output }', async () => {
    const written = await writeResults({ SUCCEEDED: [[{ order: 0, output: 'a' }, { value: 'b' }]] });
    const collecting = runMapStore(collect(written), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow(/is not an item's \{ order, output \}/);
  });

  it('fails with MapResultsIncomplete when a listed result file is missing', async () => {
    const written = await writeResults({ SUCCEEDED: [[{ order: 0, output: 'a' }]] });
    await rm(path.join(dir, path.dirname(written.Key), 'SUCCEEDED_0.json'));
    const collecting = runMapStore(collect(written), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow(/lack file:\/\/.*SUCCEEDED_0\.json/);
  });

  it('fails with MapResultsIncomplete when the manifest itself is missing', async () => {
    const collecting = runMapStore(
      collect({ Bucket: 'dag-objects', Key: 'results/none/manifest.json' }),
      settings,
    );
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
  });

  it('fails with MapResultsIncomplete when a result file is JSON but not an array', async () => {
    const written = await writeResults({ SUCCEEDED: [[{ order: 0, output: 'a' }]] });
    await writeFile(
      path.join(dir, path.dirname(written.Key), 'SUCCEEDED_0.json'),
      '{"order":0,"output":"a"}',
    );
    await expect(runMapStore(collect(written), settings)).rejects.toMatchObject({
      name: 'MapResultsIncomplete',
    });
  });

  it('fails with MapResultsIncomplete when the results are fewer than the items the Map ran', async () => {
    const written = await writeResults({
      SUCCEEDED: [
        [
          { order: 0, output: 'a' },
          { order: 1, output: 'b' },
        ],
      ],
    });
    await expect(runMapStore({ ...collect(written), count: 2 }, settings)).resolves.toEqual(['a', 'b']);
    await expect(runMapStore({ ...collect(written), count: 3 }, settings)).rejects.toMatchObject({
      name: 'MapResultsIncomplete',
      message: expect.stringContaining('ran 3 items, but its results hold 2'),
    });
  });

  it('fails with MapResultsIncomplete when a result file is not JSON', async () => {
    const written = await writeResults({ SUCCEEDED: [[{ order: 0, output: 'a' }]] });
    await writeFile(path.join(dir, path.dirname(written.Key), 'SUCCEEDED_0.json'), '[{"order":0,');
    const collecting = runMapStore(collect(written), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow(/SUCCEEDED_0\.json of 'encode' is not JSON/);
  });

  it('refuses a manifest outside the object root with MapResultsOutsideRoot', async () => {
    const written = await writeResults({ SUCCEEDED: [[{ order: 0, output: 'a' }]] });
    const collecting = runMapStore(collect({ Bucket: 'some-other-bucket', Key: written.Key }), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsOutsideRoot' });
    await expect(collecting).rejects.toThrow(
      `s3://some-other-bucket/${written.Key}, outside the object root`,
    );
  });

  it('refuses a result file the manifest names outside the object root', async () => {
    const manifestKey = 'results/flow/encode/escape/manifest.json';
    await store.put(
      outputUri(root, manifestKey),
      JSON.stringify({ ResultFiles: { SUCCEEDED: [{ Key: '../../etc/passwd' }], FAILED: [], PENDING: [] } }),
    );
    await expect(runMapStore(collect({ Bucket: 'dag-objects', Key: manifestKey }), settings)).rejects.toThrow(
      InvalidObjectUriError,
    );
    await expect(
      runMapStore(collect({ Bucket: 'dag-objects', Key: '../escape/manifest.json' }), settings),
    ).rejects.toThrow(InvalidObjectUriError);
    const elsewhere = 'results/flow/encode/elsewhere/manifest.json';
    await store.put(
      outputUri(root, elsewhere),
      JSON.stringify({ ResultFiles: { SUCCEEDED: [{ Key: 'etc/passwd' }], FAILED: [], PENDING: [] } }),
    );
    // The files are read from the manifest's bucket, never from one the manifest names.
    const collecting = runMapStore(collect({ Bucket: 'dag-objects', Key: elsewhere }), settings);
    await expect(collecting).rejects.toMatchObject({ name: 'MapResultsIncomplete' });
    await expect(collecting).rejects.toThrow(`lack ${outputUri(root, 'etc/passwd')}`);
  });

  it('offloads results over the threshold and keeps small ones inline', async () => {
    const small = payloadSettings({ root: () => root, thresholdBytes: 1024 });
    const big = Array.from({ length: 8 }, (_, order) => ({
      order,
      output: { text: 'x'.repeat(200), order },
    }));
    const written = await writeResults({ SUCCEEDED: [big.slice(4), big.slice(0, 4)] });
    const reference = await runMapStore(collect(written, 0, 'wide'), small);
    expect(isPayloadReference(reference)).toBe(true);
    const { $payload, bytes } = reference as { $payload: string; bytes: number };
    expect($payload).toBe(outputUri(root, TASK, 'wide', 'output-1.json'));
    const text = (await store.get($payload)).toString('utf8');
    expect(bytes).toBe(Buffer.byteLength(text));
    expect(bytes).toBeGreaterThan(1024);
    expect(JSON.parse(text)).toEqual(big.map((record) => record.output));

    const inline = await writeResults({ SUCCEEDED: [[{ order: 0, output: 'tiny' }]] });
    expect(await runMapStore(collect(inline, 0, 'narrow'), small)).toEqual(['tiny']);
    expect(await store.exists(outputUri(root, TASK, 'narrow', 'output-1.json'))).toBe(false);
  });
});
