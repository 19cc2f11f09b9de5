// After a parallel node's Map with `toleratedFailurePercentage` (dag-spec §2): fails the node when too
// many items failed, else turns the failed items into null.
import { checkTolerance, type ToleranceInput } from '../../lib/runtime/tolerance.js';

export async function handler(input: ToleranceInput): Promise<unknown[]> {
  return checkTolerance(input);
}
