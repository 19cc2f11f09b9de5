import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { GpuBatch } from '../../lib/infra/gpu-batch.js';
import { REGISTRY_IMAGE, stackWithTables, statementsWithAction } from './support.js';

describe('GpuBatch', () => {
  const { stack, tables } = stackWithTables();
  const bus = new events.EventBus(stack, 'Bus');
  new GpuBatch(stack, 'Gpu', { tables, bus, bucket: new s3.Bucket(stack, 'Media'), image: REGISTRY_IMAGE() });
  const template = Template.fromStack(stack);

  it('has a managed EC2 compute environment of GPU instances, scaling from zero', () => {
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Type: 'managed',
      ComputeResources: Match.objectLike({
        Type: 'EC2',
        MinvCpus: 0,
        InstanceTypes: ['g4dn.xlarge', 'g5.xlarge'],
        Ec2Configuration: [{ ImageType: 'ECS_AL2_NVIDIA' }],
      }),
    });
    template.resourceCountIs('AWS::Batch::JobQueue', 1);
  });

  it('runs the worker container with one GPU, its job role, and the callback bus', () => {
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'GPU', Value: '1' }]),
        Environment: Match.arrayWith([{ Name: ENV.EVENT_BUS_NAME, Value: Match.anyValue() }]),
        JobRoleArn: Match.anyValue(),
      }),
    });
    expect(statementsWithAction(template, 'events:PutEvents')).toHaveLength(1);
    expect(statementsWithAction(template, 'dynamodb:PutItem')).toHaveLength(1);
  });

  it('keeps its instances in private subnets of a VPC with flow logs', () => {
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
  });
});
