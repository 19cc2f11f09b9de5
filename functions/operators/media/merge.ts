import { type MergeResult, mergeInputSchema, parseOperatorInput } from '../../../lib/media/contracts.js';
import { mergeParts } from '../../../lib/media/merge.js';
import { objectRoot, outputUri } from '../../../lib/storage/object-store.js';
import type { OperatorEvent } from '../types.js';

/** media/merge: `{ parts }` (transcode's outputs, in order) -> one file, joined by stream copy. */
export async function handler(event: OperatorEvent): Promise<MergeResult> {
  const { parts } = parseOperatorInput('media/merge', mergeInputSchema, event.input);
  return mergeParts(parts, { output: outputUri(objectRoot(), event.task.id, event.node.name, 'merged.mp4') });
}
