import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { OperatorCatalog } from '../../lib/infra/operator-catalog.js';
import { listOperators } from '../../lib/infra/project.js';
import { stackWithTables, statementsWithAction, TEST_OPERATORS } from './support.js';

function functionsOf(template: Template, operator: string) {
  return Object.values(template.findResources('AWS::Lambda::Function')).filter(
    (fn) => fn.Properties.Environment?.Variables?.[ENV.OPERATOR] === operator,
  );
}

describe('OperatorCatalog', () => {
  const { stack, tables } = stackWithTables();
  const bucket = new s3.Bucket(stack, 'Media');
  const catalog = new OperatorCatalog(stack, 'Operators', { tables, bucket, operators: TEST_OPERATORS });
  const bus = new events.EventBus(stack, 'Bus');
  catalog.connectBus(bus);
  catalog.consumeQueue(
    new sqs.Queue(stack, 'Work', { visibilityTimeout: Duration.hours(1) }),
    'work',
    'test/echo',
  );
  const template = Template.fromStack(stack);

  it('finds every operator module under functions/operators', () => {
    const operators = listOperators().map((module) => module.operator);
    expect(operators).toContain('media/probe');
    expect(operators).toContain('analysis/keyframes');
    expect(operators).not.toContain('types');
    expect(listOperators().find((m) => m.operator === 'media/probe')?.path).toBe(
      'functions/operators/media/probe.ts',
    );
  });

  it('deploys a Task function and a worker function per operator, on one bundle', () => {
    expect(
      functionsOf(template, 'test/echo')
        .map((fn) => fn.Properties.Handler)
        .sort(),
    ).toEqual(['index.handleQueue', 'index.handleWork', 'index.handler']);
    expect(
      functionsOf(template, 'media/probe')
        .map((fn) => fn.Properties.Handler)
        .sort(),
    ).toEqual(['index.handleWork', 'index.handler']);
  });

  it('deploys one chain function per operator group, bundling every operator of that group', () => {
    expect([...catalog.chains.keys()].sort()).toEqual(['ffmpeg', 'standard']);
    const chains = Object.values(template.findResources('AWS::Lambda::Function')).filter((fn) =>
      String(fn.Properties.Environment?.Variables?.[ENV.SERVICE_NAME]).startsWith('chain:'),
    );
    const byGroup: Record<
      string,
      { Architectures: string[]; Timeout: number; Environment: { Variables: Record<string, unknown> } }
    > = Object.fromEntries(
      chains.map((fn) => [fn.Properties.Environment.Variables[ENV.SERVICE_NAME], fn.Properties]),
    );
    expect(byGroup['chain:ffmpeg']!.Architectures).toEqual(['x86_64']);
    expect(byGroup['chain:standard']!.Architectures).toEqual(['arm64']);
    // A chain may take its nodes' limits together: up to Lambda's 15 minutes.
    expect(byGroup['chain:standard']!.Timeout).toBe(900);
    for (const props of Object.values(byGroup)) {
      expect(props.Environment.Variables[ENV.EVENTS_TABLE]).toBeDefined();
      expect(props.Environment.Variables[ENV.TRACES_TABLE]).toBeDefined();
    }
  });

  it('runs media operators on x86_64 with the ffmpeg layer, others on arm64 without', () => {
    const layer = Object.keys(template.findResources('AWS::Lambda::LayerVersion'));
    expect(layer).toHaveLength(1);
    for (const fn of functionsOf(template, 'media/probe')) {
      expect(fn.Properties.Architectures).toEqual(['x86_64']);
      expect(fn.Properties.Layers).toEqual([{ Ref: layer[0] }]);
      expect(fn.Properties.EphemeralStorage).toEqual({ Size: 10240 });
    }
    for (const fn of functionsOf(template, 'test/echo')) {
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Layers).toBeUndefined();
    }
    template.hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['x86_64'] });
  });

  it('gives operators the tracking tables and the object root in the bucket', () => {
    for (const fn of functionsOf(template, 'media/probe')) {
      const variables = fn.Properties.Environment.Variables;
      expect(Object.keys(variables)).toEqual(
        expect.arrayContaining([ENV.EVENTS_TABLE, ENV.SEGMENTS_TABLE, ENV.TRACES_TABLE, ENV.OBJECT_ROOT]),
      );
    }
    const puts = statementsWithAction(template, 's3:PutObject').map((s) => JSON.stringify(s.Resource));
    expect(puts.length).toBeGreaterThan(0);
    for (const resource of puts) expect(resource).toContain('/objects/*');
  });

  it('lets workers and consumers, and only them, put callbacks on the bus', () => {
    const withBus = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.[ENV.EVENT_BUS_NAME] !== undefined,
    );
    expect(withBus.map((fn) => fn.Properties.Handler).sort()).toEqual([
      'index.handleQueue',
      'index.handleWork',
      'index.handleWork',
    ]);
    expect(statementsWithAction(template, 'events:PutEvents')).toHaveLength(3);
  });

  it('consumes a queue with partial batch failures, one consumer per queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 1,
    });
    expect(() =>
      catalog.consumeQueue(
        sqs.Queue.fromQueueArn(stack, 'Other', 'arn:aws:sqs:us-east-1:123456789012:other'),
        'work',
        'media/probe',
      ),
    ).toThrow(/consumed by 'test\/echo'/);
  });
});
