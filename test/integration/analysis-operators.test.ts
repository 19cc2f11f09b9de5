import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { handler as highlights } from '../../functions/operators/analysis/highlights.js';
import { handler as keyframes } from '../../functions/operators/analysis/keyframes.js';
import { handler as loudness } from '../../functions/operators/analysis/loudness.js';
import { handler as thumbnails } from '../../functions/operators/analysis/thumbnails.js';
import { handler as probe } from '../../functions/operators/media/probe.js';
import type { OperatorEvent } from '../../functions/operators/types.js';
import {
  type KeyframesResult,
  type LoudnessResult,
  SILENCE_DB,
  spreadEvenly,
} from '../../lib/media/analysis.js';
import { InvalidInputError } from '../../lib/media/contracts.js';
import { runFfmpeg, runFfprobe } from '../../lib/media/ffmpeg.js';
import { UnsupportedMediaError } from '../../lib/media/probe.js';
import { ensureSampleVideo } from '../../lib/media/sample.js';
import { OBJECT_ROOT_ENV, ObjectNotFoundError } from '../../lib/storage/object-store.js';

// Real ffmpeg on small clips: 8 s with a keyframe every 2 s and a steady 440 Hz tone (about
// -21 dBFS RMS, -18 dBFS peak), plus 2 s clips with no audio track and with a silent one.
const SAMPLE = { seconds: 8, width: 320, height: 180 };
const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);

let dir: string;
let source: string;
let noAudio: string;
let silent: string;

function event(node: string, input: unknown): OperatorEvent {
  const task = { id: 'task-1', workflow: 'media-analysis' };
  return { task, node: { name: node, eventId: `${task.id}_${node}`, attempt: 1 }, input };
}

/** A 2 s 160x90 clip: `audio` adds a track of digital silence. */
async function makeClip(file: string, audio: boolean): Promise<string> {
  await runFfmpeg([
    ...['-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25:duration=2'],
    ...(audio ? ['-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-map', '0:v', '-map', '1:a'] : []),
    ...['-t', '2', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-g', '50'],
    ...(audio ? ['-c:a', 'aac'] : []),
    file,
  ]);
  return file;
}

async function streamOf(file: string): Promise<string> {
  const { stdout } = await runFfprobe([
    '-show_entries',
    'stream=codec_name,width,height',
    '-of',
    'csv=p=0',
    file,
  ]);
  return stdout.trim();
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'analysis-operators-'));
  vi.stubEnv(OBJECT_ROOT_ENV, pathToFileURL(path.join(dir, 'objects')).href);
  [source, noAudio, silent] = await Promise.all([
    ensureSampleVideo(path.join(dir, 'sample.mp4'), SAMPLE),
    makeClip(path.join(dir, 'no-audio.mp4'), false),
    makeClip(path.join(dir, 'silent.mp4'), true),
  ]);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('the media-analysis operators on one clip', () => {
  let times: KeyframesResult['times'];
  let windows: LoudnessResult['windows'];

  it('lists the keyframes, every 2 s', async () => {
    ({ times } = await keyframes(event('keyframes', { source: pathToFileURL(source).href })));
    expect(times).toEqual([0, 2, 4, 6]);
    // A node without an input template gets the task input one level down.
    await expect(keyframes(event('keyframes', { input: { source }, nodes: {} }))).resolves.toEqual({ times });
  });

  it('measures loudness in 1 s windows over the whole duration', async () => {
    const { durationSec } = await probe(event('probe', { source }));
    ({ windows } = await loudness(event('loudness', { source, durationSec })));
    expect(windows.map((w) => w.startSec)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const window of windows) {
      expect(window.meanDb).toBeGreaterThan(-24);
      expect(window.meanDb).toBeLessThan(-18);
      expect(window.peakDb).toBeGreaterThan(window.meanDb);
      expect(window.peakDb).toBeLessThan(-15);
    }
  });

  it('takes other window lengths, the last window ending with the source', async () => {
    const half = await loudness(event('loudness', { source, windowSec: 0.75 }));
    expect(half.windows).toHaveLength(11);
    expect(half.windows.at(-1)!.startSec).toBe(7.5);
    const firstThree = await loudness(event('loudness', { source, durationSec: 3 }));
    expect(firstThree.windows.map((w) => w.startSec)).toEqual([0, 1, 2]);
  });

  it('makes 320 px JPEG thumbnails at keyframes spread over the list', async () => {
    expect(spreadEvenly(times, 3)).toEqual([0, 4, 6]);
    const { uris } = await thumbnails(event('thumbnails', { source, keyframes: times, count: 3 }));
    expect(uris).toHaveLength(3);
    for (const [i, uri] of uris.entries()) {
      expect(uri).toMatch(new RegExp(`/objects/task-1/thumbnails/thumb-0${i}\\.jpg$`));
      const file = fileURLToPath(uri);
      expect((await readFile(file)).subarray(0, 3)).toEqual(JPEG_MAGIC);
      expect(await streamOf(file)).toBe('mjpeg,320,180');
    }
  });

  it('makes one thumbnail per keyframe when asked for more than there are', async () => {
    const { uris } = await thumbnails(event('thumbnails', { source, keyframes: times, count: 10 }));
    expect(uris).toHaveLength(times.length);
  });

  it('picks highlights on keyframes', async () => {
    const { moments } = await highlights(event('highlights', { keyframes: times, loudness: windows }));
    expect(moments).toHaveLength(3);
    for (const moment of moments) expect(times).toContain(moment.atSec);
    expect(moments.map((m) => m.atSec)).toEqual([...moments.map((m) => m.atSec)].sort((a, b) => a - b));
    expect(Math.max(...moments.map((m) => m.score))).toBe(Math.max(...windows.map((w) => w.meanDb)));
  });
});

