// Payload references (lib/runtime/payloads.ts): the shape, where objects go, finding and replacing
// references, the object-root check, and offload/resolve against an in-memory object store.
import { describe, expect, it } from 'vitest';
import {
  explainPathIntoPayload,
  isPayloadReference,
  isUnderObjectRoot,
  offloadOutput,
  PAYLOAD_THRESHOLD_BYTES,
  PayloadNotFoundError,
  PayloadNotJsonError,
  PayloadOutsideRootError,
  type PayloadSettings,
  payloadReferencesIn,
  payloadSettings,
  payloadUri,
  resolvePayloads,
  withPayloadValues,
} from '../../lib/runtime/payloads.js';
import { ObjectNotFoundError, type ObjectStore } from '../../lib/storage/object-store.js';

/** An object store in memory: enough for `put` and `get`. */
function memoryStore(): ObjectStore & { objects: Map<string, string> } {
  const objects = new Map<string, string>();
  return {
    objects,
    put: async (uri, body) => {
      objects.set(uri, body.toString());
    },
    get: async (uri) => {
      const text = objects.get(uri);
      if (text === undefined) throw new ObjectNotFoundError(uri);
      return Buffer.from(text);
    },
    download: async () => {},
    upload: async () => {},
    exists: async (uri) => objects.has(uri),
    delete: async (uri) => {
      objects.delete(uri);
    },
  };
}

const ROOT = 's3://media/objects';
const TASK = '0190f3c2-0000-7000-8000-000000000001';

function settings(store: ObjectStore, thresholdBytes = 100): PayloadSettings {
  return payloadSettings({ thresholdBytes, root: () => ROOT, storeFor: () => store });
}

describe('payload references', () => {
  it('recognises { $payload, bytes? } and nothing with other fields', () => {
    expect(isPayloadReference({ $payload: 's3://b/k', bytes: 12 })).toBe(true);
    expect(isPayloadReference({ $payload: 'file:///tmp/x.json' })).toBe(true);
    expect(isPayloadReference({ $payload: 's3://b/k', bytes: 1, other: true })).toBe(false);
    expect(isPayloadReference({ $payload: 's3://b/k', bytes: -1 })).toBe(false);
    expect(isPayloadReference({ $payload: 's3://b/k', bytes: '12' })).toBe(false);
    expect(isPayloadReference({ $payload: '' })).toBe(false);
    expect(isPayloadReference({ $payload: 3 })).toBe(false);
    expect(isPayloadReference([{ $payload: 's3://b/k' }])).toBe(false);
    expect(isPayloadReference(null)).toBe(false);
    expect(isPayloadReference('s3://b/k')).toBe(false);
  });

  it('names the object by task, node, order and attempt under the root', () => {
    expect(payloadUri(ROOT, { taskId: TASK, node: 'big', attempt: 2 })).toBe(
      `s3://media/objects/${TASK}/big/output-2.json`,
    );
    expect(payloadUri('s3://media/objects/', { taskId: TASK, node: 'fan', order: 7, attempt: 1 })).toBe(
      `s3://media/objects/${TASK}/fan/7/output-1.json`,
    );
    expect(payloadUri('file:///srv/objects', { taskId: TASK, node: 'a', attempt: 1 })).toBe(
      `file:///srv/objects/${TASK}/a/output-1.json`,
    );
  });

  it('finds distinct references at any depth, inside arrays too', () => {
    const value = {
      a: { $payload: 's3://media/objects/1.json', bytes: 5 },
      list: [
        1,
        { $payload: 's3://media/objects/2.json' },
        [{ deep: { $payload: 's3://media/objects/1.json' } }],
      ],
      notOne: { $payload: 's3://media/objects/3.json', extra: 1 },
    };
    expect(payloadReferencesIn(value)).toEqual(['s3://media/objects/1.json', 's3://media/objects/2.json']);
    expect(payloadReferencesIn({ plain: [1, 'two', null] })).toEqual([]);
    expect(payloadReferencesIn({ $payload: 's3://media/objects/whole.json' })).toEqual([
      's3://media/objects/whole.json',
    ]);
  });

  it('replaces references by their values and leaves the rest equal', () => {
    const values = new Map<string, unknown>([
      ['s3://media/objects/1.json', { big: 'one' }],
      ['s3://media/objects/2.json', [2, 2]],
    ]);
    const value = {
      a: { $payload: 's3://media/objects/1.json', bytes: 5 },
      list: [1, { $payload: 's3://media/objects/2.json' }],
      keep: { x: true, $payload: 'not a reference', y: 1 },
    };
    expect(withPayloadValues(value, values)).toEqual({
      a: { big: 'one' },
      list: [1, [2, 2]],
      keep: { x: true, $payload: 'not a reference', y: 1 },
    });
    expect(withPayloadValues({ $payload: 's3://media/objects/2.json' }, values)).toEqual([2, 2]);
  });

  it('accepts only objects under the object root', () => {
    expect(isUnderObjectRoot(`s3://media/objects/${TASK}/a/output-1.json`, ROOT)).toBe(true);
    expect(isUnderObjectRoot('s3://media/objects/x.json', 's3://media/objects/')).toBe(true);
    expect(isUnderObjectRoot('s3://media/uploads/x.json', ROOT)).toBe(false);
    expect(isUnderObjectRoot('s3://media/objects-other/x.json', ROOT)).toBe(false);
    expect(isUnderObjectRoot('s3://other/objects/x.json', ROOT)).toBe(false);
    expect(isUnderObjectRoot('s3://media/objects/../uploads/x.json', ROOT)).toBe(false);
    expect(isUnderObjectRoot('file:///srv/objects/t/a/output-1.json', 'file:///srv/objects')).toBe(true);
    expect(isUnderObjectRoot('file:///srv/objects/../secret', 'file:///srv/objects')).toBe(false);
    expect(isUnderObjectRoot('file:///srv/objects', 'file:///srv/objects')).toBe(false);
    expect(isUnderObjectRoot('file:///etc/passwd', 'file:///srv/objects')).toBe(false);
    expect(isUnderObjectRoot('file:///srv/objects/x.json', ROOT)).toBe(false);
    expect(isUnderObjectRoot('http://media/objects/x.json', ROOT)).toBe(false);
  });
});

