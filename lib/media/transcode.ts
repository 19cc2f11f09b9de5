import path from 'node:path';
import { objectStoreFor, outputUri } from '../storage/object-store.js';
import type { Segment, TranscodedPart, TranscodeResult } from './contracts.js';
import { type RunOptions, runFfmpeg } from './ffmpeg.js';
import { DEFAULT_PRESET, PRESETS, type PresetName } from './presets.js';
import { type MediaInfo, openMedia, probeMedia } from './probe.js';
import { stageLocal, withWorkDir } from './workspace.js';

export interface TranscodeOptions extends RunOptions {
  preset?: PresetName;
  /** Where the output goes (a folder URI); the file name is chosen here. */
  outputPrefix: string;
}

/**
 * The transcode operator: one segment from slice to one part for merge. The part keeps the
 * segment's timestamps (`-copyts`), which are the source's, so merge can place every part exactly
 * where it was in the source.
 */
export async function transcodeSegment(segment: Segment, options: TranscodeOptions): Promise<TranscodedPart> {
  const { preset = DEFAULT_PRESET, outputPrefix, ...run } = options;
  return withWorkDir('transcode', async (dir) => {
    const input = await stageLocal(segment.uri, dir, 'segment');
    const source = await probeMedia(input, run, segment.uri);
    const output = path.join(dir, 'part.mp4');
    // Re-encoding audio slice by slice adds encoder priming (~23 ms) at every seam; AAC audio is
    // already what the output needs, so it is copied and stays sample-exact across seams.
    const audio = source.audioCodec === 'aac' ? 'copy' : 'encode';
    await runFfmpeg(transcodeArgs(input, output, preset, { keepTimestamps: true, audio }), run);
    const result = await probeMedia(output, run);
    const uri = outputUri(outputPrefix, `part-${String(segment.index).padStart(3, '0')}-${preset}.mp4`);
    await objectStoreFor(uri).upload(output, uri, { contentType: 'video/mp4' });
    return {
      uri,
      index: segment.index,
      startSec: segment.startSec,
      durationSec: partDuration(result),
      width: result.width,
      height: result.height,
    };
  });
}

/** The transcode-whole operator: the whole source in one encode, no slicing. */
export async function transcodeSource(source: string, options: TranscodeOptions): Promise<TranscodeResult> {
  const { preset = DEFAULT_PRESET, outputPrefix, ...run } = options;
  return withWorkDir('transcode-whole', async (dir) => {
    const { file } = await openMedia(await stageLocal(source, dir, 'source'), dir, run, source);
    const output = path.join(dir, 'output.mp4');
    await runFfmpeg(transcodeArgs(file, output, preset, { keepTimestamps: false, audio: 'encode' }), run);
    const result = await probeMedia(output, run);
    const uri = outputUri(outputPrefix, `${preset}.mp4`);
    await objectStoreFor(uri).upload(output, uri, { contentType: 'video/mp4' });
    return { uri, durationSec: result.durationSec, width: result.width, height: result.height };
  });
}

/**
 * A part's length is its video's: audio packets overhang a keyframe cut by a few milliseconds, and
 * video durations are what add up to the source's.
 */
function partDuration(info: MediaInfo): number {
  return info.videoDurationSec ?? info.durationSec;
}

export interface TranscodeArgsOptions {
  /** Keep input timestamps (parts of one source); otherwise the output starts at 0. */
  keepTimestamps: boolean;
  audio: 'copy' | 'encode';
}

/** ffmpeg arguments for one H.264 + AAC rendition of `input` (first video and audio streams). Pure. */
export function transcodeArgs(
  input: string,
  output: string,
  presetName: PresetName,
  { keepTimestamps, audio }: TranscodeArgsOptions,
): string[] {
  const preset = PRESETS[presetName];
  // Never upscale, and keep the height even (yuv420p needs even dimensions); -2 keeps the aspect.
  const scale = `scale=-2:'min(${preset.height},trunc(ih/2)*2)'`;
  return [
    ...(keepTimestamps ? ['-copyts'] : []),
    ...['-i', input, '-map', '0:v:0', '-map', '0:a:0?'],
    // passthrough: frames keep their timestamps, none duplicated or dropped to fill a constant rate,
    // which would stretch a part whose first frame is not at the segment's start.
    ...['-vf', scale, '-vsync', 'passthrough'],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-crf', String(preset.crf)],
    ...['-maxrate', `${preset.maxrateKbps}k`, '-bufsize', `${preset.maxrateKbps * 2}k`],
    ...(audio === 'copy' ? ['-c:a', 'copy'] : ['-c:a', 'aac', '-b:a', `${preset.audioKbps}k`]),
    ...['-movflags', '+faststart', output],
  ];
}
