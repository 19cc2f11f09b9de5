import { z } from 'zod';

/*
 * The highlights operator (functions/operators/analysis/highlights): pure computation over what
 * analysis/keyframes and analysis/loudness output, so it lives apart from the ffmpeg code and
 * loads without it.
 */

/** One window of analysis/loudness's output: its start in the source and its levels in dBFS. */
export const loudnessWindowSchema = z.object({
  startSec: z.number().nonnegative(),
  meanDb: z.number(),
  peakDb: z.number(),
});

export const DEFAULT_HIGHLIGHT_COUNT = 3;

export const highlightsInputSchema = z.object({
  keyframes: z.array(z.number().nonnegative()),
  loudness: z.array(loudnessWindowSchema),
  count: z.number().int().positive().max(100).default(DEFAULT_HIGHLIGHT_COUNT),
});

export type LoudnessWindow = z.infer<typeof loudnessWindowSchema>;

export interface Highlight {
  /** A keyframe time: a player (or a cut by stream copy) can start exactly there. */
  atSec: number;
  /** The `meanDb` of the loudest window that led to this moment: higher is louder. */
  score: number;
}

export interface HighlightsResult {
  moments: Highlight[];
}

/**
 * Window starts and keyframe times come from different streams (audio frames, video packets) and
 * can differ by rounding; a keyframe this close after a window's start still counts as "at" it.
 */
const SNAP_TOLERANCE_SEC = 1e-3;

/**
 * The `count` loudest moments: windows ranked by `meanDb` (ties: higher `peakDb`, then earlier),
 * each moved back to the last keyframe at or before its start, so the moment can be played or cut
 * from there. A window before the first keyframe goes to the first keyframe. When a louder window
 * already took a keyframe, quieter windows that snap to it are skipped, so the moments are distinct
 * keyframes. No keyframes or no windows: no moments. Sorted by time. Pure.
 */
export function pickHighlights(
  keyframes: readonly number[],
  windows: readonly LoudnessWindow[],
  count: number = DEFAULT_HIGHLIGHT_COUNT,
): Highlight[] {
  const times = [...new Set(keyframes)].sort((a, b) => a - b);
  if (times.length === 0 || count <= 0) return [];

  const ranked = windows
    .map((window, order) => ({ window, order }))
    .sort(
      (a, b) =>
        b.window.meanDb - a.window.meanDb ||
        b.window.peakDb - a.window.peakDb ||
        a.window.startSec - b.window.startSec ||
        a.order - b.order,
    );

  const moments = new Map<number, Highlight>();
  for (const { window } of ranked) {
    if (moments.size >= count) break;
    const atSec = keyframeAtOrBefore(times, window.startSec);
    if (!moments.has(atSec)) moments.set(atSec, { atSec, score: window.meanDb });
  }
  return [...moments.values()].sort((a, b) => a.atSec - b.atSec);
}

/** The last of the sorted `times` at or before `sec` (binary search), or the first one if none is. */
function keyframeAtOrBefore(times: readonly number[], sec: number): number {
  let low = 0;
  let high = times.length - 1;
  let found = 0;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (times[mid]! <= sec + SNAP_TOLERANCE_SEC) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return times[found]!;
}
