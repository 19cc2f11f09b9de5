// The workflows `dag serve` knows: registered through `POST /workflows` (a new version each time, in the
// `workflows` table), compiled once per version, with the task input checked against the workflow's
// `input` JSON Schema at submit.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { type CompileResult, compileWorkflowText } from '../compiler/compile.js';
import { type Diagnostic, DiagnosticCode, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import type { Workflow } from '../dag/schema.js';
import type { WorkflowRegistry, WorkflowVersion } from '../tracking/workflow-registry.js';

/** A registered version, compiled and ready to run. */
export interface RunnableWorkflow {
  readonly record: WorkflowVersion;
  readonly workflow: Workflow;
  readonly compiled: CompileResult & Required<Pick<CompileResult, 'plan' | 'asl' | 'dag'>>;
  /** Checks a task input against the workflow's `input` schema (everything passes without one). */
  readonly checkInput: (input: unknown) => InputProblem | undefined;
}

export interface InputProblem {
  /** JSON Pointer of the failing value, `''` for the input itself. */
  readonly path: string;
  readonly message: string;
}

export type RegisterResult =
  | {
      readonly ok: true;
      readonly record: WorkflowVersion;
      readonly workflow: Workflow;
      readonly warnings: readonly Diagnostic[];
    }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export class RegisteredWorkflows {
  private readonly compiled = new Map<string, RunnableWorkflow>();
  /** Newest version per name. `dag serve` is the only writer of its table (one server per data folder). */
  private readonly latest = new Map<string, number>();
  // One Ajv for the whole server: each compiled schema is cached by the Ajv instance that built it.
  private readonly ajv = new Ajv2020({
    allErrors: false,
    strict: false,
    validateFormats: false,
    logger: false,
  });

  constructor(
    private readonly registry: WorkflowRegistry,
    private readonly operatorExists: (operator: string) => boolean,
  ) {}

  /** Compiles `source` and, when it has no error, stores it as the next version of its name. */
  async register(source: string): Promise<RegisterResult> {
    const result = this.compile(source);
    if (!result.ok) return result;
    const { workflow } = result.runnable;
    const record = await this.registry.register({
      name: workflow.name,
      source,
      ...(workflow.description === undefined ? {} : { description: workflow.description }),
    });
    this.compiled.set(key(record.name, record.version), { ...result.runnable, record });
    if ((this.latest.get(record.name) ?? 0) < record.version) this.latest.set(record.name, record.version);
    return { ok: true, record, workflow, warnings: result.warnings };
  }

  /** The newest version of `name` (or the given one), compiled; undefined when not registered. */
  async get(name: string, version?: number): Promise<RunnableWorkflow | undefined> {
    const cached = this.compiled.get(key(name, version ?? this.latest.get(name) ?? 0));
    if (cached) return cached;
    const record = await this.registry.get(name, version);
    if (!record) return undefined;
    if (version === undefined) this.latest.set(record.name, record.version);
    const known = this.compiled.get(key(record.name, record.version));
    if (known) return known;
    const result = this.compile(record.source);
    // A version that compiled when it was registered may not now (an operator was removed): that is
    // an error of the server's setup, reported to whoever tries to run it.
    if (!result.ok)
      throw new WorkflowNoLongerCompilesError(
        record.name,
        record.version,
        result.diagnostics.filter((d) => d.severity === 'error'),
      );
    const runnable = { ...result.runnable, record };
    this.compiled.set(key(record.name, record.version), runnable);
    return runnable;
  }

  list(): Promise<WorkflowVersion[]> {
    return this.registry.listLatest();
  }

  private compile(
    source: string,
  ):
    | { ok: true; runnable: Omit<RunnableWorkflow, 'record'>; warnings: Diagnostic[] }
    | { ok: false; diagnostics: Diagnostic[] } {
    const compiled = compileWorkflowText(source, { operatorExists: this.operatorExists });
    const diagnostics = sortDiagnostics(compiled.diagnostics);
    if (hasErrors(diagnostics) || !compiled.plan || !compiled.asl || !compiled.dag)
      return { ok: false, diagnostics };
    const workflow = compiled.dag.workflow;
    let validate: ValidateFunction | undefined;
    if (workflow.input !== undefined) {
      try {
        validate = this.ajv.compile(workflow.input);
      } catch (error) {
        return {
          ok: false,
          diagnostics: [
            {
              code: DiagnosticCode.SCHEMA,
              severity: 'error',
              message: `'input' is not a valid JSON Schema: ${(error as Error).message}`,
            },
          ],
        };
      }
    }
    const checkInput = (input: unknown): InputProblem | undefined => {
      if (!validate || validate(input)) return undefined;
      return describeProblem(validate.errors?.[0]);
    };
    return {
      ok: true,
      runnable: {
        workflow,
        compiled: { ...compiled, plan: compiled.plan, asl: compiled.asl, dag: compiled.dag },
        checkInput,
      },
      warnings: diagnostics,
    };
  }
}

export class WorkflowNoLongerCompilesError extends Error {
  constructor(
    readonly workflow: string,
    readonly version: number,
    readonly diagnostics: readonly Diagnostic[],
  ) {
    super(
      `Workflow '${workflow}' version ${version} no longer compiles here: ${diagnostics.map((d) => d.message).join(' ')}`,
    );
    this.name = 'WorkflowNoLongerCompilesError';
  }
}

function key(name: string, version: number): string {
  return `${name}@${version}`;
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
