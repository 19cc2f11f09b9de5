// `kind: http` callback nodes (dag-spec §2): the notifier Lambda on AWS and the embedded engine send
// the payload the same way.
import { OperatorFailedError } from './operator-runtime.js';

/** What the compiled http callback Task passes (see emit.ts, `callback`). */
export interface HttpCallbackInput {
  readonly url: string;
  readonly method: string;
  readonly body: unknown;
}

const HTTP_CALLBACK_TIMEOUT_MS = 30_000;

/** Sends the payload as JSON; any answer but 2xx fails the node with `CallbackHttpError`. */
export async function sendHttpCallback(
  input: HttpCallbackInput,
  fetcher: typeof fetch = fetch,
): Promise<{ status: number }> {
  let response: Response;
  try {
    response = await fetcher(input.url, {
      method: input.method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input.body ?? null),
      signal: AbortSignal.timeout(HTTP_CALLBACK_TIMEOUT_MS),
    });
  } catch (error) {
    throw new OperatorFailedError(
      'CallbackHttpError',
      `${input.method} ${input.url} failed: ${(error as Error).message}`,
    );
  }
  if (!response.ok)
    throw new OperatorFailedError(
      'CallbackHttpError',
      `${input.method} ${input.url} answered ${response.status}`,
    );
  return { status: response.status };
}
