import { access } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { objectStoreFor, outputUri } from '../storage/object-store.js';
import { InvalidInputError } from './contracts.js';
import { type RunOptions, runFfmpeg, runFfprobe } from './ffmpeg.js';
import type { LoudnessWindow } from './highlights.js';
import { listVideoKeyframes, openMedia } from './probe.js';
import { mapConcurrent, stageLocal, withWorkDir } from './workspace.js';

/*
 * The analysis operators that read media (functions/operators/analysis/keyframes, loudness,
 * thumbnails). Times in their inputs and outputs are seconds from the start of the source's
 * timeline, so keyframes, loudness windows and highlights line up with one another.
 */

const source = z.string().trim().min(1);

export const keyframesInputSchema = z.object({ source });

export const DEFAULT_WINDOW_SEC = 1;

export const loudnessInputSchema = z.object({
  source,
  /** Analyse only this much of the source (probe's `durationSec` in the example workflow). */
  durationSec: z.number().positive().optional(),
  // Each window is one audio frame in memory: an hour-long window would not fit a Lambda.
  windowSec: z.number().min(0.1).max(60).default(DEFAULT_WINDOW_SEC),
});

export const MAX_THUMBNAILS = 100;

export const thumbnailsInputSchema = z.object({
  source,
  keyframes: z.array(z.number().nonnegative()),
  count: z.number().int().positive().max(MAX_THUMBNAILS),
});

export interface KeyframesResult {
  /** Keyframe times, ascending, without repeats. */
  times: number[];
}

export interface LoudnessResult {
  windows: LoudnessWindow[];
}

export interface ThumbnailsResult {
  /** One JPEG per picked keyframe, in time order. */
  uris: string[];
}

/** ffmpeg exited cleanly but wrote no picture (the time is past the last frame it could decode). */
export class ThumbnailError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ThumbnailError';
  }
}

/** Float noise from subtracting timestamps must not show in outputs (2.0000000001). */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
const round2 = (n: number) => Math.round(n * 100) / 100;

/** The keyframes operator: every keyframe of the first video stream, from its packet list. */
export async function listKeyframeTimes(source: string, options: RunOptions = {}): Promise<KeyframesResult> {
  return withWorkDir('keyframes', async (dir) => {
    const { file, info } = await openMedia(await stageLocal(source, dir, 'source'), dir, options, source);
    const keyframes = await listVideoKeyframes(file, options);
    // Packets come in decoding order; keyframe pts are ascending in practice, but sorting is cheap.
    const times = keyframes.map((key) => round6(Math.max(0, key.timeSec - info.startSec)));
    return { times: [...new Set(times)].sort((a, b) => a - b) };
  });
}

export interface LoudnessOptions extends RunOptions {
  durationSec?: number;
  windowSec?: number;
}

/**
 * Digital silence has no level in dB (astats prints `-inf`, or a meaningless -6000 dB peak); JSON
 * cannot carry -Infinity, and a floor far below anything audible ranks silence last all the same.
 */
export const SILENCE_DB = -120;

/**
 * The loudness operator: the first audio stream's RMS level (`meanDb`) and peak level (`peakDb`),
 * in dBFS over all channels, per `windowSec` window. A source without audio has no windows. The
 * last window may be shorter than `windowSec`.
 */
export async function measureLoudness(
  source: string,
  options: LoudnessOptions = {},
): Promise<LoudnessResult> {
  const { durationSec, windowSec = DEFAULT_WINDOW_SEC, ...run } = options;
  return withWorkDir('loudness', async (dir) => {
    const { file, info } = await openMedia(await stageLocal(source, dir, 'source'), dir, run, source);
    if (info.audioCodec === undefined) return { windows: [] };
    const sampleRate = await audioSampleRate(file, run);
    if (sampleRate === undefined) return { windows: [] };
    const { stdout } = await runFfmpeg(loudnessArgs(file, { sampleRate, windowSec, durationSec }), run);
    // The AAC decoder in ffmpeg 4.1 emits a few hundred samples of encoder padding past the
    // stream's end; a window starting there would be a few milliseconds of nothing.
    const endSec = Math.min(durationSec ?? Number.POSITIVE_INFINITY, info.durationSec);
    const windows = parseLoudnessReport(stdout, windowSec).filter((w) => w.startSec < endSec - 1e-3);
    return { windows };
  });
}

async function audioSampleRate(file: string, options: RunOptions): Promise<number | undefined> {
  const { stdout } = await runFfprobe(
    ['-select_streams', 'a:0', '-show_entries', 'stream=sample_rate', '-of', 'csv=p=0', file],
    options,
  );
  const rate = Number.parseInt(stdout.trim().split('\n')[0] ?? '', 10);
  return Number.isFinite(rate) && rate > 0 ? rate : undefined;
}

/**
 * ffmpeg arguments that print per-window audio statistics on stdout. `asetnsamples` makes each
 * audio frame exactly one window (unpadded, so a short last window is not diluted with silence),
 * `astats` with `reset=1` measures each frame on its own, and `ametadata` prints what it measured.
 * `-t` before `-i` stops reading the source there. Pure.
 */
export function loudnessArgs(
  input: string,
  { sampleRate, windowSec, durationSec }: { sampleRate: number; windowSec: number; durationSec?: number },
): string[] {
  const samples = Math.max(1, Math.round(sampleRate * windowSec));
  const filters = [
    `asetnsamples=n=${samples}:p=0`,
    'astats=metadata=1:reset=1',
    'ametadata=mode=print:file=-',
  ].join(',');
  return [
    ...(durationSec === undefined ? [] : ['-t', String(durationSec)]),
    ...['-i', input, '-map', '0:a:0', '-af', filters, '-f', 'null', '-'],
  ];
}

