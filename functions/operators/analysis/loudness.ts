import { type LoudnessResult, loudnessInputSchema, measureLoudness } from '../../../lib/media/analysis.js';
import { parseOperatorInput } from '../../../lib/media/contracts.js';
import type { OperatorEvent } from '../types.js';

/** analysis/loudness: `{ source, durationSec?, windowSec? }` -> `{ windows }`, none without audio. */
export async function handler(event: OperatorEvent): Promise<LoudnessResult> {
  const { source, durationSec, windowSec } = parseOperatorInput(
    'analysis/loudness',
    loudnessInputSchema,
    event.input,
  );
  return measureLoudness(source, { windowSec, ...(durationSec === undefined ? {} : { durationSec }) });
}
