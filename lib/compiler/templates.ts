// Templates (dag-spec §3) as JSONPath-mode ASL payload templates: a reference becomes a `key.$` path,
// an array that ASL cannot write as a literal becomes States.Array(...), the rest stays literal.
// Shared by the emitter and the validator, which reports with its position what ASL cannot hold, so
// that every template the validator accepts compiles to ASL that asl-validator (and so the embedded
// engine, whose StateMachine runs it) accepts.
import type { PathSegment } from '../dag/parse.js';
import { isReference, parseReference } from '../dag/reference.js';
import { formatReferencePath } from './jsonpath.js';

/** A part of a template that ASL cannot hold: where (from the wrapping field on) and why. */
export interface TemplateProblem {
  readonly at: readonly PathSegment[];
  /** `key` when the key itself is the fault. */
  readonly part: 'key' | 'value';
  /** Completes "<field> ...": what is wrong and the fix. */
  readonly reason: string;
}

export type TemplateParameters =
  | { readonly ok: true; readonly parameters: Record<string, unknown> }
  | { readonly ok: false; readonly problems: readonly TemplateProblem[] };

/**
 * A string that asl-validator's schema takes as an item of a literal array (its `not_jsonata`
 * pattern, read as Ajv does, with the u flag): not empty, on one line, not starting with "{% ".
 */
const LITERAL_ARRAY_STRING = /^(?!\{% )(.+)(?! %\})$/u;

/** Why an array is written with States.Array, for messages. */
type IntrinsicCause = 'reference' | 'literal';

/**
 * A template object as ASL Parameters. Its fields keep their names (a reference's gains `.$`); an
 * array becomes States.Array(...) when it holds a reference, or an item that asl-validator refuses in
 * a literal array (null, "", a string over several lines or starting with "{% "), anywhere in it.
 */
export function templateParameters(template: Record<string, unknown>): TemplateParameters {
  const problems: TemplateProblem[] = [];
  const parameters = objectParameters(template, [], problems);
  findPathKeys(template, [], problems);
  return problems.length === 0 ? { ok: true, parameters } : { ok: false, problems };
}

/** A validated reference (`$`, `$.a.b[0]`) in the JSONPath form both engines read. */
export function referencePath(text: string): string {
  const parsed = parseReference(text);
  if (!parsed.ok) throw new Error(`internal: unvalidated reference ${text}`);
  return parsed.segments.length === 0 ? '$' : formatReferencePath(parsed.segments);
}

/** `['input', 'list', 1]` -> `input.list[1]`, for messages. */
export function fieldText(at: readonly PathSegment[]): string {
  return at
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) return i === 0 ? segment : `.${segment}`;
      return `[${JSON.stringify(segment)}]`;
    })
    .join('');
}

/**
 * ASL reads every field whose name ends in `.$` as a path or an intrinsic, wherever it is; and
 * asl-validator refuses fields named after JavaScript object members.
 */
function findPathKeys(value: unknown, at: readonly PathSegment[], problems: TemplateProblem[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      findPathKeys(item, [...at, i], problems);
    });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, inner] of Object.entries(value)) {
    if (key.endsWith('.$'))
      problems.push({
        at: [...at, key],
        part: 'key',
        reason: `has key '${key}', which ASL reads as a path (a field name ending in .$). Rename it.`,
      });
    // asl-validator, which the embedded engine and `dag compile` run, takes `toString` for a field the
    // object already has (every JavaScript object does): Step Functions would run it, the engine not.
    else if (key in Object.prototype)
      problems.push({
        at: [...at, key],
        part: 'key',
        reason: `has key '${key}', the name of a JavaScript object member, which asl-validator refuses in a state's parameters. Rename it.`,
      });
    findPathKeys(inner, [...at, key], problems);
  }
}

function objectParameters(
  template: Record<string, unknown>,
  at: readonly PathSegment[],
  problems: TemplateProblem[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(template)) {
    const here = [...at, key];
    const path = isReference(value)
      ? referencePath(value)
      : Array.isArray(value) && containsReference(value)
        ? arrayIntrinsic(value, here, 'reference', problems)
        : Array.isArray(value) && !literalArrayHolds(value)
          ? arrayIntrinsic(value, here, 'literal', problems)
          : undefined;
    if (path !== undefined) out[`${key}.$`] = path;
    else if (value !== null && typeof value === 'object' && !Array.isArray(value))
      out[key] = objectParameters(value as Record<string, unknown>, here, problems);
    else out[key] = value;
  }
  return out;
}

