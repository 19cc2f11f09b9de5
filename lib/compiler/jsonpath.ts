// Reference paths (`$.nodes.probe.durationSec`) in the one spelling that Step Functions, asl-validator
// and aws-local-stepfunctions (whose reader is jsonpath-plus) all resolve to the same value.

// Dot form for names made of letters, digits, `_` and `-`: Step Functions (Jayway JsonPath) and
// jsonpath-plus both read `$.nodes.my-node`, and a path without quotes stays safe inside intrinsic
// functions such as States.Array(...), whose arguments use quotes for string literals.
const DOT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

// Characters that break a bracket-quoted name in at least one of the three readers: asl-validator
// rejects `'` and `\` even escaped; jsonpath-plus misreads `;`, `^`, `[`, `]` and `#`, `@`, `(`, `)`
// in some combinations (`#0`, `(a)`, `~@`) and then finds nothing. Found by fuzzing both tools.
const UNREADABLE_IN_BRACKETS = /['\\;^[\]#@()]/;

/**
 * Why a property name cannot appear in a reference path, or undefined when it can. Names that fail
 * here would silently resolve to nothing on the embedded engine, so the validator rejects them.
 */
export function referenceKeyProblem(key: string): string | undefined {
  if (DOT_NAME.test(key)) return undefined;
  const bad = UNREADABLE_IN_BRACKETS.exec(key);
  return bad ? `the name contains '${bad[0]}', which JSONPath readers do not agree on` : undefined;
}

/**
 * `['nodes', 'probe', 'durationSec']` -> `$.nodes.probe.durationSec`; numbers become `[0]`, other
 * names `['a b']`. Names that referenceKeyProblem rejects are quoted as Step Functions expects, but
 * the embedded engine cannot read them: validate first.
 */
export function formatReferencePath(segments: readonly (string | number)[]): string {
  return `$${segments.map(formatSegment).join('')}`;
}

function formatSegment(segment: string | number): string {
  if (typeof segment === 'number') return `[${segment}]`;
  if (DOT_NAME.test(segment)) return `.${segment}`;
  return `['${segment.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}']`;
}
