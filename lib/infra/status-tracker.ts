// Step Functions execution status changes of the compiled machines (EventBridge, default bus) -> the
// status function -> the task record, and the events of nodes that run no code, read from the
// execution history.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../config/env.js';
import { secureQueue, suppressDeadLetterQueue } from './async-dispatch.js';
import { EngineFunction } from './engine-function.js';
import { handlerEntry } from './project.js';
import {
  acknowledgeCompiledExecutions,
  executionArnPattern,
  stateMachineArnPrefix,
} from './state-machine-arns.js';
import type { TrackingTables } from './tracking-tables.js';

export interface StatusTrackerProps {
  readonly tables: TrackingTables;
  readonly stateMachinePrefix: string;
}

export class StatusTracker extends Construct {
  readonly function: EngineFunction;
  readonly rule: events.Rule;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: StatusTrackerProps) {
    super(scope, id);
    const { tables } = props;
    this.function = new EngineFunction(this, 'Status', {
      entry: handlerEntry('status'),
      description: 'Execution status changes -> tasks, and events of nodes that run no code',
      serviceName: 'status',
      timeout: Duration.minutes(2),
    });
    this.function
      .bindTable(tables.tasks, ENV.TASKS_TABLE, 'rw')
      .bindTable(tables.events, ENV.EVENTS_TABLE, 'rw')
      // Segments too: an ended execution's work still running or waiting ends (stopped-work.ts).
      .bindTable(tables.segments, ENV.SEGMENTS_TABLE, 'rw')
      .bindTable(tables.workflows, ENV.WORKFLOWS_TABLE, 'r');
    this.function.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:GetExecutionHistory', 'states:DescribeExecution'],
        resources: [executionArnPattern(this, props.stateMachinePrefix)],
      }),
    );
    acknowledgeCompiledExecutions(this.function.role, props.stateMachinePrefix);

    this.deadLetters = secureQueue(this, 'StatusDeadLetters', { retentionPeriod: Duration.days(14) });
    suppressDeadLetterQueue(this.deadLetters);
    this.rule = new events.Rule(this, 'ExecutionStatus', {
      description: "Status changes of the engine's compiled state machines",
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          // Versions and aliases (`...:stateMachine:<prefix>-wf:3`) start with it too.
          stateMachineArn: [{ prefix: stateMachineArnPrefix(this, props.stateMachinePrefix) }],
        },
      },
      targets: [
        new targets.LambdaFunction(this.function.function, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(6),
          deadLetterQueue: this.deadLetters,
        }),
      ],
    });
  }
}
