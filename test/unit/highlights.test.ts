import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/operators/analysis/highlights.js';
import type { OperatorEvent } from '../../functions/operators/types.js';
import { InvalidInputError } from '../../lib/media/contracts.js';
import { type LoudnessWindow, pickHighlights } from '../../lib/media/highlights.js';

const KEYFRAMES = [0, 2, 4, 6];

/** Windows of 1 s from 0, with these mean levels; peaks 3 dB above. */
function windowsOf(...meanDbs: number[]): LoudnessWindow[] {
  return meanDbs.map((meanDb, startSec) => ({ startSec, meanDb, peakDb: meanDb + 3 }));
}

describe('pickHighlights', () => {
  it('takes the loudest windows, snapped back to keyframes, sorted by time', () => {
    const windows = windowsOf(-40, -30, -35, -12, -50, -20, -45, -33);
    expect(pickHighlights(KEYFRAMES, windows, 3)).toEqual([
      { atSec: 0, score: -30 },
      { atSec: 2, score: -12 },
      { atSec: 4, score: -20 },
    ]);
  });

  it('keeps a window that starts on a keyframe at that keyframe', () => {
    expect(pickHighlights(KEYFRAMES, [{ startSec: 4, meanDb: -10, peakDb: -5 }], 1)).toEqual([
      { atSec: 4, score: -10 },
    ]);
    // Window starts and keyframe times are measured on different streams; a hair's difference is
    // still "at" the keyframe.
    expect(pickHighlights([0, 2.0004], [{ startSec: 2, meanDb: -10, peakDb: -5 }], 1)).toEqual([
      { atSec: 2.0004, score: -10 },
    ]);
  });

  it('gives each keyframe once, to its loudest window, and fills the count from the next ones', () => {
    // 6 s and 7 s both snap to 6; the louder one (7 s) scores it, and the count is filled from 0.
    const windows = windowsOf(-30, -40, -40, -40, -40, -40, -20, -10);
    expect(pickHighlights(KEYFRAMES, windows, 2)).toEqual([
      { atSec: 0, score: -30 },
      { atSec: 6, score: -10 },
    ]);
  });

  it('breaks ties by peak, then by time', () => {
    const windows: LoudnessWindow[] = [
      { startSec: 0, meanDb: -20, peakDb: -15 },
      { startSec: 2, meanDb: -20, peakDb: -10 },
      { startSec: 4, meanDb: -20, peakDb: -15 },
      { startSec: 6, meanDb: -20, peakDb: -15 },
    ];
    expect(pickHighlights(KEYFRAMES, windows, 1)).toEqual([{ atSec: 2, score: -20 }]);
    expect(pickHighlights(KEYFRAMES, windows, 2)).toEqual([
      { atSec: 0, score: -20 },
      { atSec: 2, score: -20 },
    ]);
    // The same levels in another order give the same moments.
    expect(pickHighlights(KEYFRAMES, [...windows].reverse(), 2)).toEqual(
      pickHighlights(KEYFRAMES, windows, 2),
    );
  });

  it('gives fewer moments than asked when there are fewer keyframes', () => {
    expect(pickHighlights([0, 4], windowsOf(-10, -20, -30, -40, -50, -60), 3)).toEqual([
      { atSec: 0, score: -10 },
      { atSec: 4, score: -50 },
    ]);
  });

  it('moves a window before the first keyframe to the first keyframe', () => {
    expect(pickHighlights([1.5, 3.5], windowsOf(-10, -40), 1)).toEqual([{ atSec: 1.5, score: -10 }]);
  });

  it('accepts keyframes out of order or repeated', () => {
    expect(pickHighlights([6, 2, 2, 0, 4], windowsOf(-40, -40, -40, -10), 1)).toEqual([
      { atSec: 2, score: -10 },
    ]);
  });

  it('gives nothing for empty inputs or a zero count', () => {
    expect(pickHighlights([], windowsOf(-10, -20), 3)).toEqual([]);
    expect(pickHighlights(KEYFRAMES, [], 3)).toEqual([]);
    expect(pickHighlights([], [], 3)).toEqual([]);
    expect(pickHighlights(KEYFRAMES, windowsOf(-10), 0)).toEqual([]);
  });

  it('defaults to 3 moments', () => {
    expect(pickHighlights([0, 1, 2, 3, 4, 5], windowsOf(-1, -2, -3, -4, -5, -6))).toHaveLength(3);
  });
});

const time = fc.double({ min: 0, max: 600, noNaN: true, noDefaultInfinity: true });
const level = fc.double({ min: -120, max: 6, noNaN: true, noDefaultInfinity: true });
const windowArb = fc.record({ startSec: time, meanDb: level, peakDb: level });

describe('pickHighlights properties', () => {
  it('gives at most `count` distinct keyframes, sorted, scored by window levels, the loudest among them', () => {
    fc.assert(
      fc.property(
        fc.array(time, { maxLength: 30 }),
        fc.array(windowArb, { maxLength: 60 }),
        fc.integer({ min: 0, max: 10 }),
        (keyframes, windows, count) => {
          const moments = pickHighlights(keyframes, windows, count);
          expect(moments.length).toBeLessThanOrEqual(count);
          moments.forEach((moment, i) => {
            expect(keyframes).toContain(moment.atSec);
            if (i > 0) expect(moment.atSec).toBeGreaterThan(moments[i - 1]!.atSec);
            expect(windows.map((w) => w.meanDb)).toContain(moment.score);
          });
          if (keyframes.length > 0 && windows.length > 0 && count > 0) {
            const loudest = Math.max(...windows.map((w) => w.meanDb));
            expect(moments.map((m) => m.score)).toContain(loudest);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('analysis/highlights', () => {
  function event(input: unknown): OperatorEvent {
    const task = { id: 'task-1', workflow: 'media-analysis' };
    return { task, node: { name: 'highlights', eventId: `${task.id}_highlights`, attempt: 1 }, input };
  }

  it('returns the moments, 3 by default', async () => {
    const loudness = windowsOf(-40, -30, -35, -12, -50, -20, -45, -33);
    await expect(handler(event({ keyframes: KEYFRAMES, loudness }))).resolves.toEqual({
      moments: pickHighlights(KEYFRAMES, loudness, 3),
    });
  });

  it('names a bad field', async () => {
    await expect(handler(event({ keyframes: KEYFRAMES }))).rejects.toThrow(InvalidInputError);
    await expect(handler(event({ keyframes: KEYFRAMES }))).rejects.toThrow(
      'analysis/highlights: invalid input: loudness is missing (expected array)',
    );
    await expect(
      handler(event({ keyframes: KEYFRAMES, loudness: [{ startSec: 0, meanDb: '-3', peakDb: 0 }] })),
    ).rejects.toThrow(/^analysis\/highlights: invalid input: loudness\[0\]\.meanDb: /);
  });
});
