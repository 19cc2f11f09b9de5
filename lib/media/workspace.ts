import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ObjectNotFoundError,
  objectBaseName,
  objectStoreFor,
  parseObjectUri,
} from '../storage/object-store.js';

/**
 * Runs `work` in a fresh temp folder and removes the folder afterwards, failed or not: a warm Lambda
 * keeps /tmp (512 MB by default) between invocations.
 */
export async function withWorkDir<T>(label: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `dag-${label}-`));
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A local path ffmpeg can read for `uri`. Local files are read in place (media can be large and
 * operators never write to their inputs); remote objects are downloaded into `dir` under `name`,
 * keeping the extension because ffmpeg uses it to recognise some formats.
 */
export async function stageLocal(uri: string, dir: string, name: string): Promise<string> {
  const location = parseObjectUri(uri);
  const store = objectStoreFor(uri);
  if (location.scheme === 'file') {
    if (!(await store.exists(uri))) throw new ObjectNotFoundError(uri);
    return location.path;
  }
  const local = path.join(dir, `${name}${path.extname(objectBaseName(uri))}`);
  await store.download(uri, local);
  return local;
}

/**
 * Maps with at most `limit` calls in flight. On a failure it starts nothing new, waits for the calls
 * in flight (their processes may still be writing into a work folder about to be removed), then
 * throws the first error.
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  map: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await map(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}
