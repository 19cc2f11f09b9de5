// Templates (dag-spec §3) evaluated by the runtime instead of by Step Functions: inside a fused Task
// each node's input is built from the context as the chain has made it so far, which no Parameters
// block can see. Same rules as the ASL the compiler emits: strings that are references read the
// context, also inside arrays and objects; a reference to nothing fails with States.Runtime.
import { isReference, parseReference } from '../dag/reference.js';
import { OperatorFailedError } from './operator-runtime.js';

export function resolveTemplate(template: unknown, context: unknown): unknown {
  // By value, as Step Functions passes it: an operator returning its input must not alias the context.
  if (isReference(template)) return structuredClone(readReference(template, context));
  if (Array.isArray(template)) return template.map((item) => resolveTemplate(item, context));
  if (template !== null && typeof template === 'object')
    return Object.fromEntries(
      Object.entries(template).map(([key, value]) => [key, resolveTemplate(value, context)]),
    );
  return template;
}

function readReference(reference: string, context: unknown): unknown {
  const parsed = parseReference(reference);
  if (!parsed.ok) throw new OperatorFailedError('States.Runtime', `'${reference}' is not a reference path.`);
  let value: unknown = context;
  for (const segment of parsed.segments) {
    const container = value as Record<string | number, unknown> | null;
    const present =
      container !== null &&
      typeof container === 'object' &&
      (typeof segment === 'number'
        ? Array.isArray(container) && segment < container.length
        : segment in container);
    if (!present)
      throw new OperatorFailedError(
        'States.Runtime',
        `Path expression '${reference}' does not point to a value.`,
      );
    value = container[segment];
  }
  return value;
}
