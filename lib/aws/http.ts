// API Gateway (REST, Lambda proxy) requests and answers for the §9 routes: JSON bodies, `{message}` for
// errors, diagnostics as `dag validate --json` prints them — the same bodies as `dag serve`.
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

export { diagnosticJson } from '../dag/diagnostics.js';

import { isThrottling } from './sdk-errors.js';

export function json(statusCode: number, body: unknown): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

export function message(statusCode: number, text: string): APIGatewayProxyResult {
  return json(statusCode, { message: text });
}

/** The request body as text and its size in bytes (callbacks are limited on it, dag-spec §7). */
export function bodyOf(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): {
  text: string;
  bytes: number;
} {
  if (event.body === null || event.body === undefined) return { text: '', bytes: 0 };
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  return { text: raw.toString('utf8'), bytes: raw.byteLength };
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

/** A header, case-insensitively (API Gateway passes them as sent). */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {}))
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  return undefined;
}

export function pathParameter(event: Pick<APIGatewayProxyEvent, 'pathParameters'>, name: string): string {
  // API Gateway matched the route, so the parameter is there.
  return event.pathParameters?.[name] ?? '';
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * The answer for a known error class (first match), `{message}` with its status; 503 for throttling
 * that outlived the SDK's retries; undefined for anything else (the handler rethrows it: a 500 with
 * the error logged).
 */
export function answerForError(
  error: unknown,
  statuses: ReadonlyArray<readonly [ErrorClass, number]>,
): APIGatewayProxyResult | undefined {
  for (const [errorClass, status] of statuses)
    if (error instanceof errorClass) return message(status, (error as Error).message);
  if (isThrottling(error)) return message(503, 'The engine is busy: retry with backoff.');
  return undefined;
}
