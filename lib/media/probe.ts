import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { ProbeResult } from './contracts.js';
import { FfmpegError, type RunOptions, runFfmpeg, runFfprobe } from './ffmpeg.js';
import { stageLocal, withWorkDir } from './workspace.js';

/** What ffprobe tells about a local media file. */
export interface MediaInfo {
  /** The container's duration (the longest stream). */
  durationSec: number;
  /** The video stream's own duration, when the container records it. */
  videoDurationSec?: number;
  /** Where the container's timeline begins (0 for most MP4s; not for MPEG-TS or kept timestamps). */
  startSec: number;
  width: number;
  height: number;
  videoCodec: string;
  audioCodec?: string;
  fps: number;
  bitRate: number;
  sizeBytes: number;
}

export interface Keyframe {
  /** 0-based index of the packet among the video stream's packets, in decoding order. */
  frame: number;
  timeSec: number;
}

/** The file is not media ffprobe can read, or has no video to work on. */
export class UnsupportedMediaError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedMediaError';
  }
}

/** How far `probeSource` reads to estimate the keyframe interval: enough for any sane GOP. */
const KEYFRAME_SCAN_SEC = 60;

/** The probe operator: stage the source, read its streams and its keyframe rhythm. */
export async function probeSource(source: string, options: RunOptions = {}): Promise<ProbeResult> {
  return withWorkDir('probe', async (dir) => {
    const { file, info } = await openMedia(await stageLocal(source, dir, 'source'), dir, options, source);
    const keyframes = await listVideoKeyframes(file, { ...options, maxSec: KEYFRAME_SCAN_SEC });
    const keyframeIntervalSec = keyframeInterval(keyframes);
    return {
      source,
      durationSec: info.durationSec,
      width: info.width,
      height: info.height,
      videoCodec: info.videoCodec,
      ...(info.audioCodec === undefined ? {} : { audioCodec: info.audioCodec }),
      fps: info.fps,
      bitRate: info.bitRate,
      sizeBytes: info.sizeBytes,
      ...(keyframeIntervalSec === undefined ? {} : { keyframeIntervalSec }),
    };
  });
}

/**
 * Probes a local file, working around one defect: the ffprobe 5.2 static build dies with SIGSEGV on
 * any MPEG-TS input on some machines (seen on AMD EPYC) while ffmpeg 4.1 reads it fine. Such a file
 * is remuxed (stream copy) to Matroska in `dir`, and callers work on the copy.
 */
export async function openMedia(
  file: string,
  dir: string,
  options: RunOptions = {},
  label = file,
): Promise<{ file: string; info: MediaInfo }> {
  try {
    return { file, info: await probeMedia(file, options, label) };
  } catch (error) {
    if (!(error instanceof FfmpegError && error.signal === 'SIGSEGV')) throw error;
    const remuxed = path.join(dir, 'remuxed.mkv');
    await runFfmpeg(['-i', file, '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy', remuxed], options);
    const info = await probeMedia(remuxed, options, label);
    return { file: remuxed, info: { ...info, sizeBytes: (await stat(file)).size } };
  }
}

/** Probes a local file; `label` (the URI the user gave) names it in errors instead of a temp path. */
export async function probeMedia(file: string, options: RunOptions = {}, label = file): Promise<MediaInfo> {
  let stdout: string;
  try {
    ({ stdout } = await runFfprobe(
      ['-print_format', 'json', '-show_format', '-show_streams', file],
      options,
    ));
  } catch (error) {
    // A non-zero exit is ffprobe rejecting the content; timeouts and aborts stay what they are.
    if (error instanceof FfmpegError && error.exitCode !== null) {
      const reason = error.stderr.trim().split('\n').at(-1)?.replace(`${file}: `, '') ?? 'unreadable';
      throw new UnsupportedMediaError(`'${label}' is not a media file ffprobe can read: ${reason}`, {
        cause: error,
      });
    }
    throw error;
  }
  return parseProbeReport(JSON.parse(stdout), label);
}

const numeric = z.union([z.string(), z.number()]).optional();

const probeReportSchema = z.object({
  streams: z
    .array(
      z.object({
        codec_type: z.string().optional(),
        codec_name: z.string().optional(),
        width: z.number().optional(),
        height: z.number().optional(),
        avg_frame_rate: z.string().optional(),
        r_frame_rate: z.string().optional(),
        duration: numeric,
        disposition: z.object({ attached_pic: z.number().optional() }).optional(),
      }),
    )
    .default([]),
  format: z.object({ duration: numeric, start_time: numeric, size: numeric, bit_rate: numeric }).default({}),
});

