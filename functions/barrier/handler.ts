// Cross-branch barriers (`--plan fastest`): the wait state invokes this with `.waitForTaskToken` and
// the release states after its producers invoke it plainly; whichever completes the barrier resumes
// the wait with what the producers' branches knew.
import { SFNClient } from '@aws-sdk/client-sfn';
import { awsBarrierDeps } from '../../lib/aws/barrier-service.js';
import { SfnTaskResponder } from '../../lib/aws/callback-service.js';
import { createLogger } from '../../lib/aws/logging.js';
import { trackingFromEnv } from '../../lib/aws/stores.js';
import { parseBarrierPayload, passBarrier } from '../../lib/runtime/barriers.js';
import { DynamoBarrierStore } from '../../lib/tracking/barrier-store.js';

const logger = createLogger();
const stores = trackingFromEnv(['barriers']);
const deps = awsBarrierDeps(
  new DynamoBarrierStore(stores.documentClient, stores.tableNames.barriers),
  new SfnTaskResponder(new SFNClient({})),
);

export async function handler(payload: unknown): Promise<Record<string, never>> {
  const barrier = parseBarrierPayload(payload);
  await passBarrier(barrier, deps);
  logger.info(
    barrier.action === 'wait'
      ? `'${barrier.consumer}' waits for ${barrier.producers.join(', ')}`
      : `'${barrier.producer}' released ${barrier.consumers.join(', ')}`,
    { taskId: barrier.task.id },
  );
  return {};
}
