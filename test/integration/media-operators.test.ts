import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as merge } from '../../functions/operators/media/merge.js';
import { handler as probe } from '../../functions/operators/media/probe.js';
import { handler as slice } from '../../functions/operators/media/slice.js';
import { handler as transcode } from '../../functions/operators/media/transcode.js';
import { handler as transcodeWhole } from '../../functions/operators/media/transcode-whole.js';
import type { OperatorEvent } from '../../functions/operators/types.js';
import {
  InvalidInputError,
  type ProbeResult,
  type SliceResult,
  type TranscodedPart,
} from '../../lib/media/contracts.js';
import { FfmpegError, FfmpegTimeoutError, runFfmpeg, runFfprobe } from '../../lib/media/ffmpeg.js';
import { MissingPartError } from '../../lib/media/merge.js';
import { UnsupportedMediaError } from '../../lib/media/probe.js';
import { ensureSampleVideo } from '../../lib/media/sample.js';
import { OBJECT_ROOT_ENV, ObjectNotFoundError, objectStoreFor } from '../../lib/storage/object-store.js';

// Real ffmpeg end to end: a 12 s clip, sliced into 4 s segments, transcoded to 240p, merged back.
const SAMPLE = { seconds: 12, width: 480, height: 270 };

let dir: string;
let source: string;

function event(node: string, input: unknown, order?: number): OperatorEvent {
  const task = { id: 'task-1', workflow: 'slice-transcode' };
  return {
    task,
    node: { name: node, eventId: `${task.id}_${node}`, attempt: 1 },
    ...(order === undefined ? {} : { segment: { id: `${task.id}_${node}_${order}`, order } }),
    input,
  };
}

async function streamsOf(file: string): Promise<string[]> {
  const { stdout } = await runFfprobe(['-show_entries', 'stream=codec_type', '-of', 'csv=p=0', file]);
  return stdout.split('\n').filter((line) => line !== '');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'media-operators-'));
  vi.stubEnv(OBJECT_ROOT_ENV, pathToFileURL(path.join(dir, 'objects')).href);
  source = await ensureSampleVideo(path.join(dir, 'sample.mp4'), SAMPLE);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('ensureSampleVideo', () => {
  it('keeps an existing clip', async () => {
    const before = await stat(source);
    await ensureSampleVideo(source, SAMPLE);
    expect((await stat(source)).mtimeMs).toBe(before.mtimeMs);
  });
});

describe('slice -> transcode -> merge', () => {
  let probed: ProbeResult;
  let sliced: SliceResult;
  let parts: TranscodedPart[];

  it('probes the source', async () => {
    probed = await probe(event('probe', { source }));
    expect(probed).toMatchObject({
      source,
      width: 480,
      height: 270,
      videoCodec: 'h264',
      audioCodec: 'aac',
      fps: 25,
      keyframeIntervalSec: 2,
    });
    expect(probed.durationSec).toBeCloseTo(SAMPLE.seconds, 1);
    expect(probed.sizeBytes).toBe((await stat(source)).size);
    expect(probed.bitRate).toBeGreaterThan(0);
  });

  it('probes the task input of a node without an input template', async () => {
    const fromTaskInput = await probe(
      event('probe', { input: { source: pathToFileURL(source).href }, nodes: {} }),
    );
    expect(fromTaskInput).toMatchObject({ durationSec: probed.durationSec, width: 480 });
  });

  it('slices at keyframes into segments that add up to the source', async () => {
    sliced = await slice(event('slice', { source: pathToFileURL(source).href, seconds: 4 }));
    expect(sliced.segments.map((s) => [s.index, s.startSec])).toEqual([
      [0, 0],
      [1, 4],
      [2, 8],
    ]);
    const total = sliced.segments.reduce((sum, s) => sum + s.durationSec, 0);
    expect(Math.abs(total - probed.durationSec)).toBeLessThanOrEqual(0.1);
    for (const segment of sliced.segments) {
      expect(segment.uri).toMatch(/\/objects\/task-1\/slice\/segment-00\d\.mp4$/);
      expect(await objectStoreFor(segment.uri).exists(segment.uri)).toBe(true);
    }
  });

  it('transcodes every segment', async () => {
    parts = await Promise.all(
      sliced.segments.map((segment, order) =>
        transcode(event('transcode', { segment, preset: '240p' }, order)),
      ),
    );
    parts.forEach((part, i) => {
      expect(part).toMatchObject({ index: i, width: 426, height: 240 });
      expect(part.durationSec).toBeCloseTo(sliced.segments[i]!.durationSec, 1);
    });
  });

  it('merges the parts into a file as long as the source that plays through', async () => {
    const merged = await merge(event('merge', { parts }));
    expect(merged).toMatchObject({ width: 426, height: 240 });
    expect(Math.abs(merged.durationSec - probed.durationSec)).toBeLessThanOrEqual(0.2);

    const file = fileURLToPath(merged.uri);
    expect(merged.sizeBytes).toBe((await stat(file)).size);
    expect(await streamsOf(file)).toEqual(['video', 'audio']);
    const decoded = await runFfmpeg(['-v', 'error', '-i', file, '-f', 'null', '-']);
    expect(decoded.stderr).toBe('');
  });

  it('refuses to merge around a failed part', async () => {
    const withGap = [parts[0], null, parts[2]];
    await expect(merge(event('merge', { parts: withGap }))).rejects.toThrow(MissingPartError);
    await expect(merge(event('merge', { parts: withGap }))).rejects.toThrow(/parts\[1\] is null/);
  });
});

