import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FileObjectStore,
  InvalidObjectUriError,
  ObjectNotFoundError,
  ObjectStoreError,
  objectRoot,
  objectStoreFor,
  outputUri,
  parseObjectUri,
  S3ObjectStore,
} from '../../lib/storage/object-store.js';

describe('parseObjectUri', () => {
  it('splits s3 URIs into bucket and key', () => {
    expect(parseObjectUri('s3://media/in/clip one.mp4')).toEqual({
      scheme: 's3',
      bucket: 'media',
      key: 'in/clip one.mp4',
    });
  });

  it('reads file URIs and takes plain paths as local files', () => {
    expect(parseObjectUri('file:///data/a%20b.mp4')).toEqual({ scheme: 'file', path: '/data/a b.mp4' });
    expect(parseObjectUri('/data/clip.mp4')).toEqual({ scheme: 'file', path: '/data/clip.mp4' });
    expect(parseObjectUri('clip.mp4')).toEqual({ scheme: 'file', path: path.resolve('clip.mp4') });
  });

  it.each([
    ['', 'empty'],
    ['s3://bucket-only', 'bucket/key'],
    ['s3:///key', 'bucket/key'],
    ['https://example.com/a.mp4', "unsupported scheme 'https'"],
    ['file://host/a.mp4', 'file:///absolute/path'],
  ])('rejects %j', (uri, reason) => {
    expect(() => parseObjectUri(uri)).toThrow(InvalidObjectUriError);
    expect(() => parseObjectUri(uri)).toThrow(reason);
  });
});

describe('outputUri', () => {
  it('appends parts under s3 and file roots', () => {
    expect(outputUri('s3://b/out/', 'task-1', 'slice', 'segment-000.mp4')).toBe(
      's3://b/out/task-1/slice/segment-000.mp4',
    );
    expect(outputUri('file:///data/objects', 'task-1', 'merge/merged.mp4')).toBe(
      'file:///data/objects/task-1/merge/merged.mp4',
    );
    expect(outputUri('/data/objects', 'a b')).toBe('file:///data/objects/a%20b');
  });

  it('refuses parts that would leave the root', () => {
    expect(() => outputUri('s3://b/out', '..', 'x')).toThrow(InvalidObjectUriError);
    expect(() => outputUri('file:///data', 'a/../../etc')).toThrow(InvalidObjectUriError);
    expect(() => outputUri('file:///data', '')).toThrow(InvalidObjectUriError);
  });
});

describe('objectRoot', () => {
  it('defaults to .data/objects under the working directory', () => {
    expect(objectRoot({})).toBe(pathToFileURL(path.join(process.cwd(), '.data', 'objects')).href);
  });

  it('takes DAG_OBJECT_ROOT when set', () => {
    expect(objectRoot({ DAG_OBJECT_ROOT: 's3://bucket/objects' })).toBe('s3://bucket/objects');
  });
});

describe('objectStoreFor', () => {
  it('chooses the store by scheme and builds each once', () => {
    expect(objectStoreFor('file:///tmp/x')).toBeInstanceOf(FileObjectStore);
    expect(objectStoreFor('relative/path.mp4')).toBeInstanceOf(FileObjectStore);
    expect(objectStoreFor('s3://b/k')).toBeInstanceOf(S3ObjectStore);
    expect(objectStoreFor('s3://other/k')).toBe(objectStoreFor('s3://b/k'));
  });
});

describe('FileObjectStore', () => {
  const store = new FileObjectStore();
  let dir: string;
  const uri = (...parts: string[]) => outputUri(pathToFileURL(dir).href, ...parts);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'object-store-test-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips strings, buffers and streams, creating folders', async () => {
    await store.put(uri('t', 'a.txt'), 'text');
    await store.put(uri('t', 'b.bin'), Buffer.from([1, 2, 3]));
    await store.put(uri('t', 'deep', 'c.txt'), Readable.from(['str', 'eam']));

    expect((await store.get(uri('t', 'a.txt'))).toString()).toBe('text');
    expect([...(await store.get(uri('t', 'b.bin')))]).toEqual([1, 2, 3]);
    expect((await store.get(uri('t', 'deep', 'c.txt'))).toString()).toBe('stream');
  });

  it('replaces an existing object', async () => {
    await store.put(uri('replace.txt'), 'one');
    await store.put(uri('replace.txt'), 'two');
    expect((await store.get(uri('replace.txt'))).toString()).toBe('two');
  });

  it('uploads and downloads local files', async () => {
    const local = path.join(dir, 'local.txt');
    await writeFile(local, 'payload');
    await store.upload(local, uri('up', 'copy.txt'));
    await store.download(uri('up', 'copy.txt'), path.join(dir, 'down', 'back.txt'));
    expect(await readFile(path.join(dir, 'down', 'back.txt'), 'utf8')).toBe('payload');
  });

  it('accepts plain paths', async () => {
    const plain = path.join(dir, 'plain.txt');
    await store.put(plain, 'plain');
    expect((await store.get(pathToFileURL(plain).href)).toString()).toBe('plain');
    expect(await store.exists(plain)).toBe(true);
  });

  it('reports existence and deletes', async () => {
    await store.put(uri('gone.txt'), 'x');
    expect(await store.exists(uri('gone.txt'))).toBe(true);
    await store.delete(uri('gone.txt'));
    expect(await store.exists(uri('gone.txt'))).toBe(false);
    await expect(store.delete(uri('gone.txt'))).resolves.toBeUndefined();
    expect(await store.exists(uri('no', 'such', 'folder.txt'))).toBe(false);
  });

  it('throws ObjectNotFoundError for missing objects', async () => {
    await expect(store.get(uri('missing.txt'))).rejects.toThrow(ObjectNotFoundError);
    await expect(store.download(uri('missing.txt'), path.join(dir, 'x'))).rejects.toThrow(
      ObjectNotFoundError,
    );
    await expect(store.upload(path.join(dir, 'missing-local'), uri('y'))).rejects.toThrow(
      ObjectNotFoundError,
    );
  });

  it('leaves no partial files behind', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('source broke'));
      },
    });
    await expect(store.put(uri('partial', 'p.bin'), failing)).rejects.toThrow('source broke');
    expect(await store.exists(uri('partial', 'p.bin'))).toBe(false);
  });

  it('refuses s3 URIs', async () => {
    await expect(store.get('s3://b/k')).rejects.toThrow(InvalidObjectUriError);
  });
});