describe('offloadOutput', () => {
  it('keeps an output up to the threshold inline and stores a larger one', async () => {
    const store = memoryStore();
    const at = { taskId: TASK, node: 'a', attempt: 1 };
    // {"s":"..."} is 8 bytes around the string.
    const fits = { s: 'x'.repeat(92) };
    expect(await offloadOutput(fits, at, settings(store))).toBe(fits);
    expect(store.objects.size).toBe(0);
    const over = { s: 'x'.repeat(93) };
    const uri = `${ROOT}/${TASK}/a/output-1.json`;
    expect(await offloadOutput(over, at, settings(store))).toEqual({ $payload: uri, bytes: 101 });
    expect(store.objects.get(uri)).toBe(JSON.stringify(over));
  });

  it('counts UTF-8 bytes, not characters', async () => {
    const store = memoryStore();
    // 40 three-byte characters: 42 characters of JSON, 122 bytes.
    const output = '€'.repeat(40);
    expect(await offloadOutput(output, { taskId: TASK, node: 'a', attempt: 1 }, settings(store))).toEqual({
      $payload: `${ROOT}/${TASK}/a/output-1.json`,
      bytes: 122,
    });
  });

  it('uses 200 KiB by default', () => {
    expect(PAYLOAD_THRESHOLD_BYTES).toBe(200 * 1024);
    expect(payloadSettings().thresholdBytes).toBe(PAYLOAD_THRESHOLD_BYTES);
  });
});

describe('resolvePayloads', () => {
  it('gives the value itself when it holds no reference', async () => {
    const value = { a: [1, 2] };
    expect(await resolvePayloads(value, 'b', settings(memoryStore()))).toBe(value);
  });

  it('round-trips what offloadOutput stored, wherever the reference sits', async () => {
    const store = memoryStore();
    const big = { rows: Array.from({ length: 50 }, (_, i) => ({ i })) };
    const reference = await offloadOutput(big, { taskId: TASK, node: 'a', attempt: 1 }, settings(store));
    expect(isPayloadReference(reference)).toBe(true);
    expect(await resolvePayloads({ whole: reference, parts: [reference, 3] }, 'b', settings(store))).toEqual({
      whole: big,
      parts: [big, 3],
    });
  });

  it('fails with PayloadNotFoundError naming the node and the URI', async () => {
    const uri = `${ROOT}/${TASK}/a/output-1.json`;
    const error = await resolvePayloads({ x: { $payload: uri } }, 'merge', settings(memoryStore())).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PayloadNotFoundError);
    expect(error).toMatchObject({ name: 'PayloadNotFoundError', uri, node: 'merge' });
    expect((error as Error).message).toContain(`node 'merge'`);
    expect((error as Error).message).toContain(uri);
  });

  it('refuses a reference outside the object root before reading anything', async () => {
    const store = memoryStore();
    store.objects.set('s3://media/uploads/x.json', '{}');
    await expect(
      resolvePayloads({ $payload: 's3://media/uploads/x.json' }, 'b', settings(store)),
    ).rejects.toThrow(PayloadOutsideRootError);
  });

  it('fails with PayloadNotJsonError for an object that is not JSON', async () => {
    const store = memoryStore();
    store.objects.set(`${ROOT}/x.json`, 'not json');
    await expect(resolvePayloads({ $payload: `${ROOT}/x.json` }, 'b', settings(store))).rejects.toThrow(
      PayloadNotJsonError,
    );
  });
});

describe('explainPathIntoPayload', () => {
  const reference = { $payload: 's3://media/objects/t/big/output-1.json', bytes: 300_000 };
  const outputs: Record<string, unknown> = { big: reference, small: { rows: [1] } };
  const outputOf = (node: string) => outputs[node];

  it('says why a path into an offloaded output found nothing, in either engine’s words', () => {
    for (const cause of [
      "Path expression '$.nodes.big.rows' does not point to a value",
      "The JSONPath '$.nodes.big.rows[0]' specified for the field 'ItemsPath' could not be found in the input",
    ]) {
      const explained = explainPathIntoPayload({ error: 'States.Runtime', cause }, outputOf);
      expect(explained.error).toBe('States.Runtime');
      expect(explained.cause.startsWith(cause)).toBe(true);
      expect(explained.cause).toContain("The output of 'big' is over 200 KiB");
      expect(explained.cause).toContain('($.nodes.big)');
    }
  });

  it('leaves other failures as they are', () => {
    const cases = [
      { error: 'States.TaskFailed', cause: "Path expression '$.nodes.big.rows' does not point to a value" },
      { error: 'States.Runtime', cause: "Path expression '$.nodes.small.missing' does not point to a value" },
      // The whole output resolves; a missing node is another mistake.
      { error: 'States.Runtime', cause: "Path expression '$.nodes.big' does not point to a value" },
      { error: 'States.Runtime', cause: "Path expression '$.nodes.gone.rows' does not point to a value" },
      { error: 'States.Runtime', cause: 'no path here' },
    ];
    for (const error of cases) expect(explainPathIntoPayload(error, outputOf)).toEqual(error);
  });
});
