import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

/**
 * Objects addressed by URI: `file:///abs/path` locally, `s3://bucket/key` on AWS. A plain path (no
 * scheme) is a local file, resolved against the working directory, so users can pass what they have.
 */
export interface ObjectStore {
  put(uri: string, body: ObjectBody, options?: PutOptions): Promise<void>;
  /** The whole object in memory: for payloads and manifests, not media (use `download`). */
  get(uri: string): Promise<Buffer>;
  /** Copies the object to a local file (parent folders created), replacing it. */
  download(uri: string, localPath: string): Promise<void>;
  /** Copies a local file to the object, replacing it. */
  upload(localPath: string, uri: string, options?: PutOptions): Promise<void>;
  exists(uri: string): Promise<boolean>;
  /** Deleting an object that does not exist is not an error. */
  delete(uri: string): Promise<void>;
}

export type ObjectBody = Buffer | Readable | string;

export interface PutOptions {
  contentType?: string;
}

export type ObjectLocation = { scheme: 'file'; path: string } | { scheme: 's3'; bucket: string; key: string };

/** The env var naming where operators write their outputs (a `file://` or `s3://` URI, or a path). */
export const OBJECT_ROOT_ENV = 'DAG_OBJECT_ROOT';

export class ObjectStoreError extends Error {
  readonly uri: string;

  constructor(message: string, uri: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ObjectStoreError';
    this.uri = uri;
  }
}

export class ObjectNotFoundError extends ObjectStoreError {
  constructor(uri: string, options?: ErrorOptions) {
    super(`Object not found: ${uri}`, uri, options);
    this.name = 'ObjectNotFoundError';
  }
}

export class InvalidObjectUriError extends ObjectStoreError {
  constructor(uri: string, reason: string, options?: ErrorOptions) {
    super(`Invalid object URI '${uri}': ${reason}`, uri, options);
    this.name = 'InvalidObjectUriError';
  }
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

export function parseObjectUri(uri: string): ObjectLocation {
  if (uri.trim() === '') throw new InvalidObjectUriError(uri, 'it is empty');
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return { scheme: 'file', path: path.resolve(uri) };
  if (scheme === 's3') {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1);
    if (bucket === '' || key === '') {
      throw new InvalidObjectUriError(uri, 'expected s3://bucket/key');
    }
    return { scheme: 's3', bucket, key };
  }
  if (scheme === 'file') {
    try {
      return { scheme: 'file', path: fileURLToPath(uri) };
    } catch (error) {
      throw new InvalidObjectUriError(uri, 'expected file:///absolute/path', { cause: error });
    }
  }
  throw new InvalidObjectUriError(uri, `unsupported scheme '${scheme}' (use file://, s3:// or a path)`);
}

/**
 * The URI of an object under `root` (`outputUri('s3://b/out', taskId, 'slice', 'segment-000.mp4')`).
 * Parts may hold `/` but never `.` or `..` segments, so ids from events cannot escape the root.
 */
export function outputUri(root: string, ...parts: string[]): string {
  const segments = parts.flatMap((part) => part.split('/'));
  const bad = segments.find((segment) => segment === '' || segment === '.' || segment === '..');
  if (bad !== undefined) {
    throw new InvalidObjectUriError(
      root,
      `cannot append path part '${bad}' (parts: ${JSON.stringify(parts)})`,
    );
  }
  const location = parseObjectUri(root);
  if (location.scheme === 's3') {
    const prefix = location.key.replace(/\/+$/, '');
    return `s3://${location.bucket}/${[prefix, ...segments].filter((s) => s !== '').join('/')}`;
  }
  return pathToFileURL(path.join(location.path, ...segments)).href;
}

/**
 * The bucket name that stands for the embedded engine's object root where Step Functions fields want a
 * bucket and a key (a Distributed Map's ItemReader and ResultWriter): `dag-objects/<key>` is
 * `<root>/<key>`. Not a valid name for a real bucket of ours, so the two never mix.
 */