describe('transcode-whole', () => {
  it('transcodes the task input in one go', async () => {
    const result = await transcodeWhole(event('whole', { input: { source, preset: '240p' }, nodes: {} }));
    expect(result).toMatchObject({ width: 426, height: 240 });
    expect(result.durationSec).toBeCloseTo(SAMPLE.seconds, 1);
    expect(result.uri).toMatch(/\/objects\/task-1\/whole\/240p\.mp4$/);
    expect(await streamsOf(fileURLToPath(result.uri))).toEqual(['video', 'audio']);
  });
});

describe('bad inputs', () => {
  it('names a missing source', async () => {
    await expect(probe(event('probe', {}))).rejects.toThrow(InvalidInputError);
    await expect(probe(event('probe', { nodes: {} }))).rejects.toThrow(
      'media/probe: invalid input: source is missing (expected string)',
    );
  });

  it('names a field of the wrong type', async () => {
    await expect(slice(event('slice', { source, seconds: 'four' }))).rejects.toThrow(
      'media/slice: invalid input: seconds: Invalid input: expected number, received string',
    );
    await expect(
      transcode(
        event('transcode', { segment: { uri: source, index: 0, startSec: 0, durationSec: 4 }, preset: '4k' }),
      ),
    ).rejects.toThrow(/media\/transcode: invalid input: preset/);
  });

  it('says a file that is not video is not media', async () => {
    const notes = path.join(dir, 'notes.mp4');
    await writeFile(notes, 'these are meeting notes, not a video\n');
    const error = await probe(event('probe', { source: notes })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedMediaError);
    expect((error as Error).message).toBe(
      `'${notes}' is not a media file ffprobe can read: Invalid data found when processing input`,
    );
    await expect(slice(event('slice', { source: notes, seconds: 4 }))).rejects.toThrow(UnsupportedMediaError);
  });

  it('says a missing file is missing', async () => {
    await expect(probe(event('probe', { source: path.join(dir, 'nope.mp4') }))).rejects.toThrow(
      ObjectNotFoundError,
    );
  });
});

describe('runFfmpeg', () => {
  it('reports the exit code and the end of stderr', async () => {
    const error = await runFfmpeg(['-i', path.join(dir, 'absent.mp4'), '-f', 'null', '-']).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FfmpegError);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toMatch(/^ffmpeg exited with code 1: .*No such file or directory/);
  });

  it('kills a process that outlives its timeout', async () => {
    const endless = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5', '-f', 'null', '-'];
    const started = Date.now();
    await expect(runFfmpeg(endless, { timeoutMs: 300 })).rejects.toThrow(FfmpegTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('kills a process when aborted', async () => {
    const endless = ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5', '-f', 'null', '-'];
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await expect(runFfmpeg(endless, { signal: controller.signal })).rejects.toMatchObject({
      name: 'FfmpegAbortedError',
    });
  });
});
