import {
  parseOperatorInput,
  type TranscodedPart,
  transcodeInputSchema,
} from '../../../lib/media/contracts.js';
import { transcodeSegment } from '../../../lib/media/transcode.js';
import { objectRoot, outputUri } from '../../../lib/storage/object-store.js';
import type { OperatorEvent } from '../types.js';

/** media/transcode: `{ segment, preset? }` (one of slice's segments) -> one part for merge. */
export async function handler(event: OperatorEvent): Promise<TranscodedPart> {
  const { segment, preset } = parseOperatorInput('media/transcode', transcodeInputSchema, event.input);
  return transcodeSegment(segment, {
    outputPrefix: outputUri(objectRoot(), event.task.id, event.node.name),
    ...(preset === undefined ? {} : { preset }),
  });
}
