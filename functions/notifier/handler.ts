// `kind: http` callback nodes (dag-spec §2): POSTs (or PUTs, PATCHes) the payload to the target URL.
import { createLogger } from '../../lib/aws/logging.js';
import { type HttpCallbackInput, sendHttpCallback } from '../../lib/runtime/http-callback.js';

const logger = createLogger();

export interface NotifierInput extends HttpCallbackInput {
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: string;
}

export async function handler(input: NotifierInput): Promise<{ status: number }> {
  const answer = await sendHttpCallback(input);
  logger.info('http callback sent', { taskId: input.task.id, node: input.node, status: answer.status });
  return answer;
}
