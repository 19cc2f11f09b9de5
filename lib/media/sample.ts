import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type RunOptions, runFfmpeg } from './ffmpeg.js';

export interface SampleVideoOptions extends RunOptions {
  seconds?: number;
  width?: number;
  height?: number;
}

const FPS = 25;
const KEYFRAME_INTERVAL_SEC = 2;

/**
 * Makes a test clip at `file` (H.264 + AAC in MP4: ffmpeg's testsrc2 pattern and a 440 Hz tone)
 * unless a file is already there, and returns its path. Keyframes fall exactly every 2 s (fixed GOP,
 * no scene-cut keyframes) so that slicing has predictable cut points.
 */
export async function ensureSampleVideo(file: string, options: SampleVideoOptions = {}): Promise<string> {
  const { seconds = 20, width = 640, height = 360, ...run } = options;
  const target = path.resolve(file);
  if (await isNonEmptyFile(target)) return target;

  await mkdir(path.dirname(target), { recursive: true });
  // Encode beside the target and rename: an interrupted run must not leave a clip that later runs
  // would take as present. The temp name keeps `.mp4` because ffmpeg picks the muxer from it.
  const temp = path.join(path.dirname(target), `.${path.basename(target, '.mp4')}.${randomUUID()}.mp4`);
  try {
    await runFfmpeg(sampleVideoArgs(temp, { seconds, width, height }), run);
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
  return target;
}

export function sampleVideoArgs(
  output: string,
  { seconds, width, height }: Required<Pick<SampleVideoOptions, 'seconds' | 'width' | 'height'>>,
): string[] {
  const gop = String(FPS * KEYFRAME_INTERVAL_SEC);
  return [
    ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${FPS}:duration=${seconds}`],
    ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`],
    ['-map', '0:v', '-map', '1:a'],
    ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'],
    ['-g', gop, '-keyint_min', gop, '-sc_threshold', '0'],
    ['-c:a', 'aac', '-b:a', '96k'],
    ['-movflags', '+faststart', output],
  ].flat();
}

async function isNonEmptyFile(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    return info.isFile() && info.size > 0;
  } catch {
    return false;
  }
}