const FRAME_LINE = /^frame:\s*(\d+)\s+pts:\s*(\S+)\s+pts_time:\s*(\S+)/;
const LEVEL_LINE = /^lavfi\.astats\.Overall\.(RMS_level|Peak_level)=(.*)$/;

/**
 * Reads `ametadata=mode=print` output: a `frame:N pts:P pts_time:T` line, then `key=value` lines,
 * per window. Only the overall (all channels) RMS and peak levels are kept; a window missing either
 * is dropped rather than guessed. `-inf` and anything below `SILENCE_DB` become `SILENCE_DB`. Pure.
 */
export function parseLoudnessReport(report: string, windowSec: number): LoudnessWindow[] {
  const windows: LoudnessWindow[] = [];
  let current: { startSec: number; meanDb?: number; peakDb?: number } | undefined;
  const flush = () => {
    if (current?.meanDb !== undefined && current.peakDb !== undefined) {
      windows.push({ startSec: current.startSec, meanDb: current.meanDb, peakDb: current.peakDb });
    }
  };
  for (const raw of report.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    const frame = FRAME_LINE.exec(line);
    if (frame) {
      flush();
      const ptsTime = Number.parseFloat(frame[3]!);
      // No usable pts: fall back to the frame's position, which is the same when audio starts at 0.
      const at = Number.isFinite(ptsTime) ? ptsTime : Number(frame[1]) * windowSec;
      current = { startSec: round6(Math.max(0, at)) };
      continue;
    }
    const level = LEVEL_LINE.exec(line);
    if (level && current !== undefined) {
      const db = decibels(level[2]!);
      if (db === undefined) continue;
      if (level[1] === 'RMS_level') current.meanDb = db;
      else current.peakDb = db;
    }
  }
  flush();
  return windows;
}

function decibels(text: string): number | undefined {
  const value = text.trim().toLowerCase();
  if (value === '-inf' || value === '-infinity') return SILENCE_DB;
  const db = Number.parseFloat(value);
  if (!Number.isFinite(db)) return undefined;
  return round2(Math.max(db, SILENCE_DB));
}

export interface ThumbnailOptions extends RunOptions {
  /** Where the thumbnails go: `<outputPrefix>/thumb-00.jpg`, ... */
  outputPrefix: string;
  /** Pictures are scaled down to this width (never up); the height keeps the aspect ratio. */
  width?: number;
}

export const THUMBNAIL_WIDTH = 320;
const THUMBNAIL_CONCURRENCY = 4;

/**
 * The thumbnails operator: one JPEG at each of `count` keyframes picked evenly from `keyframes`
 * (all of them when there are no more than `count`). Keyframes decode on their own, so each
 * picture costs one seek and one decoded frame.
 */
export async function extractThumbnails(
  source: string,
  keyframes: readonly number[],
  count: number,
  options: ThumbnailOptions,
): Promise<ThumbnailsResult> {
  const { outputPrefix, width = THUMBNAIL_WIDTH, ...run } = options;
  const ordered = [...new Set(keyframes)].sort((a, b) => a - b);
  const times = spreadEvenly(ordered, count);
  return withWorkDir('thumbnails', async (dir) => {
    const { file, info } = await openMedia(await stageLocal(source, dir, 'source'), dir, run, source);
    // Checked before any picture: ffmpeg would exit cleanly and write nothing for such a time.
    const late = keyframes.findIndex((t) => t >= info.durationSec);
    if (late >= 0) {
      throw new InvalidInputError(
        `analysis/thumbnails: invalid input: keyframes[${late}] is ${keyframes[late]} s, past the end of '${source}' (${info.durationSec} s); pass this source's keyframes`,
      );
    }
    const uris = await mapConcurrent(times, THUMBNAIL_CONCURRENCY, async (atSec, i) => {
      const name = `thumb-${String(i).padStart(2, '0')}.jpg`;
      const local = path.join(dir, name);
      await runFfmpeg(thumbnailArgs(file, local, atSec, width), run);
      try {
        await access(local);
      } catch (error) {
        throw new ThumbnailError(`ffmpeg wrote no picture at ${atSec} s of '${source}'`, { cause: error });
      }
      const uri = outputUri(outputPrefix, name);
      await objectStoreFor(uri).upload(local, uri, { contentType: 'image/jpeg' });
      return uri;
    });
    return { uris };
  });
}

/**
 * `count` items spread evenly over `items` (all of them when there are no more): the middle item
 * of each of `count` equal runs, in order, never the same one twice. Pure.
 */
export function spreadEvenly<T>(items: readonly T[], count: number): T[] {
  if (count <= 0) return [];
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor(((i + 0.5) * items.length) / count)]!);
}

/**
 * ffmpeg arguments for one JPEG of the frame at `atSec`. `-ss` before `-i` seeks to the keyframe
 * without decoding what comes before it. Pure.
 */
export function thumbnailArgs(input: string, output: string, atSec: number, width: number): string[] {
  return [
    ...['-ss', String(atSec), '-i', input, '-map', '0:v:0', '-frames:v', '1'],
    // The quotes keep the comma in min() from ending the filter.
    ...['-vf', `scale='min(${width},iw)':-2`, '-q:v', '3', '-f', 'image2', output],
  ];
}
