// Shared by the infra tests: bare stacks with bundling skipped (no esbuild, no Docker: a construct
// test synthesises in well under a second), and the few template walks the tests share.
import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type { OperatorModule } from '../../lib/infra/project.js';
import { TrackingTables } from '../../lib/infra/tracking-tables.js';

/**
 * An app whose assets are never bundled (`aws:cdk:bundling-stacks: []`), without aws-cdk-lib's built-in
 * CloudFormation validation (~12 s per synthesis here; `npm run synth` runs it, and cdk-nag has its
 * own test).
 */
export function testApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

export function bareStack(id = 'Test'): Stack {
  return new Stack(testApp(), id);
}

export function stackWithTables(): { stack: Stack; tables: TrackingTables } {
  const stack = bareStack();
  return { stack, tables: new TrackingTables(stack, 'Tracking') };
}

export const PREFIX = 'dagtest';

/** A small catalog: one ffmpeg operator, one plain one (modules that exist, never bundled here). */
export const TEST_OPERATORS: readonly OperatorModule[] = [
  { operator: 'media/probe', path: 'functions/operators/media/probe.ts' },
  { operator: 'test/echo', path: 'test/fixtures/operators/test/echo.ts' },
];

/** Keeps the Docker image asset out of construct tests. */
export const REGISTRY_IMAGE = () => ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:22');

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
}

/** Every statement of every identity policy (AWS::IAM::Policy, role inline policies, managed policies). */
export function identityStatements(template: Template): { logicalId: string; statement: Statement }[] {
  const found: { logicalId: string; statement: Statement }[] = [];
  const add = (logicalId: string, document: { Statement?: Statement[] } | undefined) => {
    for (const statement of document?.Statement ?? []) found.push({ logicalId, statement });
  };
  for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy')))
    add(id, policy.Properties.PolicyDocument);
  for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy')))
    add(id, policy.Properties.PolicyDocument);
  for (const [id, role] of Object.entries(template.findResources('AWS::IAM::Role')))
    for (const inline of role.Properties.Policies ?? []) add(id, inline.PolicyDocument);
  return found;
}

/** Statements of resource policies (buckets, queues, topics). */
export function resourcePolicyStatements(template: Template): { logicalId: string; statement: Statement }[] {
  const found: { logicalId: string; statement: Statement }[] = [];
  for (const type of ['AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy'])
    for (const [id, policy] of Object.entries(template.findResources(type)))
      for (const statement of policy.Properties.PolicyDocument.Statement ?? [])
        found.push({ logicalId: id, statement });
  return found;
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** The statements (of identity policies) that grant `action`, for asserting what they name. */
export function statementsWithAction(template: Template, action: string): Statement[] {
  return identityStatements(template)
    .map((entry) => entry.statement)
    .filter((statement) => statement.Effect === 'Allow' && actionsOf(statement).includes(action));
}

/** The logical id of the only resource of `type` whose id starts with `prefix`. */
export function logicalIdOf(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1)
    throw new Error(`Expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}.`);
  return ids[0]!;
}