export const LOCAL_OBJECTS_BUCKET = 'dag-objects';

/** An object's bucket and key, as Step Functions' S3 fields name it; a file under `root` gets the local bucket. */
export function bucketKeyOf(uri: string, root: string): { readonly bucket: string; readonly key: string } {
  const location = parseObjectUri(uri);
  if (location.scheme === 's3') return { bucket: location.bucket, key: location.key };
  const base = parseObjectUri(root);
  const relative = base.scheme === 'file' ? path.relative(base.path, location.path) : '';
  if (relative === '' || path.isAbsolute(relative) || relative.split(path.sep)[0] === '..')
    throw new InvalidObjectUriError(uri, `a local object must be under the object root ${root}`);
  return { bucket: LOCAL_OBJECTS_BUCKET, key: relative.split(path.sep).join('/') };
}

/** The URI of `bucket`/`key`: `s3://bucket/key`, or for the local bucket the file under `root`. */
export function uriOfBucketKey(bucket: string, key: string, root: string): string {
  if (bucket !== LOCAL_OBJECTS_BUCKET) return `s3://${bucket}/${key}`;
  return outputUri(root, key);
}

/**
 * Where operators write outputs. Read on every call rather than once at import: the embedded engine
 * and tests point it at a fresh folder per run after the operator modules are already loaded.
 */
export function objectRoot(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env[OBJECT_ROOT_ENV]?.trim();
  if (configured) return configured;
  return pathToFileURL(path.join(process.cwd(), '.data', 'objects')).href;
}

/** The last path segment of a URI or path (`s3://b/a/clip.mp4` -> `clip.mp4`). */
export function objectBaseName(uri: string): string {
  const location = parseObjectUri(uri);
  return location.scheme === 's3' ? path.posix.basename(location.key) : path.basename(location.path);
}

export class FileObjectStore implements ObjectStore {
  async put(uri: string, body: ObjectBody): Promise<void> {
    const target = this.localPath(uri);
    await writeAtomically(target, async (temp) => {
      if (body instanceof Readable) await pipeline(body, createWriteStream(temp));
      else await writeFile(temp, body);
    });
  }

  async get(uri: string): Promise<Buffer> {
    try {
      return await readFile(this.localPath(uri));
    } catch (error) {
      throw translateFileError(error, uri);
    }
  }

  async download(uri: string, localPath: string): Promise<void> {
    const source = this.localPath(uri);
    const target = path.resolve(localPath);
    if (source === target) {
      if (!(await this.exists(uri))) throw new ObjectNotFoundError(uri);
      return;
    }
    await mkdir(path.dirname(target), { recursive: true });
    try {
      await copyFile(source, target);
    } catch (error) {
      throw translateFileError(error, uri);
    }
  }

  async upload(localPath: string, uri: string): Promise<void> {
    const source = path.resolve(localPath);
    const target = this.localPath(uri);
    if (source === target) return;
    await writeAtomically(target, async (temp) => {
      try {
        await copyFile(source, temp);
      } catch (error) {
        throw translateFileError(error, pathToFileURL(source).href);
      }
    });
  }

  async exists(uri: string): Promise<boolean> {
    try {
      return (await stat(this.localPath(uri))).isFile();
    } catch (error) {
      if (isErrnoException(error) && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) return false;
      throw error;
    }
  }

  async delete(uri: string): Promise<void> {
    await rm(this.localPath(uri), { force: true });
  }

