import {
  type ProbeResult,
  parseOperatorInput,
  probeInputSchema,
  taskInputOf,
} from '../../../lib/media/contracts.js';
import { probeSource } from '../../../lib/media/probe.js';
import type { OperatorEvent } from '../types.js';

/** media/probe: `{ source }` (or the task input's `source`) -> streams, duration, keyframe interval. */
export async function handler(event: OperatorEvent): Promise<ProbeResult> {
  const { source } = parseOperatorInput('media/probe', probeInputSchema, taskInputOf(event.input));
  return probeSource(source);
}
