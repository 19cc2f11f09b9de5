import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { AsyncDispatch } from '../../lib/infra/async-dispatch.js';
import { GpuBatch } from '../../lib/infra/gpu-batch.js';
import { OperatorCatalog } from '../../lib/infra/operator-catalog.js';
import {
  identityStatements,
  logicalIdOf,
  PREFIX,
  REGISTRY_IMAGE,
  stackWithTables,
  statementsWithAction,
  TEST_OPERATORS,
} from './support.js';

describe('AsyncDispatch', () => {
  const { stack, tables } = stackWithTables();
  const bucket = new s3.Bucket(stack, 'Media');
  const catalog = new OperatorCatalog(stack, 'Operators', { tables, bucket, operators: TEST_OPERATORS });
  const dispatch = new AsyncDispatch(stack, 'Async', {
    tables,
    catalog,
    bucket,
    queueNames: ['review'],
    stateMachinePrefix: PREFIX,
  });
  dispatch.connectBatch(
    new GpuBatch(stack, 'Gpu', { tables, bus: dispatch.bus, bucket, image: REGISTRY_IMAGE() }),
  );
  const template = Template.fromStack(stack);
  const dispatchFn = logicalIdOf(template, 'AWS::Lambda::Function', 'AsyncDispatchFunction');
  const mediaBucket = logicalIdOf(template, 'AWS::S3::Bucket', 'Media');
  /** The identity statements of the role of the function whose logical id starts with `fnPrefix`. */
  const statementsOfFunction = (fnPrefix: string) => {
    const role =
      template.findResources('AWS::Lambda::Function')[
        logicalIdOf(template, 'AWS::Lambda::Function', fnPrefix)
      ]!.Properties.Role['Fn::GetAtt'][0];
    return identityStatements(template)
      .filter((entry) =>
        JSON.stringify(
          template.findResources('AWS::IAM::Policy')[entry.logicalId]?.Properties.Roles ?? [],
        ).includes(role),
      )
      .map((entry) => entry.statement);
  };

  it('has the work queue, the named queues, encrypted and TLS-only, with a dead-letter queue', () => {
    expect([...dispatch.queues.keys()].sort()).toEqual(['review', 'work']);
    const deadLetters = logicalIdOf(template, 'AWS::SQS::Queue', 'AsyncWorkDeadLetters');
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetters, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('routes dag.worker Node Callback events on the engine bus to the callback function', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalIdOf(template, 'AWS::Events::EventBus', 'AsyncBus') },
      EventPattern: { source: ['dag.worker'], 'detail-type': ['Node Callback'] },
      Targets: [
        Match.objectLike({
          Arn: {
            'Fn::GetAtt': [
              logicalIdOf(template, 'AWS::Lambda::Function', 'AsyncCallbackEventsFunction'),
              'Arn',
            ],
          },
          DeadLetterConfig: Match.anyValue(),
          RetryPolicy: Match.anyValue(),
        }),
      ],
    });
  });

  it('grants SendTask* to both callback functions in a policy of its own, on the compiled machines', () => {
    const policy = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyName: Match.stringLikeRegexp('TaskResponses') },
    });
    const [only] = Object.values(policy);
    expect(only!.Properties.Roles).toHaveLength(2);
    const [statement] = only!.Properties.PolicyDocument.Statement;
    expect(statement.Action).toEqual([
      'states:SendTaskSuccess',
      'states:SendTaskFailure',
      'states:SendTaskHeartbeat',
    ]);
    expect(JSON.stringify(statement.Resource)).toContain(`:stateMachine:${PREFIX}-*`);
  });

  it('tells the dispatch function its queues, workers and Batch queue, and grants exactly those', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Environment: {
        Variables: Match.objectLike({
          [ENV.WORK_QUEUES]: Match.anyValue(),
          [ENV.OPERATOR_WORKERS]: Match.anyValue(),
          [ENV.BATCH_JOB_QUEUE_ARN]: Match.anyValue(),
          [ENV.BATCH_JOB_DEFINITION_ARN]: Match.anyValue(),
          [ENV.EVENTS_TABLE]: Match.anyValue(),
          [ENV.SEGMENTS_TABLE]: Match.anyValue(),
        }),
      },
    });
    const dispatchRole =
      template.findResources('AWS::Lambda::Function')[dispatchFn]!.Properties.Role['Fn::GetAtt'][0];
    const statements = identityStatements(template).filter((entry) =>
      JSON.stringify(
        template.findResources('AWS::IAM::Policy')[entry.logicalId]?.Properties.Roles ?? [],
      ).includes(dispatchRole),
    );
    const invoke = statements.find((entry) => entry.statement.Action === 'lambda:InvokeFunction');
    expect(JSON.stringify(invoke?.statement.Resource)).toContain('OperatorsTestEchoWorker');
    expect(JSON.stringify(invoke?.statement.Resource)).not.toContain('Task');
    expect(
      statements.some((entry) => JSON.stringify(entry.statement.Action).includes('batch:SubmitJob')),
    ).toBe(true);
    expect(statementsWithAction(template, 'sqs:SendMessage').length).toBeGreaterThan(0);
  });

  it('has the notifier and tolerance functions compiled Tasks call', () => {
    expect(dispatch.notifier.function.node.id).toBe('Function');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.SERVICE_NAME]: 'notifier' }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.SERVICE_NAME]: 'tolerance' }) },
    });
  });

  it('has the map-store function: the object root in its env, objects read and written under it only', () => {
    const objectRoot = {
      'Fn::Join': ['', ['s3://', { Ref: mediaBucket }, '/objects']],
    };
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 300,
      Environment: {
        Variables: Match.objectLike({ [ENV.SERVICE_NAME]: 'map-store', [ENV.OBJECT_ROOT]: objectRoot }),
      },
    });
    const underObjects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [mediaBucket, 'Arn'] }, '/objects/*']] };
    const s3Statements = statementsOfFunction('AsyncMapStoreFunction').filter((statement) =>
      JSON.stringify(statement.Action).includes('s3:'),
    );
    expect(s3Statements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: underObjects,
      }),
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        Resource: underObjects,
      }),
    ]);
    expect(JSON.stringify(statementsOfFunction('AsyncMapStoreFunction'))).not.toContain('dynamodb:');
  });

  it('has the barrier function: the barriers table, and SendTaskSuccess only, on the compiled machines', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.SERVICE_NAME]: 'barrier',
          [ENV.BARRIERS_TABLE]: Match.anyValue(),
        }),
      },
    });
    const policy = template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyName: Match.stringLikeRegexp('BarrierResumes') },
    });
    const [only] = Object.values(policy);
    expect(only!.Properties.Roles).toHaveLength(1);
    const [statement] = only!.Properties.PolicyDocument.Statement;
    expect(statement.Action).toBe('states:SendTaskSuccess');
    expect(JSON.stringify(statement.Resource)).toContain(`:stateMachine:${PREFIX}-*`);
    const barrierRole =
      template.findResources('AWS::Lambda::Function')[
        logicalIdOf(template, 'AWS::Lambda::Function', 'AsyncBarrierFunction')
      ]!.Properties.Role['Fn::GetAtt'][0];
    const tablesReached = identityStatements(template)
      .filter((entry) =>
        JSON.stringify(
          template.findResources('AWS::IAM::Policy')[entry.logicalId]?.Properties.Roles ?? [],
        ).includes(barrierRole),
      )
      .filter((entry) => JSON.stringify(entry.statement.Action).includes('dynamodb:'))
      .map((entry) => JSON.stringify(entry.statement.Resource));
    expect(tablesReached.length).toBeGreaterThan(0);
    for (const resource of tablesReached) expect(resource).toContain('TrackingBarriers');
  });
});
