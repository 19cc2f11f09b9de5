// An embedded engine over a fresh object root for one test file: the root is a temp folder (a
// file:// URI in DAG_OBJECT_ROOT), removed with the engine after the file's tests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, vi } from 'vitest';
import { EmbeddedEngine } from '../../lib/local/engine.js';
import { OBJECT_ROOT_ENV } from '../../lib/storage/object-store.js';

export interface TempRootEngine {
  readonly engine: EmbeddedEngine;
  /** The object root's folder, and the same as a file:// URI. */
  readonly dir: string;
  readonly root: string;
}

/** Registers the file's beforeAll/afterAll; read the fields inside tests, once beforeAll has run. */
export function tempRootEngine(prefix: string, operatorsDir = 'test/fixtures/operators'): TempRootEngine {
  const state: { engine?: EmbeddedEngine; dir?: string; root?: string } = {};
  beforeAll(async () => {
    state.dir = await mkdtemp(path.join(os.tmpdir(), prefix));
    state.root = pathToFileURL(state.dir).href;
    vi.stubEnv(OBJECT_ROOT_ENV, state.root);
    state.engine = await EmbeddedEngine.start({ operatorsDir, retryDelayMs: 0 });
  });
  afterAll(async () => {
    await state.engine?.close();
    vi.unstubAllEnvs();
    if (state.dir) await rm(state.dir, { recursive: true, force: true });
  });
  return {
    get engine() {
      return state.engine!;
    },
    get dir() {
      return state.dir!;
    },
    get root() {
      return state.root!;
    },
  };
}