  private localPath(uri: string): string {
    const location = parseObjectUri(uri);
    if (location.scheme !== 'file') throw new InvalidObjectUriError(uri, 'the file store takes file:// URIs');
    return location.path;
  }
}

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly client: S3Client = new S3Client({})) {}

  async put(uri: string, body: ObjectBody, options: PutOptions = {}): Promise<void> {
    const { bucket, key } = this.location(uri);
    // PutObject needs a known length and multipart upload (lib-storage) is not a dependency, so a
    // stream is buffered: `put` is for payloads; media files go through `upload`.
    const bytes = body instanceof Readable ? await readAll(body) : body;
    await this.call(uri, 'PutObject', () =>
      this.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: options.contentType }),
      ),
    );
  }

  async get(uri: string): Promise<Buffer> {
    const { bucket, key } = this.location(uri);
    const response = await this.call(uri, 'GetObject', () =>
      this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
    );
    if (response.Body === undefined) return Buffer.alloc(0);
    return Buffer.from(await response.Body.transformToByteArray());
  }

  async download(uri: string, localPath: string): Promise<void> {
    const { bucket, key } = this.location(uri);
    const response = await this.call(uri, 'GetObject', () =>
      this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
    );
    const body = response.Body;
    await writeAtomically(path.resolve(localPath), async (temp) => {
      if (body instanceof Readable) await pipeline(body, createWriteStream(temp));
      else await writeFile(temp, body === undefined ? new Uint8Array() : await body.transformToByteArray());
    });
  }

  async upload(localPath: string, uri: string, options: PutOptions = {}): Promise<void> {
    const { bucket, key } = this.location(uri);
    let size: number;
    try {
      size = (await stat(localPath)).size;
    } catch (error) {
      throw translateFileError(error, pathToFileURL(path.resolve(localPath)).href);
    }
    // A single PUT takes up to 5 GB; larger media would need multipart upload.
    await this.call(uri, 'PutObject', () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: createReadStream(localPath),
          ContentLength: size,
          ContentType: options.contentType,
        }),
      ),
    );
  }

  async exists(uri: string): Promise<boolean> {
    const { bucket, key } = this.location(uri);
    try {
      await this.call(uri, 'HeadObject', () =>
        this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
      );
      return true;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) return false;
      throw error;
    }
  }

  async delete(uri: string): Promise<void> {
    const { bucket, key } = this.location(uri);
    await this.call(uri, 'DeleteObject', () =>
      this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })),
    );
  }

  private location(uri: string): { bucket: string; key: string } {
    const location = parseObjectUri(uri);
    if (location.scheme !== 's3') throw new InvalidObjectUriError(uri, 'the S3 store takes s3:// URIs');
    return location;
  }

  /** Runs one SDK call, translating its errors so callers never see SDK exception types. */
  private async call<T>(uri: string, operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateS3Error(error, uri, operation);
    }
  }
}

/** `NoSuchKey` (GET), `NotFound` (HEAD, which has no body to name the error) and `NoSuchBucket`. */
const S3_NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket']);

function translateS3Error(error: unknown, uri: string, operation: string): Error {
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  if (error instanceof Error && (S3_NOT_FOUND.has(error.name) || status === 404)) {
    return new ObjectNotFoundError(uri, { cause: error });
  }
  const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new ObjectStoreError(`S3 ${operation} failed for ${uri}: ${detail}`, uri, { cause: error });
}

function translateFileError(error: unknown, uri: string): unknown {
  if (isErrnoException(error) && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) {
    return new ObjectNotFoundError(uri, { cause: error });
  }
  if (isErrnoException(error) && error.code === 'EISDIR') {
    return new ObjectStoreError(`Not a file but a folder: ${uri}`, uri, { cause: error });
  }
  return error;
}

/**
 * Writes next to the target then renames, so a reader (or `exists`) never sees a half-written object
 * and a crashed writer leaves no object behind.
 */
async function writeAtomically(target: string, write: (temp: string) => Promise<void>): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.${randomUUID()}.partial`;
  try {
    await write(temp);
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

let fileStore: FileObjectStore | undefined;
let s3Store: S3ObjectStore | undefined;

/**
 * The store for a URI's scheme. Stores are built once per process (the S3 client on first use, so
 * local runs never need AWS configuration).
 */
export function objectStoreFor(uri: string): ObjectStore {
  const location = parseObjectUri(uri);
  if (location.scheme === 's3') {
    s3Store ??= new S3ObjectStore();
    return s3Store;
  }
  fileStore ??= new FileObjectStore();
  return fileStore;
}
