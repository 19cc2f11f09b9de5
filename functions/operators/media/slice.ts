import { parseOperatorInput, type SliceResult, sliceInputSchema } from '../../../lib/media/contracts.js';
import { sliceSource } from '../../../lib/media/slice.js';
import { objectRoot, outputUri } from '../../../lib/storage/object-store.js';
import type { OperatorEvent } from '../types.js';

/** media/slice: `{ source, seconds }` -> `{ source, segments }`, cut at keyframes by stream copy. */
export async function handler(event: OperatorEvent): Promise<SliceResult> {
  const { source, seconds } = parseOperatorInput('media/slice', sliceInputSchema, event.input);
  return sliceSource(source, {
    seconds,
    outputPrefix: outputUri(objectRoot(), event.task.id, event.node.name),
  });
}
