import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { objectStoreFor } from '../storage/object-store.js';
import { InvalidInputError, type MergeResult, type TranscodedPart } from './contracts.js';
import { type RunOptions, runFfmpeg } from './ffmpeg.js';
import { probeMedia } from './probe.js';
import { mapConcurrent, stageLocal, withWorkDir } from './workspace.js';

export interface MergeOptions extends RunOptions {
  /** The URI of the merged file. */
  output: string;
}

/** A part the parallel node let fail (`null` in its output): merging around it would leave a gap. */
export class MissingPartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingPartError';
  }
}

const STAGE_CONCURRENCY = 4;

/**
 * The merge operator: join the parts, in order, without re-encoding. The concat demuxer places each
 * file right after the previous one's `duration`; every part keeps the source's timestamps, so the
 * durations come from where each part starts, and the result has the source's timeline exactly.
 */
export async function mergeParts(
  parts: readonly (TranscodedPart | null)[],
  options: MergeOptions,
): Promise<MergeResult> {
  const { output, ...run } = options;
  const present = checkParts(parts);
  return withWorkDir('merge', async (dir) => {
    const staged = await mapConcurrent(present, STAGE_CONCURRENCY, async (part, i) => {
      const file = await stageLocal(part.uri, dir, partFileName(i));
      const info = await probeMedia(file, run, part.uri);
      return { file, startSec: info.startSec };
    });
    const list = path.join(dir, 'parts.ffconcat');
    await writeFile(list, concatList(staged));
    const merged = path.join(dir, 'merged.mp4');
    await runFfmpeg(mergeArgs(list, merged), run);
    const info = await probeMedia(merged, run);
    await objectStoreFor(output).upload(merged, output, { contentType: 'video/mp4' });
    return {
      uri: output,
      durationSec: info.durationSec,
      width: info.width,
      height: info.height,
      sizeBytes: info.sizeBytes,
    };
  });
}

/**
 * Rejects what cannot merge into one playable file: a missing part, parts out of order, parts of
 * different sizes (stream copy cannot change a size mid-stream).
 */
export function checkParts(parts: readonly (TranscodedPart | null)[]): TranscodedPart[] {
  const missing = parts.flatMap((part, i) => (part === null ? [i] : []));
  if (missing.length > 0) {
    const which = missing.map((i) => `parts[${i}]`).join(', ');
    throw new MissingPartError(
      `media/merge: ${which} ${missing.length === 1 ? 'is' : 'are'} null: ${missing.length === 1 ? 'that segment' : 'those segments'} failed (a failure the parallel node tolerated), and the merged video would have a gap. Retry the failed segments or route the task elsewhere.`,
    );
  }
  const present = parts as readonly TranscodedPart[];
  present.forEach((part, i) => {
    const previous = present[i - 1];
    if (previous !== undefined && part.index <= previous.index) {
      throw new InvalidInputError(
        `media/merge: parts must be in segment order: parts[${i}].index is ${part.index} after ${previous.index}`,
      );
    }
    const first = present[0]!;
    if (part.width !== first.width || part.height !== first.height) {
      throw new InvalidInputError(
        `media/merge: parts differ in size: parts[0] is ${first.width}x${first.height}, parts[${i}] is ${part.width}x${part.height}; transcode every part with the same preset`,
      );
    }
  });
  return [...present];
}

function partFileName(i: number): string {
  return `part-${String(i).padStart(5, '0')}`;
}

/**
 * An ffconcat script. Every file but the last gets `duration` = next start - own start: the demuxer
 * then shifts all parts by the same amount, keeping their relative timing (and the audio packets
 * that overhang a cut) as they were in the source. Pure.
 */
export function concatList(parts: readonly { file: string; startSec: number }[]): string {
  const lines = ['ffconcat version 1.0'];
  parts.forEach((part, i) => {
    lines.push(`file ${quoteConcatPath(part.file)}`);
    const next = parts[i + 1];
    if (next !== undefined) lines.push(`duration ${(next.startSec - part.startSec).toFixed(6)}`);
  });
  return `${lines.join('\n')}\n`;
}

/** ffconcat quoting: single quotes, and a quote inside written as '\''. */
function quoteConcatPath(name: string): string {
  return `'${name.replaceAll("'", "'\\''")}'`;
}

/** `-safe 0`: the list names absolute paths (local parts are read where they are). */
export function mergeArgs(list: string, output: string): string[] {
  return [
    ...['-f', 'concat', '-safe', '0', '-i', list, '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy'],
    ...['-movflags', '+faststart', output],
  ];
}
