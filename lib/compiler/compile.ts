// parse -> validate -> plan -> passes -> emit. Only chains the steps; each lives in its own module.
import { type Diagnostic, DiagnosticCode, hasErrors } from '../dag/diagnostics.js';
import { parseWorkflowSource } from '../dag/parse.js';
import { type ValidatedDag, type ValidateOptions, validateWorkflow } from '../dag/validate.js';
import type { NestStrategy } from './barriers.js';
import { placeholderBindings, type ResourceBindings } from './bindings.js';
import { type AslDefinition, emitAsl, TemplateNotExpressibleError } from './emit.js';
import { limitDiagnostics } from './limits.js';
import { OPTIMIZATION_PASSES, runPasses } from './passes.js';
import { planWorkflow } from './plan.js';
import type { ExecutionPlan } from './plan-types.js';

export type { NestStrategy as PlanStrategy } from './barriers.js';

export interface CompileOptions extends ValidateOptions {
  /** false: one state per business node (`--no-optimize`). */
  readonly optimize?: boolean;
  readonly strategy?: NestStrategy;
  readonly bindings?: ResourceBindings;
}

export interface CompileResult {
  readonly diagnostics: readonly Diagnostic[];
  readonly dag?: ValidatedDag;
  readonly plan?: ExecutionPlan;
  readonly asl?: AslDefinition;
}

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
  // --no-optimize keeps one state per node: nesting only, no barrier states.
  const strategy = options.optimize === false ? 'cheapest' : (options.strategy ?? 'fastest');
  const plan = planWorkflow(dag, { params: options.params, strategy });
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
  diagnostics.push(...limitDiagnostics(plan, asl));
  return { diagnostics, dag, plan, asl };
}
