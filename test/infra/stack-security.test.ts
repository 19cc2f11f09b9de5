// Security invariants of the whole synthesised stack, over every resource of a type rather than one
// construct's: policy documents wherever they are, API methods, the callback bus, buckets. (Wildcards
// in identity and resource policies and cdk-nag are checked in engine-stack.test.ts; the constructs'
// own wiring in their tests.) Roles that reach the media bucket reach it only where they must.
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { EngineStack } from '../../lib/infra/engine-stack.js';
import { actionsOf, identityStatements, logicalIdOf, type Statement, testApp } from './support.js';

type Resource = { Type: string; Properties?: Record<string, unknown> };
type PolicyStatement = Statement & {
  NotAction?: unknown;
  NotPrincipal?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

/** Every policy document in a resource's properties, at any depth: any object with a Statement list. */
function policyDocuments(value: unknown, found: { Statement: PolicyStatement[] }[] = []) {
  if (Array.isArray(value)) for (const item of value) policyDocuments(item, found);
  else if (value !== null && typeof value === 'object') {
    const statement = (value as { Statement?: unknown }).Statement;
    if (Array.isArray(statement)) found.push(value as { Statement: PolicyStatement[] });
    for (const child of Object.values(value)) policyDocuments(child, found);
  }
  return found;
}

const list = (value: unknown): unknown[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

describe('EngineStack security', () => {
  const stack = new EngineStack(testApp(), 'MediaDag');
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  /** The S3 statements of the identity policies attached to the role `roleId`. */
  const s3StatementsOfRole = (roleId: string) =>
    identityStatements(template)
      .filter((entry) => JSON.stringify(resources[entry.logicalId]?.Properties?.Roles ?? []).includes(roleId))
      .map((entry) => entry.statement)
      .filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
  const mediaBucket = logicalIdOf(template, 'AWS::S3::Bucket', 'UploadsMedia');
  const mediaObjects = (suffix: string) => ({
    'Fn::Join': ['', [{ 'Fn::GetAtt': [mediaBucket, 'Arn'] }, suffix]],
  });

  it('allows no wildcard action in any policy document of any resource, trust policies included', () => {
    const problems: string[] = [];
    let documents = 0;
    for (const [id, resource] of Object.entries(resources)) {
      for (const document of policyDocuments(resource.Properties)) {
        documents++;
        for (const statement of document.Statement) {
          const actions = list(statement.Action).map(String);
          if (statement.Effect === 'Allow') {
            for (const action of actions) if (action.includes('*')) problems.push(`${id}: allows ${action}`);
            if (statement.NotAction !== undefined) problems.push(`${id}: allows NotAction`);
            if (statement.NotPrincipal !== undefined) problems.push(`${id}: NotPrincipal`);
          } else if (actions.some((a) => a.includes('*'))) {
            // A wildcard Deny is only the TLS-only guard: it forbids plain HTTP, it grants nothing.
            const tls = statement.Condition?.Bool?.['aws:SecureTransport'];
            if (tls !== 'false')
              problems.push(`${id}: denies ${actions.join(', ')} without the TLS condition`);
          }
        }
      }
    }
    // Roles' trust policies, identity policies and resource policies: more than the roles alone.
    expect(documents).toBeGreaterThan(ofType('AWS::IAM::Role').length * 2);
    expect(problems).toEqual([]);
    for (const [id, permission] of ofType('AWS::Lambda::Permission'))
      expect(String(permission.Properties?.Action), id).toBe('lambda:InvokeFunction');
  });

  it('authenticates every API method on AWS with IAM', () => {
    const methods = ofType('AWS::ApiGateway::Method');
    expect(methods.length).toBe(9);
    for (const [id, method] of methods) {
      expect(method.Properties?.AuthorizationType, id).toBe('AWS_IAM');
      expect(['GET', 'POST'], id).toContain(method.Properties?.HttpMethod);
    }
    // Every permission API Gateway has on a function is tied to this API.
    const api = logicalIdOf(template, 'AWS::ApiGateway::RestApi', 'Api');
    for (const [id, permission] of ofType('AWS::Lambda::Permission')) {
      if (permission.Properties?.Principal !== 'apigateway.amazonaws.com') continue;
      expect(JSON.stringify(permission.Properties.SourceArn), id).toContain(`{"Ref":"${api}"}`);
    }
  });

  it('takes EventBridge callbacks only as dag.worker events on the engine bus', () => {
    const bus = logicalIdOf(template, 'AWS::Events::EventBus', 'AsyncBus');
    const callbackFn = logicalIdOf(template, 'AWS::Lambda::Function', 'AsyncCallbackEventsFunction');
    const targetsCallback = (rule: Resource) =>
      list(rule.Properties?.Targets).some((t) =>
        JSON.stringify((t as { Arn: unknown }).Arn).includes(callbackFn),
      );
    const rules = ofType('AWS::Events::Rule').filter(([, rule]) => targetsCallback(rule));
    expect(rules).toHaveLength(1);
    const [ruleId, rule] = rules[0]!;
    expect(rule.Properties?.EventBusName).toEqual({ Ref: bus });
    expect(rule.Properties?.EventPattern).toEqual({
      source: ['dag.worker'],
      'detail-type': ['Node Callback'],
    });
    // Nothing else may invoke it: one permission, for EventBridge, from that rule only.
    const permissions = ofType('AWS::Lambda::Permission').filter(([, p]) =>
      JSON.stringify(p.Properties?.FunctionName).includes(callbackFn),
    );
    expect(permissions.map(([, p]) => [p.Properties?.Principal, p.Properties?.SourceArn])).toEqual([
      ['events.amazonaws.com', { 'Fn::GetAtt': [ruleId, 'Arn'] }],
    ]);
    // The bus takes events from this account only: no bus policy opens it to others.
    expect(ofType('AWS::Events::EventBusPolicy')).toEqual([]);
    expect(resources[bus]!.Properties?.Name).not.toBe('default');
  });

  it("lets compiled machines reach the media bucket only as Distributed Maps' readers and writers", () => {
    const executionRole = logicalIdOf(template, 'AWS::IAM::Role', 'CompilerExecutionRole');
    expect(s3StatementsOfRole(executionRole)).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: mediaObjects('/objects/*') },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        Resource: mediaObjects('/objects/map-results/*'),
      },
    ]);
  });

  it('lets the map-store function read and write the media bucket under objects/ only', () => {
    const mapStore = logicalIdOf(template, 'AWS::Lambda::Function', 'AsyncMapStoreFunction');
    const { Role, Environment } = resources[mapStore]!.Properties as {
      Role: { 'Fn::GetAtt': [string, string] };
      Environment: unknown;
    };
    expect(Environment).toMatchObject({
      Variables: { [ENV.OBJECT_ROOT]: { 'Fn::Join': ['', ['s3://', { Ref: mediaBucket }, '/objects']] } },
    });
    const statements = s3StatementsOfRole(Role['Fn::GetAtt'][0]);
    expect(statements.flatMap(actionsOf).sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:DeleteObject',
      's3:GetObject',
      's3:GetObjectVersion',
      's3:PutObject',
    ]);
    for (const statement of statements) expect(statement.Resource).toEqual(mediaObjects('/objects/*'));
  });

  it('keeps every bucket private, encrypted and reachable over TLS only', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets.length).toBeGreaterThanOrEqual(2);
    const policies = ofType('AWS::S3::BucketPolicy');
    for (const [id, bucket] of buckets) {
      expect(bucket.Properties?.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      const encryption = bucket.Properties?.BucketEncryption as {
        ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { SSEAlgorithm: string } }[];
      };
      expect(['AES256', 'aws:kms', 'aws:kms:dsse'], id).toContain(
        encryption?.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault.SSEAlgorithm,
      );
      expect(bucket.Properties?.AccessControl, id).toBeUndefined();
      const own = policies.filter(
        ([, p]) => JSON.stringify(p.Properties?.Bucket) === JSON.stringify({ Ref: id }),
      );
      expect(own, `${id} has one bucket policy`).toHaveLength(1);
      const statements = policyDocuments(own[0]![1].Properties).flatMap((d) => d.Statement);
      const tlsOnly = statements.find(
        (s) =>
          s.Effect === 'Deny' &&
          s.Action === 's3:*' &&
          JSON.stringify(s.Principal) === '{"AWS":"*"}' &&
          s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
      );
      expect(tlsOnly, `${id} denies plain HTTP`).toBeDefined();
      const covered = JSON.stringify(tlsOnly!.Resource);
      expect(covered).toContain(`{"Fn::GetAtt":["${id}","Arn"]}`);
      expect(covered).toContain('/*');
      // No Allow to everyone.
      for (const s of statements)
        if (s.Effect === 'Allow') expect(JSON.stringify(s.Principal), id).not.toMatch(/"\*"|^"\*"$/);
    }
  });
});
