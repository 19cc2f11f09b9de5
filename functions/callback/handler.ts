// Callbacks for async work (dag-spec §7), through both doors: `POST /callbacks/{id}` (apiHandler) and
// `Node Callback` events from `dag.worker` on the engine's bus (eventHandler). Two functions on this
// one bundle, one handler per trigger. Every answer is logged with `answer` (the §7 code), which the
// rejected-callbacks alarm counts.
import { SFNClient } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, EventBridgeEvent } from 'aws-lambda';
import { applyCallback, type CallbackServiceDeps, SfnTaskResponder } from '../../lib/aws/callback-service.js';
import { answerForError, bodyOf, json, message, parseJson, pathParameter } from '../../lib/aws/http.js';
import { createLogger, trackingKeys } from '../../lib/aws/logging.js';
import { trackingFromEnv } from '../../lib/aws/stores.js';
import type { CallbackAnswer } from '../../lib/runtime/callbacks.js';
import { eventIdOf, parseWorkId } from '../../lib/tracking/ids.js';

const logger = createLogger();
const deps: CallbackServiceDeps = {
  store: trackingFromEnv(['events', 'segments']).tracking,
  responder: new SfnTaskResponder(new SFNClient({})),
};

export async function apiHandler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const id = pathParameter(event, 'id');
  const body = bodyOf(event);
  const parsed = parseJson(body.text);
  if (!parsed.ok)
    return logged(id, 'api', { status: 400, message: `The callback is not JSON: ${parsed.message}` });
  let callback = parsed.value;
  if (callback !== null && typeof callback === 'object' && !Array.isArray(callback)) {
    const bodyId = (callback as { id?: unknown }).id;
    if (bodyId === undefined) callback = { ...callback, id };
    else if (bodyId !== id)
      return logged(id, 'api', {
        status: 400,
        message: `The body's id '${String(bodyId)}' is not the id in the path, '${id}'.`,
      });
  }
  try {
    return logged(id, 'api', await applyCallback(callback, body.bytes, deps));
  } catch (error) {
    // Step Functions or DynamoDB still failing after the SDK's retries: the worker should retry.
    const answer = answerForError(error, []);
    if (answer) return answer;
    logger.error('callback failed', { error, id });
    throw error;
  }
}

/**
 * An event is answered by nobody: a rejected one is logged and dropped (retrying cannot change a 4xx).
 * A throw (Step Functions or DynamoDB unavailable) makes EventBridge retry the delivery.
 */
export async function eventHandler(event: EventBridgeEvent<'Node Callback', unknown>): Promise<void> {
  const detail = event.detail as { id?: unknown } | null;
  const id = typeof detail?.id === 'string' ? detail.id : '';
  const bytes = Buffer.byteLength(JSON.stringify(event.detail ?? null));
  const answer = await applyCallback(event.detail, bytes, deps);
  logged(id, 'eventbridge', answer, event.id);
}

function logged(
  id: string,
  via: 'api' | 'eventbridge',
  answer: CallbackAnswer,
  busEventId?: string,
): APIGatewayProxyResult {
  const work = parseWorkId(id);
  const keys = trackingKeys({
    taskId: work?.taskId,
    eventId: work === undefined ? undefined : eventIdOf(work.taskId, work.node),
    segmentId: work?.order === undefined ? undefined : id,
  });
  const fields = { ...keys, answer: answer.status, via, ...(busEventId ? { busEventId } : {}) };
  if (answer.status >= 400) logger.warn(`callback rejected: ${answer.message}`, fields);
  else logger.info('callback accepted', fields);
  return answer.status === 202
    ? json(202, { message: answer.message })
    : message(answer.status, answer.message);
}
