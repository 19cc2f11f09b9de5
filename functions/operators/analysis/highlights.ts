import { parseOperatorInput } from '../../../lib/media/contracts.js';
import {
  type HighlightsResult,
  highlightsInputSchema,
  pickHighlights,
} from '../../../lib/media/highlights.js';
import type { OperatorEvent } from '../types.js';

/** analysis/highlights: `{ keyframes, loudness, count? }` -> `{ moments }`, the loudest, at keyframes. */
export async function handler(event: OperatorEvent): Promise<HighlightsResult> {
  const { keyframes, loudness, count } = parseOperatorInput(
    'analysis/highlights',
    highlightsInputSchema,
    event.input,
  );
  return { moments: pickHighlights(keyframes, loudness, count) };
}