describe('sources without sound', () => {
  it('gives no loudness windows for a source with no audio track', async () => {
    await expect(loudness(event('loudness', { source: noAudio }))).resolves.toEqual({ windows: [] });
    await expect(keyframes(event('keyframes', { source: noAudio }))).resolves.toEqual({ times: [0] });
  });

  it('puts digital silence at the floor', async () => {
    const { windows } = await loudness(event('loudness', { source: silent }));
    expect(windows.map((w) => w.startSec)).toEqual([0, 1]);
    for (const window of windows) expect(window).toMatchObject({ meanDb: SILENCE_DB, peakDb: SILENCE_DB });
  });
});

describe('bad inputs', () => {
  it('names the bad field', async () => {
    await expect(loudness(event('loudness', { source, windowSec: 0 }))).rejects.toThrow(InvalidInputError);
    await expect(loudness(event('loudness', { source, windowSec: 0 }))).rejects.toThrow(
      /^analysis\/loudness: invalid input: windowSec: /,
    );
    await expect(thumbnails(event('thumbnails', { source, keyframes: [0] }))).rejects.toThrow(
      'analysis/thumbnails: invalid input: count is missing (expected number)',
    );
    await expect(keyframes(event('keyframes', {}))).rejects.toThrow(
      'analysis/keyframes: invalid input: source is missing (expected string)',
    );
  });

  it('refuses thumbnails past the end of the source', async () => {
    await expect(thumbnails(event('thumbnails', { source, keyframes: [0, 12], count: 2 }))).rejects.toThrow(
      /^analysis\/thumbnails: invalid input: keyframes\[1\] is 12 s, past the end of /,
    );
  });

  it('keeps the media errors', async () => {
    await expect(keyframes(event('keyframes', { source: path.join(dir, 'nope.mp4') }))).rejects.toThrow(
      ObjectNotFoundError,
    );
    // The operators work on videos: an audio-only file is refused like any non-video.
    const audioOnly = path.join(dir, 'tone.wav');
    await runFfmpeg(['-f', 'lavfi', '-i', 'sine=duration=0.5', audioOnly]);
    await expect(loudness(event('loudness', { source: audioOnly }))).rejects.toThrow(UnsupportedMediaError);
  });
});
