// The barrier function on AWS: the shared barrier logic (lib/runtime/barriers.ts) over the barriers
// table, resuming waits with SendTaskSuccess.
import type { BarrierDeps } from '../runtime/barriers.js';
import type { BarrierStore } from '../tracking/barrier-store.js';
import { isTokenGone, type TaskResponder } from './callback-service.js';

export function awsBarrierDeps(store: BarrierStore, responder: TaskResponder): BarrierDeps {
  return {
    store,
    resume: async (token, released) => {
      try {
        await responder.succeed(token, released);
      } catch (error) {
        // The wait is gone (its execution ended, say a sibling branch failed): nobody to resume.
        if (!isTokenGone(error)) throw error;
      }
    },
  };
}
