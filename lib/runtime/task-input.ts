// The task input check at submit (dag-spec §9): the workflow's `input` JSON Schema (2020-12), and the
// failing path as a JSON Pointer for the 400 answer.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export interface InputProblem {
  /** JSON Pointer of the failing value, `''` for the input itself. */
  readonly path: string;
  readonly message: string;
}

export type InputCheck = (input: unknown) => InputProblem | undefined;

export class InvalidInputSchemaError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(`'input' is not a valid JSON Schema: ${message}`, options);
    this.name = 'InvalidInputSchemaError';
  }
}

/** Compiles each schema once per instance (Ajv caches what it compiled). */
export class TaskInputChecker {
  private readonly ajv = new Ajv2020({
    allErrors: false,
    strict: false,
    validateFormats: false,
    logger: false,
  });
  private readonly checks = new Map<string, InputCheck>();

  /** A check for `schema`; everything passes when there is none. Cached under `key` (name@version). */
  checkFor(key: string, schema: unknown): InputCheck {
    const known = this.checks.get(key);
    if (known) return known;
    const check = schema === undefined ? () => undefined : this.compile(schema);
    this.checks.set(key, check);
    return check;
  }

  private compile(schema: unknown): InputCheck {
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(schema as object);
    } catch (error) {
      throw new InvalidInputSchemaError((error as Error).message, { cause: error });
    }
    return (input) => (validate(input) ? undefined : describeProblem(validate.errors?.[0]));
  }
}

/** The failing path as a JSON Pointer, a missing property's own path included. */
function describeProblem(error: ErrorObject | undefined): InputProblem {
  if (!error) return { path: '', message: 'The input does not match the workflow input schema.' };
  const missing =
    error.keyword === 'required' ? (error.params as { missingProperty?: string }).missingProperty : undefined;
  const path = missing === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(missing)}`;
  const where = path === '' ? 'the input' : `'${path}'`;
  const message =
    missing === undefined
      ? `Input at ${where} ${error.message ?? 'is invalid'}.`
      : `Input at ${where} is required and missing.`;
  return { path, message };
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
