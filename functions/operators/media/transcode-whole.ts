import {
  parseOperatorInput,
  type TranscodeResult,
  taskInputOf,
  transcodeWholeInputSchema,
} from '../../../lib/media/contracts.js';
import { transcodeSource } from '../../../lib/media/transcode.js';
import { objectRoot, outputUri } from '../../../lib/storage/object-store.js';
import type { OperatorEvent } from '../types.js';

/**
 * media/transcode-whole: `{ source, preset? }` (or the task input's) -> one rendition, no slicing.
 * Workflows run it as an async node (dag-spec §2); the runtime answers the callback with the result.
 */
export async function handler(event: OperatorEvent): Promise<TranscodeResult> {
  const { source, preset } = parseOperatorInput(
    'media/transcode-whole',
    transcodeWholeInputSchema,
    taskInputOf(event.input),
  );
  return transcodeSource(source, {
    outputPrefix: outputUri(objectRoot(), event.task.id, event.node.name),
    ...(preset === undefined ? {} : { preset }),
  });
}
