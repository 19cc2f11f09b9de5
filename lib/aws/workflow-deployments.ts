// The AWS side of a registered workflow version: the state machine version it was published as, and
// what the other Lambdas need from its compilation (the reporting map for the status Lambda, the input
// schema and params for submit). Kept on the version's own row of the `workflows` table (one attribute,
// `deployment`, beside what lib/tracking/workflow-registry.ts writes), so a version and the machine
// version that runs it are read together.
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ReportingPlan } from '../runtime/reporting.js';
import type { WorkflowRegistry, WorkflowVersion } from '../tracking/workflow-registry.js';

export interface WorkflowDeployment {
  readonly stateMachineArn: string;
  /** The published version this workflow version runs as; tasks start on it. */
  readonly versionArn: string;
  /** The `live` alias, pointing at the newest version. */
  readonly aliasArn: string;
  readonly reporting: ReportingPlan;
  /** The compile-time params (defaults and overrides), part of every execution's context. */
  readonly params: Readonly<Record<string, unknown>>;
  /** The workflow's `input` JSON Schema, if any. */
  readonly inputSchema?: unknown;
  /** SHA-256 of the published definition: a redeploy republishes only what compiles differently. */
  readonly definitionSha256: string;
}

export interface DeployedWorkflow {
  readonly record: WorkflowVersion;
  /** Absent while the version is registered but its state machine not yet published. */
  readonly deployment?: WorkflowDeployment;
}

export class WorkflowVersionMissingError extends Error {
  constructor(
    readonly workflow: string,
    readonly version: number,
    options?: ErrorOptions,
  ) {
    super(`Workflow '${workflow}' has no version ${version}.`, options);
    this.name = 'WorkflowVersionMissingError';
  }
}

export class DynamoWorkflowDeployments {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly registry: WorkflowRegistry,
  ) {}

  async attach(name: string, version: number, deployment: WorkflowDeployment): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { name, version },
          UpdateExpression: 'SET #deployment = :deployment',
          ConditionExpression: 'attribute_exists(#version)',
          ExpressionAttributeNames: { '#deployment': 'deployment', '#version': 'version' },
          // JSON text: the reporting map's keys are state names, which DynamoDB maps would accept, but
          // text keeps the row's shape independent of them.
          ExpressionAttributeValues: { ':deployment': JSON.stringify(deployment) },
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException')
        throw new WorkflowVersionMissingError(name, version, { cause: error });
      throw error;
    }
  }

  /** The newest version (or the one asked for) with its deployment; undefined when not registered. */
  async get(name: string, version?: number): Promise<DeployedWorkflow | undefined> {
    const record = await this.registry.get(name, version);
    if (record === undefined) return undefined;
    const { deployment, ...rest } = record as WorkflowVersion & { deployment?: unknown };
    return typeof deployment === 'string'
      ? { record: rest, deployment: JSON.parse(deployment) as WorkflowDeployment }
      : { record: rest };
  }
}
