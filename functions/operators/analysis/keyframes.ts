import {
  type KeyframesResult,
  keyframesInputSchema,
  listKeyframeTimes,
} from '../../../lib/media/analysis.js';
import { parseOperatorInput, taskInputOf } from '../../../lib/media/contracts.js';
import type { OperatorEvent } from '../types.js';

/** analysis/keyframes: `{ source }` (or the task input's `source`) -> `{ times }`, in seconds. */
export async function handler(event: OperatorEvent): Promise<KeyframesResult> {
  const { source } = parseOperatorInput('analysis/keyframes', keyframesInputSchema, taskInputOf(event.input));
  return listKeyframeTimes(source);
}
