import {
  extractThumbnails,
  type ThumbnailsResult,
  thumbnailsInputSchema,
} from '../../../lib/media/analysis.js';
import { parseOperatorInput } from '../../../lib/media/contracts.js';
import { objectRoot, outputUri } from '../../../lib/storage/object-store.js';
import type { OperatorEvent } from '../types.js';

/** analysis/thumbnails: `{ source, keyframes, count }` -> `{ uris }`, JPEGs at evenly spread keyframes. */
export async function handler(event: OperatorEvent): Promise<ThumbnailsResult> {
  const { source, keyframes, count } = parseOperatorInput(
    'analysis/thumbnails',
    thumbnailsInputSchema,
    event.input,
  );
  return extractThumbnails(source, keyframes, count, {
    outputPrefix: outputUri(objectRoot(), event.task.id, event.node.name),
  });
}
