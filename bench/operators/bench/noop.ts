// The benchmark's operator: does no work, so a run measures only what the engine adds around it.
import type { OperatorEvent } from '../../../functions/operators/types.js';

export async function handler(_event: OperatorEvent): Promise<null> {
  return null;
}