function containsReference(value: unknown): boolean {
  if (isReference(value)) return true;
  if (Array.isArray(value)) return value.some(containsReference);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsReference);
  return false;
}

/** Whether asl-validator takes these items as a literal array (its payload template schema). */
function literalArrayHolds(items: readonly unknown[]): boolean {
  return items.every((item) => {
    if (item === null) return false;
    if (typeof item === 'string') return LITERAL_ARRAY_STRING.test(item);
    if (Array.isArray(item)) return literalArrayHolds(item);
    if (typeof item === 'object') return literalFieldsHold(item as Record<string, unknown>);
    return true;
  });
}

/** An object inside a literal array: its fields take any scalar, and arrays as above. */
function literalFieldsHold(fields: Record<string, unknown>): boolean {
  return Object.values(fields).every((value) => {
    if (Array.isArray(value)) return literalArrayHolds(value);
    if (value !== null && typeof value === 'object')
      return literalFieldsHold(value as Record<string, unknown>);
    return true;
  });
}

function arrayIntrinsic(
  items: readonly unknown[],
  at: readonly PathSegment[],
  cause: IntrinsicCause,
  problems: TemplateProblem[],
): string {
  const args = items.map((item, i) => intrinsicArgument(item, [...at, i], cause, problems));
  return `States.Array(${args.join(', ')})`;
}

/** One item of a States.Array, nested arrays as nested States.Array. */
function intrinsicArgument(
  item: unknown,
  at: readonly PathSegment[],
  cause: IntrinsicCause,
  problems: TemplateProblem[],
): string {
  if (isReference(item)) return referencePath(item);
  if (typeof item === 'boolean' || item === null) return JSON.stringify(item);
  if (typeof item === 'number') return numberArgument(item);
  if (Array.isArray(item)) return arrayIntrinsic(item, at, cause, problems);
  const why =
    cause === 'reference'
      ? 'the array holds a reference'
      : 'the array holds null, "" or a string over several lines, which a literal ASL array cannot';
  if (typeof item === 'string') {
    // Step Functions reads `\\` as a backslash, but asl-validator's grammar (and so the embedded
    // engine's StateMachine) refuses it, and no other intrinsic makes one on both engines.
    if (!item.includes('\\')) return stringArgument(item);
    problems.push({
      at,
      part: 'value',
      reason: `is a string with a backslash inside an array that ASL builds with States.Array, as ${why}; a string there cannot hold a backslash (asl-validator refuses \\\\). Move the string to a field of its own.`,
    });
    return "''";
  }
  problems.push({
    at,
    part: 'value',
    reason: `is an object inside an array that ASL builds with States.Array, as ${why}; States.Array holds only references, strings, numbers, booleans, null and arrays of them. Move the object to a field of its own.`,
  });
  return 'null';
}

/**
 * A string (without a backslash) as an intrinsic argument. `'`, `{` and `}` are escaped with `\\`,
 * which the embedded engine leaves in the strings of States.Array (it unescapes only the string a
 * function returns): those go in through States.Format, whose result both engines unescape alike.
 */
function stringArgument(value: string): string {
  if (!/['{}]/.test(value)) return `'${value}'`;
  return `States.Format('${value.replace(/['{}]/g, (c) => `\\${c}`)}')`;
}

/**
 * A number as an intrinsic argument. asl-validator's grammar reads only integers there (`-?[0-9]+`),
 * and Step Functions reads them as 64-bit integers: any other number (1.5, 1e+21, 2^53 + 2) goes in
 * as JSON text through States.StringToJson, whose string needs no escape (digits, `.`, `e`, `+`, `-`).
 */
function numberArgument(value: number): string {
  const json = JSON.stringify(value);
  return Number.isSafeInteger(value) ? json : `States.StringToJson('${json}')`;
}
