// The barrier function on AWS: the shared barrier logic (lib/runtime/barriers.ts) over the barriers
// table, resuming waits with SendTaskSuccess.
import type { BarrierDeps } from '../runtime/barriers.js';
import type { BarrierStore } from '../tracking/barrier-store.js';
import { isTokenGone, type TaskResponder } from './callback-service.js';

export function awsBarrierDeps(store: BarrierStore, responder: TaskResponder): BarrierDeps {
  return {
    store,
    resume: async (token, output) => {
      try {
        await responder.succeed(token, output);
      } catch (error) {
        // The wait is gone (its execution ended, say a sibling branch failed): nobody to resume.
        if (!isTokenGone(error)) throw error;
      }
    },
  };
}
