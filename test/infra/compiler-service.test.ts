import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { AsyncDispatch } from '../../lib/infra/async-dispatch.js';
import { CompilerService } from '../../lib/infra/compiler-service.js';
import { OperatorCatalog } from '../../lib/infra/operator-catalog.js';
import { ScriptRunner } from '../../lib/infra/script-runner.js';
import {
  actionsOf,
  logicalIdOf,
  PREFIX,
  type Statement,
  stackWithTables,
  statementsWithAction,
  TEST_OPERATORS,
} from './support.js';

describe('CompilerService', () => {
  const { stack, tables } = stackWithTables();
  const bucket = new s3.Bucket(stack, 'Media');
  const catalog = new OperatorCatalog(stack, 'Operators', { tables, bucket, operators: TEST_OPERATORS });
  const scripts = new ScriptRunner(stack, 'Scripts', { tables, bucket });
  const dispatch = new AsyncDispatch(stack, 'Async', {
    tables,
    catalog,
    bucket,
    queueNames: [],
    stateMachinePrefix: PREFIX,
  });
  new CompilerService(stack, 'Compiler', {
    tables,
    catalog,
    dispatch,
    scripts,
    bucket,
    stateMachinePrefix: PREFIX,
    workflows: [{ file: 'workflows/echo.yaml', source: 'name: echo\n' }],
  });
  const template = Template.fromStack(stack);
  const executionRole = logicalIdOf(template, 'AWS::IAM::Role', 'CompilerExecutionRole');
  const fnId = (prefix: string) => logicalIdOf(template, 'AWS::Lambda::Function', prefix);
  const mediaBucket = logicalIdOf(template, 'AWS::S3::Bucket', 'Media');
  const executionStatements = () =>
    Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(executionRole))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);

  it('has one execution role for compiled machines, assumed by Step Functions', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'states.amazonaws.com' } })],
      },
    });
    expect(executionRole).toBeDefined();
  });

  it("lets compiled machines invoke the engine's functions, unqualified, and nothing else", () => {
    const [invoke] = executionStatements().filter(
      (statement) => statement.Action === 'lambda:InvokeFunction',
    );
    const names = (invoke!.Resource as { 'Fn::GetAtt': [string, string] }[])
      .map((r) => r['Fn::GetAtt'][0])
      .sort();
    expect(names).toEqual(
      [
        fnId('AsyncBarrierFunction'),
        fnId('OperatorsChainFfmpegFunction'),
        fnId('OperatorsChainStandardFunction'),
        fnId('AsyncDispatchFunction'),
        fnId('AsyncMapStoreFunction'),
        fnId('AsyncNotifierFunction'),
        fnId('AsyncToleranceFunction'),
        fnId('OperatorsMediaProbeTaskFunction'),
        fnId('OperatorsTestEchoTaskFunction'),
        fnId('ScriptsScriptFunction'),
      ].sort(),
    );
  });

  it('gives the compiler what compiling against this deployment needs', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          [ENV.STATE_MACHINE_PREFIX]: PREFIX,
          [ENV.STATE_MACHINE_ROLE_ARN]: { 'Fn::GetAtt': [executionRole, 'Arn'] },
          [ENV.OPERATOR_FUNCTIONS]: Match.anyValue(),
          [ENV.OPERATOR_WORKERS]: Match.anyValue(),
          [ENV.WORK_QUEUES]: Match.anyValue(),
          [ENV.QUEUE_CONSUMERS]: '{}',
          [ENV.DISPATCH_FUNCTION_NAME]: { Ref: fnId('AsyncDispatchFunction') },
          [ENV.SCRIPT_FUNCTION_NAME]: { Ref: fnId('ScriptsScriptFunction') },
          [ENV.NOTIFIER_FUNCTION_NAME]: { Ref: fnId('AsyncNotifierFunction') },
          [ENV.TOLERANCE_FUNCTION_NAME]: { Ref: fnId('AsyncToleranceFunction') },
          [ENV.BARRIER_FUNCTION_NAME]: { Ref: fnId('AsyncBarrierFunction') },
          [ENV.MAP_STORE_FUNCTION_NAME]: { Ref: fnId('AsyncMapStoreFunction') },
          [ENV.MAP_RESULTS_ROOT]: {
            'Fn::Join': ['', ['s3://', { Ref: mediaBucket }, '/objects/map-results']],
          },
          [ENV.CHAIN_FUNCTIONS]: Match.anyValue(),
          [ENV.EVENT_BUS_NAME]: Match.anyValue(),
          [ENV.WORKFLOWS_TABLE]: Match.anyValue(),
        }),
      },
    });
  });

  it('lets Distributed Maps read staged items under objects/ and write results under objects/map-results/ only', () => {
    const objects = (suffix: string) => ({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [mediaBucket, 'Arn'] }, suffix]],
    });
    const s3Statements = executionStatements().filter((statement) =>
      actionsOf(statement).some((action) => action.startsWith('s3:')),
    );
    expect(s3Statements).toEqual([
      { Effect: 'Allow', Action: 's3:GetObject', Resource: objects('/objects/*') },
      {
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        Resource: objects('/objects/map-results/*'),
      },
    ]);
    expect(
      executionStatements()
        .flatMap(actionsOf)
        .filter((action) => action.includes('*')),
    ).toEqual([]);
  });

  it('may create, update, publish and alias only the compiled machines, and pass only their role', () => {
    const [create] = statementsWithAction(template, 'states:CreateStateMachine');
    expect(create!.Action).toEqual(
      expect.arrayContaining([
        'states:UpdateStateMachine',
        'states:PublishStateMachineVersion',
        'states:CreateStateMachineAlias',
      ]),
    );
    expect(JSON.stringify(create!.Resource)).toContain(`:stateMachine:${PREFIX}-*`);
    const passRoles = statementsWithAction(template, 'iam:PassRole');
    expect(passRoles.map((s) => s.Resource)).toContainEqual({ 'Fn::GetAtt': [executionRole, 'Arn'] });
  });

  it('registers the shipped workflows at deploy time through the compiler bundle', () => {
    template.hasResourceProperties('Custom::DagWorkflows', {
      Workflows: [{ File: 'workflows/echo.yaml', Source: 'name: echo\n' }],
      Deployment: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.onDeploy',
      Environment: { Variables: Match.objectLike({ [ENV.STATE_MACHINE_PREFIX]: PREFIX }) },
    });
  });
});