describe('S3ObjectStore', () => {
  const s3Mock = mockClient(S3Client);
  const store = new S3ObjectStore(new S3Client({ region: 'us-east-1' }));
  const metadata = { $metadata: { httpStatusCode: 404 } };

  afterEach(() => {
    s3Mock.reset();
  });

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

  it('puts with bucket, key and content type', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await store.put('s3://media/out/a.json', '{"a":1}', { contentType: 'application/json' });
    const [call] = s3Mock.commandCalls(PutObjectCommand);
    expect(call?.args[0].input).toMatchObject({
      Bucket: 'media',
      Key: 'out/a.json',
      Body: '{"a":1}',
      ContentType: 'application/json',
    });
  });

  it('buffers a stream before putting it', async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await store.put('s3://media/s.txt', Readable.from(['a', 'b']));
    const body = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body;
    expect(Buffer.isBuffer(body) && body.toString()).toBe('ab');
  });

  it('gets the object bytes', async () => {
    s3Mock.on(GetObjectCommand, { Bucket: 'media', Key: 'in/a.txt' }).resolves({ Body: body('hello') });
    expect((await store.get('s3://media/in/a.txt')).toString()).toBe('hello');
  });

  it('translates NoSuchKey to ObjectNotFoundError', async () => {
    s3Mock
      .on(GetObjectCommand)
      .rejects(new NoSuchKey({ message: 'The specified key does not exist.', ...metadata }));
    const error = await store.get('s3://media/missing.txt').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectNotFoundError);
    expect(error).toMatchObject({ name: 'ObjectNotFoundError', uri: 's3://media/missing.txt' });
    expect((error as Error).cause).toBeInstanceOf(NoSuchKey);
    await expect(store.download('s3://media/missing.txt', '/tmp/never')).rejects.toThrow(ObjectNotFoundError);
  });

  it('wraps other SDK errors with the operation and URI', async () => {
    s3Mock.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'Access Denied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const error = await store.get('s3://media/secret.txt').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error).not.toBeInstanceOf(ObjectNotFoundError);
    expect((error as Error).message).toBe(
      'S3 GetObject failed for s3://media/secret.txt: AccessDenied: Access Denied',
    );
  });

  it('answers exists from HeadObject', async () => {
    s3Mock.on(HeadObjectCommand, { Key: 'there.txt' }).resolves({ ContentLength: 1 });
    s3Mock
      .on(HeadObjectCommand, { Key: 'absent.txt' })
      .rejects(new NotFound({ message: 'NotFound', ...metadata }));
    expect(await store.exists('s3://media/there.txt')).toBe(true);
    expect(await store.exists('s3://media/absent.txt')).toBe(false);
  });

  describe('with local files', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'object-store-s3-test-'));
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('downloads the body to a file', async () => {
      s3Mock.on(GetObjectCommand).resolves({ Body: body('video bytes') });
      await store.download('s3://media/in/clip.mp4', path.join(dir, 'sub', 'clip.mp4'));
      expect(await readFile(path.join(dir, 'sub', 'clip.mp4'), 'utf8')).toBe('video bytes');
    });

    it('uploads a file as a stream with its length', async () => {
      const local = path.join(dir, 'up.mp4');
      await writeFile(local, 'twelve bytes');
      s3Mock.on(PutObjectCommand).resolves({});
      await store.upload(local, 's3://media/out/up.mp4', { contentType: 'video/mp4' });
      const input = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input;
      expect(input).toMatchObject({
        Bucket: 'media',
        Key: 'out/up.mp4',
        ContentLength: 12,
        ContentType: 'video/mp4',
      });
      const sent = input?.Body;
      expect(sent).toBeInstanceOf(Readable);
      if (sent instanceof Readable) sent.destroy();
    });

    it('refuses to upload a missing file', async () => {
      await expect(store.upload(path.join(dir, 'nope.mp4'), 's3://media/x.mp4')).rejects.toThrow(
        ObjectNotFoundError,
      );
    });
  });
});
