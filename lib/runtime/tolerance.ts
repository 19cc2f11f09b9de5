// The check after a parallel node's Map when it tolerates failures (dag-spec §2): the embedded engine
// binds it to the tolerance Task state, the tolerance Lambda runs it on AWS.
import { OperatorFailedError } from './operator-runtime.js';

/** What the compiled tolerance Task passes (see emit.ts, `kind: 'tolerance'`). */
export interface ToleranceInput {
  readonly node: string;
  readonly toleratedFailurePercentage: number;
  readonly items: unknown[];
}

/** After a Map with tolerated failures: fail when the failed share is over the limit, else null the failures. */
export function checkTolerance(input: ToleranceInput): unknown[] {
  const failed = input.items.filter(isFailedItem).length;
  const share = input.items.length === 0 ? 0 : (failed / input.items.length) * 100;
  if (share > input.toleratedFailurePercentage) {
    throw new OperatorFailedError(
      'ToleratedFailureExceeded',
      `${failed} of ${input.items.length} items of '${input.node}' failed (${share.toFixed(1)}%), over the tolerated ${input.toleratedFailurePercentage}%.`,
    );
  }
  return input.items.map((item) => (isFailedItem(item) ? null : item));
}

/** The marker the Map's Catch writes for a failed item (`dagFailed: true`). */
export function isFailedItem(item: unknown): boolean {
  return item !== null && typeof item === 'object' && (item as { dagFailed?: unknown }).dagFailed === true;
}
