// The workflows `dag serve` knows: registered through `POST /workflows` (a new version each time, in the
// `workflows` table), compiled once per version, with the task input checked against the workflow's
// `input` JSON Schema at submit.
import { type CompileResult, compileWorkflowText } from '../compiler/compile.js';
import { type Diagnostic, DiagnosticCode, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import type { Workflow } from '../dag/schema.js';
import {
  type InputCheck,
  type InputProblem,
  InvalidInputSchemaError,
  TaskInputChecker,
} from '../runtime/task-input.js';
import type { WorkflowRegistry, WorkflowVersion } from '../tracking/workflow-registry.js';

/** A registered version, compiled and ready to run. */
export interface RunnableWorkflow {
  readonly record: WorkflowVersion;
  readonly workflow: Workflow;
  readonly compiled: CompileResult & Required<Pick<CompileResult, 'plan' | 'asl' | 'dag'>>;
  /** Checks a task input against the workflow's `input` schema (everything passes without one). */
  readonly checkInput: InputCheck;
}

export type { InputProblem };

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
  // The same input check as the submit Lambda on AWS; one for the whole server, caching by source.
  private readonly inputs = new TaskInputChecker();

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
    let checkInput: InputCheck;
    try {
      checkInput = this.inputs.checkFor(source, workflow.input);
    } catch (error) {
      if (!(error instanceof InvalidInputSchemaError)) throw error;
      return {
        ok: false,
        diagnostics: [{ code: DiagnosticCode.SCHEMA, severity: 'error', message: error.message }],
      };
    }
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
