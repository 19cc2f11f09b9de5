// The `via: batch` GPU job (dag-spec §2): the dispatch function submits it with the work item and the
// operator in its environment; it runs the operator from the catalog through the operator runtime (a
// `gpu` trace) and answers with a `Node Callback` event on the engine's bus. Exit code 0 once the
// callback is on the bus, whatever the operator did: the callback carries its failure.
import { join } from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { createLogger, runtimeLogLine } from '../../lib/aws/logging.js';
import { trackingFromEnv } from '../../lib/aws/stores.js';
import { EventBridgeCallbackReporter, parseWorkItem, runWorkItem } from '../../lib/aws/worker.js';
import { ENV, requireEnv } from '../../lib/config/env.js';
import { OperatorRuntime } from '../../lib/runtime/operator-runtime.js';
import { OperatorCatalog } from '../../lib/runtime/operators.js';

const logger = createLogger();

async function main(): Promise<void> {
  const item = parseWorkItem(requireEnv(ENV.WORK_ITEM));
  const operator = requireEnv(ENV.OPERATOR);
  logger.appendPersistentKeys({ operator, taskId: item.task.id, workId: item.id });
  const catalog = new OperatorCatalog(join(import.meta.dirname, '..', 'operators'));
  await runWorkItem(item, {
    runtime: new OperatorRuntime(trackingFromEnv(['traces']).tracking, runtimeLogLine(logger)),
    operator: await catalog.load(operator),
    reporter: new EventBridgeCallbackReporter(new EventBridgeClient({}), requireEnv(ENV.EVENT_BUS_NAME)),
    resource: 'gpu',
  });
}

main().catch((error: unknown) => {
  logger.error('the work item was not answered', { error });
  process.exitCode = 1;
});
