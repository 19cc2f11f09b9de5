// Trace queries, a dashboard and alarms (ARCHITECTURE "CloudWatch trace queries"). Every engine Lambda
// logs JSON through Powertools Logger with taskId / eventId / segmentId / traceId as top-level keys
// (the operator runtime writes one line per attempt with its durationMs), so Logs Insights can follow a
// task across functions. Alarms: failed tasks, messages in any dead-letter queue, rejected callbacks.
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EngineFunction } from './engine-function.js';

export interface ObservabilityProps {
  /** Every function whose logs the trace queries read. */
  readonly functions: readonly EngineFunction[];
  /** Other log groups of the engine (the GPU jobs'). */
  readonly extraLogGroups?: readonly logs.ILogGroup[];
  /** The status function: its `taskStatus` lines count failed tasks. */
  readonly status: EngineFunction;
  /** The callback functions: their `answer` lines count rejected callbacks. */
  readonly callbacks: readonly EngineFunction[];
  readonly deadLetterQueues: readonly sqs.IQueue[];
  readonly api: apigateway.RestApi;
  readonly stateMachinePrefix: string;
  /** Rejected callbacks (4xx answers) in 5 minutes that raise the alarm. */
  readonly rejectedCallbacksThreshold?: number;
  /** Where alarms notify; none by default (add actions to `alarms`). */
  readonly alarmTopic?: sns.ITopic;
}

export const METRIC_NAMESPACE = 'DagEngine';

/** Logs Insights caps a query at 50 log groups. */
const MAX_QUERY_LOG_GROUPS = 50;

export class Observability extends Construct {
  readonly queries: logs.QueryDefinition[];
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly failedTasks: cloudwatch.Metric;
  readonly rejectedCallbacks: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const logGroups = [...props.functions.map((fn) => fn.logGroup), ...(props.extraLogGroups ?? [])].slice(
      0,
      MAX_QUERY_LOG_GROUPS,
    );
    const queryName = (name: string) => `${Stack.of(this).stackName}/${name}`;
    this.queries = [
      new logs.QueryDefinition(this, 'TaskTimeline', {
        queryDefinitionName: queryName('task-timeline'),
        logGroups,
        // Replace the task id; every line of every function about that task, in order.
        queryString: new logs.QueryString({
          fields: [
            '@timestamp',
            'service',
            'level',
            'message',
            'eventId',
            'segmentId',
            'traceId',
            'attempt',
            'durationMs',
          ],
          filterStatements: ['taskId = "PUT-THE-TASK-ID-HERE"'],
          sort: '@timestamp asc',
          limit: 10_000,
        }),
      }),
      new logs.QueryDefinition(this, 'SlowestSegments', {
        queryDefinitionName: queryName('slowest-segments'),
        logGroups,
        queryString: new logs.QueryString({
          filterStatements: ['ispresent(segmentId) and ispresent(durationMs)'],
          statsStatements: [
            'max(durationMs) as slowestMs, count(*) as attempts by taskId, eventId, segmentId',
          ],
          sort: 'slowestMs desc',
          limit: 50,
        }),
      }),
      new logs.QueryDefinition(this, 'ErrorsByNode', {
        queryDefinitionName: queryName('errors-by-node'),
        logGroups,
        // eventId is <taskId>_<node> (dag-spec §5): the node is what follows the last underscore.
        queryString: new logs.QueryString({
          filterStatements: ['level = "ERROR" and ispresent(eventId)'],
          parseStatements: ['eventId /_(?<node>[A-Za-z][A-Za-z0-9-]*)$/'],
          statsStatements: ['count(*) as errors by node, service'],
          sort: 'errors desc',
          limit: 100,
        }),
      }),
    ];

    this.failedTasks = this.countLines(
      'FailedTasks',
      [props.status.logGroup],
      logs.FilterPattern.any(
        logs.FilterPattern.stringValue('$.taskStatus', '=', 'FAILED'),
        logs.FilterPattern.stringValue('$.taskStatus', '=', 'TIMED_OUT'),
      ),
    );
    this.rejectedCallbacks = this.countLines(
      'RejectedCallbacks',
      props.callbacks.map((fn) => fn.logGroup),
      logs.FilterPattern.numberValue('$.answer', '>=', 400),
    );

    this.alarm(
      'FailedTasksAlarm',
      this.failedTasks,
      1,
      'A task ended FAILED or TIMED_OUT.',
      props.alarmTopic,
    );
    this.alarm(
      'RejectedCallbacksAlarm',
      this.rejectedCallbacks,
      props.rejectedCallbacksThreshold ?? 10,
      'Callbacks are being rejected (4xx): workers answer late, twice, or for unknown work.',
      props.alarmTopic,
    );
    for (const [index, queue] of props.deadLetterQueues.entries()) {
      this.alarm(
        `DeadLetters${index}Alarm`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        1,
        `Messages in dead-letter queue ${index}: work or events that failed every retry.`,
        props.alarmTopic,
      );
    }

    const executions = (metricName: string, label: string) =>
      new cloudwatch.MathExpression({
        label,
        expression: `SUM(SEARCH('{AWS/States,StateMachineArn} MetricName="${metricName}" ":stateMachine:${props.stateMachinePrefix}-"', 'Sum', 300))`,
        period: Duration.minutes(5),
      });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-engine`,
      defaultInterval: Duration.hours(6),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            left: [
              executions('ExecutionsStarted', 'started'),
              executions('ExecutionsSucceeded', 'succeeded'),
              executions('ExecutionsFailed', 'failed'),
              executions('ExecutionsTimedOut', 'timed out'),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Failed tasks, rejected callbacks',
            left: [this.failedTasks, this.rejectedCallbacks],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'API',
            left: [props.api.metricCount(), props.api.metricClientError(), props.api.metricServerError()],
            right: [props.api.metricLatency({ statistic: 'p90' })],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead-letter queues',
            left: props.deadLetterQueues.map((queue) => queue.metricApproximateNumberOfMessagesVisible()),
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Lambda errors',
            left: props.functions.slice(0, 20).map((fn) => fn.function.metricErrors()),
            width: 24,
            legendPosition: cloudwatch.LegendPosition.RIGHT,
          }),
        ],
        [
          new cloudwatch.LogQueryWidget({
            title: 'Errors by node (last 6 h)',
            logGroupNames: logGroups.map((group) => group.logGroupName),
            queryLines: [
              'filter level = "ERROR" and ispresent(eventId)',
              'parse eventId /_(?<node>[A-Za-z][A-Za-z0-9-]*)$/',
              'stats count(*) as errors by node, service',
              'sort errors desc',
            ],
            width: 24,
          }),
        ],
      ],
    });
  }

  /** A metric counting the log lines that match `pattern` in any of `groups`. */
  private countLines(
    name: string,
    groups: readonly logs.ILogGroup[],
    pattern: logs.IFilterPattern,
  ): cloudwatch.Metric {
    groups.forEach((group, index) => {
      new logs.MetricFilter(this, `${name}Filter${index}`, {
        logGroup: group,
        filterPattern: pattern,
        metricNamespace: METRIC_NAMESPACE,
        metricName: name,
        metricValue: '1',
        defaultValue: 0,
      });
    });
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName: name,
      statistic: 'Sum',
      period: Duration.minutes(5),
    });
  }

  private alarm(
    id: string,
    metric: cloudwatch.IMetric,
    threshold: number,
    description: string,
    topic: sns.ITopic | undefined,
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    if (topic) alarm.addAlarmAction(new actions.SnsAction(topic));
    this.alarms.push(alarm);
  }
}
