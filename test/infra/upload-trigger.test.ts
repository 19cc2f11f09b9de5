import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { UploadTrigger } from '../../lib/infra/upload-trigger.js';
import { logicalIdOf, PREFIX, stackWithTables, statementsWithAction } from './support.js';

describe('UploadTrigger', () => {
  const { stack, tables } = stackWithTables();
  new UploadTrigger(stack, 'Uploads', { tables, stateMachinePrefix: PREFIX });
  const template = Template.fromStack(stack);

  it('keeps media in a private, encrypted, versioned bucket that logs access', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
    });
  });

  it('notifies the buffer queue of objects created under uploads/', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: {
        QueueConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
            QueueArn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'UploadsBuffer'), 'Arn'] },
          },
        ],
      },
    });
  });

  it('drains the queue in batches with partial failures into the s3-trigger function', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::SQS::Queue', 'UploadsBuffer'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
    });
  });

  it('lets the trigger create tasks and start compiled machines', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.TASKS_TABLE]: Match.anyValue(),
          [ENV.IDEMPOTENCY_TABLE]: Match.anyValue(),
          [ENV.WORKFLOWS_TABLE]: Match.anyValue(),
        }),
      },
    });
    const [start] = statementsWithAction(template, 'states:StartExecution');
    expect(JSON.stringify(start!.Resource)).toContain(`:stateMachine:${PREFIX}-*`);
  });
});
