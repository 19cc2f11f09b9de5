import { Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { EngineFunction } from '../../lib/infra/engine-function.js';
import { METRIC_NAMESPACE, Observability } from '../../lib/infra/observability.js';
import { handlerEntry } from '../../lib/infra/project.js';
import { bareStack, PREFIX } from './support.js';

describe('Observability', () => {
  const stack = bareStack();
  const make = (id: string, name: string) =>
    new EngineFunction(stack, id, { entry: handlerEntry(name), description: id });
  const status = make('Status', 'status');
  const callbackApi = make('CallbackApi', 'callback');
  const callbackEvents = make('CallbackEvents', 'callback');
  const api = new apigateway.RestApi(stack, 'Api');
  api.root.addMethod('GET');
  new Observability(stack, 'Observability', {
    functions: [status, callbackApi, callbackEvents],
    status,
    callbacks: [callbackApi, callbackEvents],
    deadLetterQueues: [new sqs.Queue(stack, 'Dlq1'), new sqs.Queue(stack, 'Dlq2')],
    api,
    stateMachinePrefix: PREFIX,
  });
  const template = Template.fromStack(stack);

  it('ships the Logs Insights queries: task timeline, slowest segments, errors by node', () => {
    const queries = Object.values(template.findResources('AWS::Logs::QueryDefinition'));
    expect(queries.map((q) => q.Properties.Name)).toEqual([
      'Test/task-timeline',
      'Test/slowest-segments',
      'Test/errors-by-node',
    ]);
    const [timeline, slowest, errors] = queries.map((q) => q.Properties.QueryString as string);
    expect(timeline).toContain('filter taskId =');
    expect(timeline).toContain('sort @timestamp asc');
    expect(slowest).toContain('by taskId, eventId, segmentId');
    expect(slowest).toContain('sort slowestMs desc');
    expect(errors).toContain('level = "ERROR"');
    expect(errors).toContain('count(*) as errors by node');
    for (const query of queries) expect(query.Properties.LogGroupNames).toHaveLength(3);
  });

  it('counts failed tasks and rejected callbacks from the logs', () => {
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ ($.taskStatus = "FAILED") || ($.taskStatus = "TIMED_OUT") }',
      MetricTransformations: [
        { MetricNamespace: METRIC_NAMESPACE, MetricName: 'FailedTasks', MetricValue: '1', DefaultValue: 0 },
      ],
    });
    template.resourcePropertiesCountIs(
      'AWS::Logs::MetricFilter',
      { FilterPattern: '{ $.answer >= 400 }' },
      2,
    );
  });

  it('alarms on failed tasks, rejected callbacks and every dead-letter queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FailedTasks', Threshold: 1 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'RejectedCallbacks',
      Threshold: 10,
    });
    template.resourcePropertiesCountIs(
      'AWS::CloudWatch::Alarm',
      { MetricName: 'ApproximateNumberOfMessagesVisible' },
      2,
    );
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});
