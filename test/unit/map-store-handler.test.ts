// The map-store Lambda over a real object root (a temp folder, as file://): `stage` writes a parallel
// node's items where the ItemReader reads them and says where; an input it cannot use is rejected.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler } from '../../functions/map-store/handler.js';
import { ENV } from '../../lib/config/env.js';
import { MapStoreInputError } from '../../lib/runtime/map-store.js';

const TASK = '0190f3c2-0000-7000-8000-000000000004';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dag-map-store-'));
  vi.stubEnv(ENV.OBJECT_ROOT, pathToFileURL(dir).href);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('the map-store Lambda', () => {
  it("stages a parallel node's items as one JSON object under the object root", async () => {
    const staged = await handler({
      action: 'stage',
      task: { id: TASK, workflow: 'flow' },
      node: 'encode',
      items: '$.nodes.split.segments',
      nodes: { split: { segments: [1, 2, 3] } },
    });
    expect(staged).toEqual({ bucket: 'dag-objects', key: `${TASK}/encode/items.json`, count: 3 });
    expect(JSON.parse(await readFile(path.join(dir, TASK, 'encode', 'items.json'), 'utf8'))).toEqual([
      1, 2, 3,
    ]);
  });

  it('rejects an input that is neither stage nor collect', async () => {
    await expect(handler({ action: 'nope' })).rejects.toThrow(MapStoreInputError);
    await expect(handler({ action: 'nope' })).rejects.toMatchObject({ name: 'MapStoreInputError' });
  });
});
