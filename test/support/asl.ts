// asl-validator for tests: one definition, or many at once. The validator builds a new Ajv per call
// (70–400 ms here), so property tests validate their definitions in batches: each definition, its
// state names prefixed to keep them unique, becomes one branch of a single Parallel state.
import validator from 'asl-validator';

type Json = Record<string, unknown>;

export interface AslCheck {
  readonly isValid: boolean;
  readonly errors: string;
}

/** asl-validator with paths and ARNs checked, on a clone (it mutates its input). */
export function validateAsl(definition: unknown): AslCheck {
  const result = validator(structuredClone(definition), { checkPaths: true, checkArn: true });
  return { isValid: result.isValid, errors: result.errorsText('\n') };
}

/**
 * Validates many definitions; returns the index and errors of each invalid one. Only `StartAt` and
 * `States` go into the batch: top-level fields such as TimeoutSeconds are not checked this way.
 */
export function validateAslBatch(
  definitions: readonly Json[],
  batchSize = 100,
): { index: number; errors: string }[] {
  const invalid: { index: number; errors: string }[] = [];
  for (let from = 0; from < definitions.length; from += batchSize) {
    const slice = definitions.slice(from, from + batchSize);
    const batch = {
      StartAt: 'batch',
      States: {
        batch: {
          Type: 'Parallel',
          Branches: slice.map((definition, i) => prefixStates(definition, `d${from + i}_`)),
          End: true,
        },
      },
    };
    if (validateAsl(batch).isValid) continue;
    // Find the culprits one by one, with their own unprefixed errors.
    slice.forEach((definition, i) => {
      const check = validateAsl(definition);
      if (!check.isValid) invalid.push({ index: from + i, errors: check.errors });
    });
  }
  return invalid;
}

/** A scope (`{StartAt, States}`) with every state name, and every reference to one, prefixed. */
function prefixStates(scope: Json, prefix: string): Json {
  const states = scope.States as Record<string, Json>;
  const renamed: Record<string, Json> = {};
  for (const [name, state] of Object.entries(states)) renamed[prefix + name] = prefixState(state, prefix);
  return { StartAt: prefix + String(scope.StartAt), States: renamed };
}

function prefixState(state: Json, prefix: string): Json {
  const out: Json = { ...state };
  if (typeof out.Next === 'string') out.Next = prefix + out.Next;
  if (typeof out.Default === 'string') out.Default = prefix + out.Default;
  if (Array.isArray(out.Choices))
    out.Choices = (out.Choices as Json[]).map((rule) => ({ ...rule, Next: prefix + String(rule.Next) }));
  if (Array.isArray(out.Catch))
    out.Catch = (out.Catch as Json[]).map((c) => ({ ...c, Next: prefix + String(c.Next) }));
  if (Array.isArray(out.Branches))
    out.Branches = (out.Branches as Json[]).map((b) => prefixStates(b, prefix));
  for (const key of ['ItemProcessor', 'Iterator']) {
    const processor = out[key] as Json | undefined;
    if (processor) out[key] = { ...processor, ...prefixStates(processor, prefix) };
  }
  return out;
}

/** Every state name in a definition, those inside Parallel branches and Map processors included. */
export function allStateNames(scope: Json): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries(scope.States as Record<string, Json>)) {
    names.push(name);
    for (const branch of (state.Branches as Json[] | undefined) ?? []) names.push(...allStateNames(branch));
    for (const key of ['ItemProcessor', 'Iterator']) {
      const processor = state[key] as Json | undefined;
      if (processor) names.push(...allStateNames(processor));
    }
  }
  return names;
}
