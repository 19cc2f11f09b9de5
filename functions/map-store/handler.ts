// Distributed Maps (dag-spec §6): the Tasks around a parallel node's Distributed Map invoke this. Before
// the Map, `stage` writes the node's items as one JSON object under the object root for the ItemReader;
// after it, `collect` reads what the ResultWriter wrote and gives the items' outputs back in item order,
// as an inline Map would have (lib/runtime/map-store.ts; the embedded engine runs the same code).
import { runMapStore } from '../../lib/runtime/map-store.js';

export async function handler(input: unknown): Promise<unknown> {
  return runMapStore(input);
}
