// The compiler Lambda: `POST /workflows` (dag-spec §9) compiles a workflow against this deployment and
// publishes it as a state machine version; `onDeploy` does the same for the workflows shipped in
// workflows/, as a CloudFormation custom resource (a second function on this same bundle: one
// handler per trigger).
import { SFNClient } from '@aws-sdk/client-sfn';
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  CloudFormationCustomResourceEvent,
} from 'aws-lambda';
import { deploymentFromEnv } from '../../lib/aws/deployment.js';
import { answerForError, bodyOf, diagnosticJson, header, json, message } from '../../lib/aws/http.js';
import { createLogger } from '../../lib/aws/logging.js';
import { SfnStateMachinePublisher } from '../../lib/aws/state-machines.js';
import { trackingFromEnv, workflowsFrom } from '../../lib/aws/stores.js';
import { registerWorkflow, type WorkflowServiceDeps } from '../../lib/aws/workflow-service.js';
import { ENV, requireEnv } from '../../lib/config/env.js';
import { WorkflowVersionContendedError } from '../../lib/tracking/workflow-registry.js';

const logger = createLogger();
const { registry, deployments } = workflowsFrom(trackingFromEnv(['workflows']));
const deps: WorkflowServiceDeps = {
  registry,
  deployments,
  deployment: deploymentFromEnv(),
  publisher: new SfnStateMachinePublisher(new SFNClient({}), {
    roleArn: requireEnv(ENV.STATE_MACHINE_ROLE_ARN),
    logGroupArn: requireEnv(ENV.STATE_MACHINE_LOG_GROUP_ARN),
  }),
};

export async function handler(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  if ((header(event, 'content-type') ?? '').startsWith('multipart/'))
    return message(415, 'Post the workflow file itself as application/yaml, application/json or text/plain.');
  const source = bodyOf(event).text;
  if (source.trim() === '') return message(400, 'The body is empty: post a workflow file.');
  try {
    const outcome = await registerWorkflow(source, deps);
    if (!outcome.ok) return json(400, { diagnostics: outcome.diagnostics.map(diagnosticJson) });
    logger.info('workflow registered', { workflow: outcome.record.name, version: outcome.record.version });
    const warnings = outcome.warnings.map(diagnosticJson);
    return json(201, {
      name: outcome.record.name,
      version: outcome.record.version,
      ...(warnings.length > 0 ? { diagnostics: warnings } : {}),
    });
  } catch (error) {
    const answer = answerForError(error, [[WorkflowVersionContendedError, 503]]);
    if (answer) return answer;
    logger.error('registration failed', { error });
    throw error;
  }
}

/** The custom resource's properties: the files of workflows/ and their text. */
interface ShippedWorkflows {
  readonly Workflows?: readonly { readonly File: string; readonly Source: string }[];
}

export class WorkflowRegistrationFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowRegistrationFailedError';
  }
}

export async function onDeploy(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }> {
  // Registered versions and their state machines outlive the stack, like the tables that hold them.
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const shipped = (event.ResourceProperties as unknown as ShippedWorkflows).Workflows ?? [];
  const registered: string[] = [];
  const failures: string[] = [];
  for (const { File: file, Source: source } of shipped) {
    const outcome = await registerWorkflow(source, deps, { unlessUnchanged: true });
    if (!outcome.ok) {
      const errors = outcome.diagnostics.filter((d) => d.severity === 'error');
      failures.push(...errors.map((d) => `${file}:${d.line ?? 1}:${d.column ?? 1}: ${d.code}: ${d.message}`));
      continue;
    }
    registered.push(`${outcome.record.name}@${outcome.record.version}`);
  }
  if (failures.length > 0) throw new WorkflowRegistrationFailedError(failures.join('\n'));
  logger.info('shipped workflows registered', { registered });
  return { PhysicalResourceId: 'shipped-workflows', Data: { Registered: registered.join(', ') } };
}
