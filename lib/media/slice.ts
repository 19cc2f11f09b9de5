import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { objectStoreFor, outputUri } from '../storage/object-store.js';
import type { Segment, SliceResult } from './contracts.js';
import { type RunOptions, runFfmpeg } from './ffmpeg.js';
import { type Keyframe, listVideoKeyframes, type MediaInfo, openMedia } from './probe.js';
import { mapConcurrent, stageLocal, withWorkDir } from './workspace.js';

export interface SliceOptions extends RunOptions {
  /** The target segment length; segments end at the first keyframe at or after it. */
  seconds: number;
  /** Where the segments go: `<outputPrefix>/segment-000.mp4`, ... */
  outputPrefix: string;
}

/** A planned segment: its place in the source timeline and where the segment muxer cuts before it. */
export interface SegmentPlan {
  index: number;
  startSec: number;
  durationSec: number;
  /**
   * The video frame number to ask the segment muxer to cut at (absent for the first segment). The
   * muxer cuts at the first keyframe at or after it; see `sliceArgs`.
   */
  cutFrame?: number;
}

export class SliceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SliceError';
  }
}

const UPLOAD_CONCURRENCY = 4;

/** The slice operator: cut the source at keyframes (stream copy, no re-encoding), store the segments. */
export async function sliceSource(source: string, options: SliceOptions): Promise<SliceResult> {
  const { seconds, outputPrefix, ...run } = options;
  return withWorkDir('slice', async (dir) => {
    const { file, info } = await openMedia(await stageLocal(source, dir, 'source'), dir, run, source);
    const keyframes = await listVideoKeyframes(file, run);
    const plan = planSegments(keyframes, info, seconds);
    const container = segmentContainer(info);

    const outDir = path.join(dir, 'segments');
    await mkdir(outDir);
    await runFfmpeg(sliceArgs(file, plan, container, outDir), run);
    await assertSegmentsWritten(outDir, plan, container);

    const segments = await mapConcurrent(plan, UPLOAD_CONCURRENCY, async (segment): Promise<Segment> => {
      const name = segmentFileName(segment.index, container);
      const uri = outputUri(outputPrefix, name);
      await objectStoreFor(uri).upload(path.join(outDir, name), uri, { contentType: container.contentType });
      return { uri, index: segment.index, startSec: segment.startSec, durationSec: segment.durationSec };
    });
    return { source, segments };
  });
}

export interface SegmentContainer {
  format: 'mp4' | 'matroska';
  extension: string;
  contentType: string;
}

const MP4: SegmentContainer = { format: 'mp4', extension: 'mp4', contentType: 'video/mp4' };
const MATROSKA: SegmentContainer = { format: 'matroska', extension: 'mkv', contentType: 'video/x-matroska' };
/** What ffmpeg 4.1 writes to MP4 without `-strict experimental` (Opus, FLAC, VP9 and AV1 need it). */
const MP4_VIDEO = new Set(['h264', 'hevc', 'mpeg4']);
const MP4_AUDIO = new Set(['aac', 'mp3', 'ac3', 'eac3']);

/** Segments are MP4 when the streams allow it, else Matroska, which stream-copies any codec. */
export function segmentContainer(info: Pick<MediaInfo, 'videoCodec' | 'audioCodec'>): SegmentContainer {
  const audioFits = info.audioCodec === undefined || MP4_AUDIO.has(info.audioCodec);
  return MP4_VIDEO.has(info.videoCodec) && audioFits ? MP4 : MATROSKA;
}

export function segmentFileName(index: number, container: SegmentContainer): string {
  return `segment-${String(index).padStart(3, '0')}.${container.extension}`;
}

/** Float noise from subtracting timestamps must not show in outputs (4.000000000001). */
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

/**
 * Plans segments of about `seconds` each, cut at keyframes (stream copy can only start a segment on
 * one). Starts are keyframe times relative to the file's start and the last segment runs to the end,
 * so the durations add up to the source's duration by construction. Pure.
 *
 * The cut is asked for at a frame number, not a time: ffmpeg 4.1 shifts MP4 timestamps by the
 * B-frame delay while ffprobe 5.2 does not, and frame counts do not depend on that. The number is
 * halfway between the previous keyframe and the chosen one, so a packet count that differs by a few
 * frames between the two tools still lands on the chosen keyframe.
 */
export function planSegments(
  keyframes: readonly Keyframe[],
  media: Pick<MediaInfo, 'startSec' | 'durationSec'>,
  seconds: number,
): SegmentPlan[] {
  const EPSILON = 1e-3;
  const starts: { startSec: number; cutFrame?: number }[] = [{ startSec: 0 }];
  keyframes.forEach((keyframe, k) => {
    const at = keyframe.timeSec - media.startSec;
    const current = starts.at(-1)!.startSec;
    if (at - current < seconds - EPSILON) return;
    // A tail shorter than half a segment would cost a whole invocation downstream for little work:
    // leave it in the current segment.
    if (media.durationSec - at < seconds / 2) return;
    const previousFrame = keyframes[k - 1]?.frame ?? 0;
    starts.push({ startSec: at, cutFrame: Math.max(1, Math.ceil((previousFrame + keyframe.frame) / 2)) });
  });
  return starts.map((start, index) => {
    const end = starts[index + 1]?.startSec ?? media.durationSec;
    return {
      index,
      startSec: round6(start.startSec),
      durationSec: round6(end - start.startSec),
      ...(start.cutFrame === undefined ? {} : { cutFrame: start.cutFrame }),
    };
  });
}

/**
 * ffmpeg arguments for cutting `input` as planned, first video and audio streams only. Timestamps
 * are not reset: with `-reset_timestamps`, audio that starts a little before a segment's first
 * keyframe gets negative times, which MP4 hides, and every seam would lose that audio. Segments
 * keep the source's timeline instead, and transcode and merge line the parts up by it.
 */
export function sliceArgs(
  input: string,
  plan: readonly SegmentPlan[],
  container: SegmentContainer,
  outDir: string,
): string[] {
  const streams = ['-i', input, '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy'];
  const cutFrames = plan.flatMap((segment) => (segment.cutFrame === undefined ? [] : [segment.cutFrame]));
  if (cutFrames.length === 0) {
    return [...streams, '-f', container.format, path.join(outDir, segmentFileName(0, container))];
  }
  return [
    ...streams,
    ...['-f', 'segment', '-segment_format', container.format, '-segment_frames', cutFrames.join(',')],
    path.join(outDir, `segment-%03d.${container.extension}`),
  ];
}

/** The plan's times are only true if ffmpeg cut where planned; a different count means it did not. */
async function assertSegmentsWritten(
  dir: string,
  plan: readonly SegmentPlan[],
  container: SegmentContainer,
): Promise<void> {
  for (const segment of plan) {
    const name = segmentFileName(segment.index, container);
    try {
      await access(path.join(dir, name));
    } catch (error) {
      throw new SliceError(`ffmpeg wrote fewer segments than the ${plan.length} planned (no ${name})`, {
        cause: error,
      });
    }
  }
  try {
    await access(path.join(dir, segmentFileName(plan.length, container)));
  } catch {
    return;
  }
  throw new SliceError(`ffmpeg wrote more segments than the ${plan.length} planned`);
}
