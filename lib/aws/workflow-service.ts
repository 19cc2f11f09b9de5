// Registering a workflow on AWS (dag-spec §9 `POST /workflows`, and the workflows shipped in
// workflows/ at deploy time): compile against the deployment's real resources, refuse what the
// deployment cannot run, store the next version, publish it as a state machine version, and keep
// what the other Lambdas need beside it.
import { createHash } from 'node:crypto';
import { compileWorkflowText } from '../compiler/compile.js';
import { type Diagnostic, DiagnosticCode, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import { reportingPlanOf } from '../runtime/reporting.js';
import { InvalidInputSchemaError, TaskInputChecker } from '../runtime/task-input.js';
import type { WorkflowRegistry, WorkflowVersion } from '../tracking/workflow-registry.js';
import { awsBindings, type EngineDeployment, stateMachineArn, stateMachineName } from './deployment.js';
import type { StateMachinePublisher } from './state-machines.js';
import type { DynamoWorkflowDeployments, WorkflowDeployment } from './workflow-deployments.js';
import { checkWorkflowNeeds, workflowNeeds } from './workflow-resources.js';

export interface WorkflowServiceDeps {
  readonly registry: WorkflowRegistry;
  readonly deployments: DynamoWorkflowDeployments;
  readonly publisher: StateMachinePublisher;
  readonly deployment: EngineDeployment;
}

export type RegisterOutcome =
  | {
      readonly ok: true;
      readonly record: WorkflowVersion;
      readonly deployment: WorkflowDeployment;
      readonly warnings: readonly Diagnostic[];
      /** False when `unlessUnchanged` found the same source already deployed. */
      readonly created: boolean;
    }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export interface RegisterOptions {
  /**
   * Keep the newest version when its source and compiled definition are the same and it is deployed
   * (deploy-time registration: a redeploy that changes nothing a workflow uses adds no versions).
   */
  readonly unlessUnchanged?: boolean;
}

export async function registerWorkflow(
  source: string,
  deps: WorkflowServiceDeps,
  options: RegisterOptions = {},
): Promise<RegisterOutcome> {
  const { deployment } = deps;
  const compiled = compileWorkflowText(source, {
    operatorExists: (operator) => deployment.operatorFunctions[operator] !== undefined,
    bindings: awsBindings(deployment),
  });
  const diagnostics = [...compiled.diagnostics];
  if (compiled.dag) diagnostics.push(...checkWorkflowNeeds(workflowNeeds(compiled.dag.workflow), deployment));
  if (compiled.dag?.workflow.input !== undefined) {
    try {
      new TaskInputChecker().checkFor('registration', compiled.dag.workflow.input);
    } catch (error) {
      if (!(error instanceof InvalidInputSchemaError)) throw error;
      diagnostics.push({ code: DiagnosticCode.SCHEMA, severity: 'error', message: error.message });
    }
  }
  const sorted = sortDiagnostics(diagnostics);
  if (hasErrors(sorted) || !compiled.dag || !compiled.plan || !compiled.asl)
    return { ok: false, diagnostics: sorted };

  const workflow = compiled.dag.workflow;
  const definition = JSON.stringify(compiled.asl);
  const definitionSha256 = createHash('sha256').update(definition).digest('hex');
  if (options.unlessUnchanged) {
    // The definition holds the deployment's ARNs: new functions or queues republish the same source.
    const latest = await deps.deployments.get(workflow.name);
    if (
      latest?.deployment &&
      latest.record.source === source &&
      latest.deployment.definitionSha256 === definitionSha256
    )
      return {
        ok: true,
        record: latest.record,
        deployment: latest.deployment,
        warnings: sorted,
        created: false,
      };
  }
  const record = await deps.registry.register({
    name: workflow.name,
    source,
    ...(workflow.description === undefined ? {} : { description: workflow.description }),
  });
  const published = await deps.publisher.publish({
    name: stateMachineName(deployment.stateMachinePrefix, workflow.name),
    arn: stateMachineArn(deployment, workflow.name),
    definition,
    description: `v${record.version}`,
  });
  const attached: WorkflowDeployment = {
    ...published,
    reporting: reportingPlanOf(compiled.plan),
    params: compiled.plan.params,
    ...(workflow.input === undefined ? {} : { inputSchema: workflow.input }),
    definitionSha256,
  };
  await deps.deployments.attach(record.name, record.version, attached);
  return { ok: true, record, deployment: attached, warnings: sorted, created: true };
}