/** Turns ffprobe's `-show_format -show_streams` JSON into `MediaInfo`. Pure. */
export function parseProbeReport(report: unknown, label: string): MediaInfo {
  const parsed = probeReportSchema.safeParse(report);
  if (!parsed.success) throw new UnsupportedMediaError(`'${label}': ffprobe gave an unexpected report`);
  const { streams, format } = parsed.data;
  // Cover art in audio files shows up as a one-frame "video" stream; it is not video.
  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const audio = streams.find((s) => s.codec_type === 'audio');
  if (video === undefined || video.width === undefined || video.height === undefined) {
    throw new UnsupportedMediaError(`'${label}' has no video stream`);
  }
  const videoDurationSec = toNumber(video.duration);
  const durationSec = toNumber(format.duration) ?? videoDurationSec;
  if (durationSec === undefined || durationSec <= 0) {
    throw new UnsupportedMediaError(`'${label}' has no duration (a still image or a live stream?)`);
  }
  const sizeBytes = toNumber(format.size) ?? 0;
  return {
    durationSec,
    ...(videoDurationSec === undefined ? {} : { videoDurationSec }),
    startSec: toNumber(format.start_time) ?? 0,
    width: video.width,
    height: video.height,
    videoCodec: video.codec_name ?? 'unknown',
    ...(audio?.codec_name === undefined ? {} : { audioCodec: audio.codec_name }),
    fps: frameRate(video.avg_frame_rate) ?? frameRate(video.r_frame_rate) ?? 0,
    bitRate: toNumber(format.bit_rate) ?? Math.round((sizeBytes * 8) / durationSec),
    sizeBytes,
  };
}

/** `"30000/1001"` -> 29.97; `"0/0"` (unknown) -> undefined. */
export function frameRate(ratio: string | undefined): number | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(ratio ?? '');
  const num = Number(match?.[1]);
  const den = Number(match?.[2]);
  if (!match || num === 0 || den === 0) return undefined;
  return Math.round((num / den) * 1000) / 1000;
}

function toNumber(value: string | number | undefined): number | undefined {
  const n = typeof value === 'number' ? value : Number.parseFloat(value ?? '');
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The video stream's keyframes from its packet list (no decoding, so it is fast), optionally only
 * within the first `maxSec` seconds.
 */
export async function listVideoKeyframes(
  file: string,
  options: RunOptions & { maxSec?: number } = {},
): Promise<Keyframe[]> {
  const { maxSec, ...run } = options;
  const window = maxSec === undefined ? [] : ['-read_intervals', `%+${maxSec}`];
  const { stdout } = await runFfprobe(
    [
      ...['-select_streams', 'v:0', ...window],
      ...['-show_entries', 'packet=pts_time,dts_time,flags', '-print_format', 'json', file],
    ],
    run,
  );
  return parseKeyframes(JSON.parse(stdout));
}

const packetsSchema = z.object({
  packets: z
    .array(z.object({ pts_time: numeric, dts_time: numeric, flags: z.string().optional() }))
    .default([]),
});

export function parseKeyframes(report: unknown): Keyframe[] {
  const { packets } = packetsSchema.parse(report);
  const keyframes: Keyframe[] = [];
  packets.forEach((packet, frame) => {
    const timeSec = toNumber(packet.pts_time) ?? toNumber(packet.dts_time);
    if (packet.flags?.startsWith('K') && timeSec !== undefined) keyframes.push({ frame, timeSec });
  });
  return keyframes;
}

/** The typical distance between keyframes (the median, so one scene-cut keyframe does not skew it). */
export function keyframeInterval(keyframes: readonly Keyframe[]): number | undefined {
  const gaps = keyframes
    .slice(1)
    .map((key, i) => key.timeSec - (keyframes[i] as Keyframe).timeSec)
    .filter((gap) => gap > 0)
    .sort((a, b) => a - b);
  if (gaps.length === 0) return undefined;
  const mid = Math.floor(gaps.length / 2);
  const median = gaps.length % 2 === 1 ? gaps[mid]! : (gaps[mid - 1]! + gaps[mid]!) / 2;
  return Math.round(median * 1000) / 1000;
}
