// parse -> validate -> plan -> passes -> emit. Only chains the steps; each lives in its own module.
import { type Diagnostic, DiagnosticCode, hasErrors } from '../dag/diagnostics.js';
import { parseWorkflowSource } from '../dag/parse.js';
import { type ValidatedDag, type ValidateOptions, validateWorkflow } from '../dag/validate.js';
import { placeholderBindings, type ResourceBindings } from './bindings.js';
import { type AslDefinition, emitAsl, TemplateNotExpressibleError } from './emit.js';
import { OPTIMIZATION_PASSES, runPasses } from './passes.js';
import { planWorkflow } from './plan.js';
import type { ExecutionPlan } from './plan-types.js';

export type PlanStrategy = 'fastest' | 'cheapest';

export interface CompileOptions extends ValidateOptions {
  /** false: one state per business node (`--no-optimize`). */
  readonly optimize?: boolean;
  readonly strategy?: PlanStrategy;
  readonly bindings?: ResourceBindings;
}

export interface CompileResult {
  readonly diagnostics: readonly Diagnostic[];
  readonly dag?: ValidatedDag;
  readonly plan?: ExecutionPlan;
  readonly asl?: AslDefinition;
}

/** Step Functions' limit on a state machine definition. */
export const MAX_DEFINITION_BYTES = 1_048_576;

export function compileWorkflowText(text: string, options: CompileOptions = {}): CompileResult {
  const validation = validateWorkflow(parseWorkflowSource(text), options);
  if (!validation.dag || hasErrors(validation.diagnostics)) return { diagnostics: validation.diagnostics };
  return compileValidated(validation.dag, options, validation.diagnostics);
}

export function compileValidated(
  dag: ValidatedDag,
  options: CompileOptions = {},
  earlier: readonly Diagnostic[] = [],
): CompileResult {
  const diagnostics = [...earlier];
  const plan = planWorkflow(dag, { params: options.params });
  if (options.optimize !== false) runPasses(plan, OPTIMIZATION_PASSES);
  let asl: AslDefinition;
  try {
    asl = emitAsl(plan, options.bindings ?? placeholderBindings());
  } catch (error) {
    if (!(error instanceof TemplateNotExpressibleError)) throw error;
    diagnostics.push({
      code: DiagnosticCode.SCHEMA,
      severity: 'error',
      message: `Node '${error.node}': ${error.message}.`,
      node: error.node,
    });
    return { diagnostics, dag, plan };
  }
  const bytes = Buffer.byteLength(JSON.stringify(asl));
  if (bytes > MAX_DEFINITION_BYTES) {
    diagnostics.push({
      code: DiagnosticCode.SCHEMA,
      severity: 'warning',
      message: `The compiled definition is ${bytes} bytes, over Step Functions' ${MAX_DEFINITION_BYTES}-byte limit. Split the workflow, or move large literals (script sources, templates) into operators.`,
    });
  }
  return { diagnostics, dag, plan, asl };
}
