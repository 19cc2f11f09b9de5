// The whole stack: wiring across constructs, no IAM action with `*`, cdk-nag clean, one snapshot.
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { EngineStack, prefixFromStackName } from '../../lib/infra/engine-stack.js';
import { listShippedWorkflows } from '../../lib/infra/project.js';
import { actionsOf, identityStatements, resourcePolicyStatements, testApp } from './support.js';

describe('EngineStack', () => {
  const stack = new EngineStack(testApp(), 'MediaDag');
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;

  it('has no IAM action with a wildcard in any identity policy, nor in any Allow of a resource policy', () => {
    const identity = identityStatements(template);
    expect(identity.length).toBeGreaterThan(50);
    const wildcards = [
      ...identity,
      // A Deny of `s3:*` / `sqs:*` over plain HTTP (enforceSSL) forbids; it grants nothing.
      ...resourcePolicyStatements(template).filter((entry) => entry.statement.Effect === 'Allow'),
    ].flatMap((entry) =>
      actionsOf(entry.statement)
        .filter((action) => action.includes('*'))
        .map((action) => `${entry.logicalId}: ${action}`),
    );
    expect(wildcards).toEqual([]);
  });

  it('passes cdk-nag AwsSolutions with every finding acknowledged with a reason', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const unacknowledged = report.violations.map(
      (violation) =>
        `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(unacknowledged).toEqual([]);
    const acknowledgements = stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata)
      .filter((entry) => entry.type === 'aws:cdk:acknowledged-rules')
      .flatMap((entry) => Object.values(entry.data as Record<string, string>));
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const reason of acknowledgements) expect(reason.length).toBeGreaterThan(30);
  });

  it("expires Distributed Maps' result files after the redrive window, under the prefix the machines write", () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'objects/map-results/', ExpirationInDays: 15, Status: 'Enabled' }),
        ]),
      },
    });
    const compiler = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        JSON.stringify(r.Properties?.Environment ?? {}).includes(ENV.MAP_RESULTS_ROOT),
    );
    expect(JSON.stringify(compiler?.Properties?.Environment)).toMatch(/\/objects\/map-results"/);
  });

  it('is environment-agnostic and names compiled machines after the stack', () => {
    expect(stack.account).toMatch(/^\$\{Token/);
    expect(prefixFromStackName('MediaDag')).toBe('mediadag');
    expect(prefixFromStackName('A Very_Long Stack Name For Tests')).toBe('a-very-long-stac');
    template.hasOutput('StateMachinePrefix', { Value: 'mediadag' });
    template.hasOutput('EventBusName', {});
    template.hasOutput('ApiUrl', {});
  });

  it('derives its work queues and consumers from the shipped workflows', () => {
    // slice-transcode: `whole` via queue work, consumed by media/transcode-whole; external-review:
    // queue review, external; moderate-notify: callback queue moderation-results.
    for (const name of ['work', 'review', 'moderation-results'])
      expect(Object.keys(template.findOutputs('*'))).toContain(`Queue${name.replace(/-/g, '')}Url`);
    const consumers = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r.Properties?.Handler as string) === 'index.handleQueue' &&
        String(JSON.stringify(r.Properties?.Environment)).includes('"media/transcode-whole"'),
    );
    expect(consumers).toHaveLength(1);
    const compiler = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        String(JSON.stringify(r.Properties?.Environment)).includes(ENV.QUEUE_CONSUMERS),
    );
    expect(JSON.stringify(compiler?.Properties?.Environment)).toContain('media/transcode-whole');
  });

  it('registers every shipped workflow at deploy time', () => {
    const [registration] = Object.values(template.findResources('Custom::DagWorkflows'));
    const files = (registration!.Properties.Workflows as { File: string }[]).map((w) => w.File);
    expect(files).toEqual(listShippedWorkflows().map((w) => w.file));
  });

  it('matches the snapshot (asset hashes and workflow sources normalised)', () => {
    expect(normalise(template.toJSON())).toMatchSnapshot();
  });
});

/** Asset hashes change with every source edit, workflow texts with every workflow edit: neither is wiring. */
function normalise(template: unknown): unknown {
  const text = JSON.stringify(template).replace(/[0-9a-f]{64}/g, '<asset-hash>');
  const parsed = JSON.parse(text) as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  for (const resource of Object.values(parsed.Resources)) {
    if (resource.Type !== 'Custom::DagWorkflows') continue;
    resource.Properties.Workflows = (resource.Properties.Workflows as { File: string }[]).map((w) => ({
      File: w.File,
      Source: '<source>',
    }));
  }
  return parsed;
}
