// Uploads start tasks (dag-spec §9): the engine's private, encrypted, versioned media bucket; objects
// created under uploads/ notify an SQS buffer; the s3-trigger function drains it in batches with
// partial failures and starts one task per object version (deduplicated by the tracking store's
// idempotency keys). The same bucket is the operators' object store (objects/).
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { UPLOADS_PREFIX } from '../aws/upload-service.js';
import { ENV } from '../config/env.js';
import { secureQueue, suppressDeadLetterQueue } from './async-dispatch.js';
import { EngineFunction } from './engine-function.js';
import { acknowledge, acknowledgeManagedPolicies } from './nag.js';
import { MAP_RESULTS_DAYS, MAP_RESULTS_PREFIX } from './operator-catalog.js';
import { handlerEntry } from './project.js';
import { acknowledgeCompiledMachines, stateMachineArnPattern } from './state-machine-arns.js';
import type { TrackingTables } from './tracking-tables.js';

export interface UploadTriggerProps {
  readonly tables: TrackingTables;
  readonly stateMachinePrefix: string;
  /** RETAIN by default: media outlives the stack. */
  readonly removalPolicy?: RemovalPolicy;
}

export class UploadTrigger extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;
  readonly trigger: EngineFunction;

  constructor(scope: Construct, id: string, props: UploadTriggerProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
    });
    acknowledge(
      this.accessLogs,
      'AwsSolutions-S1',
      'This is the access-log bucket of the media bucket; it does not log itself.',
    );
    this.bucket = new s3.Bucket(this, 'Media', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // Tasks start once per object version: a re-upload of the same key is a new version.
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'media/',
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(30) },
        // Distributed Maps' result files are read into the task's own payload by its collector.
        { prefix: `${MAP_RESULTS_PREFIX}/`, expiration: Duration.days(MAP_RESULTS_DAYS) },
      ],
      removalPolicy,
    });

    this.deadLetters = secureQueue(this, 'UploadDeadLetters', { retentionPeriod: Duration.days(14) });
    suppressDeadLetterQueue(this.deadLetters);
    this.queue = secureQueue(this, 'Buffer', {
      // Six times the trigger's timeout, as Lambda advises for SQS event sources.
      visibilityTimeout: Duration.minutes(6),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 5 },
    });
    this.bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(this.queue), {
      prefix: UPLOADS_PREFIX,
    });
    // aws-cdk-lib configures bucket notifications through a singleton function at the stack's root.
    for (const child of Stack.of(this).node.children)
      if (child.node.id.startsWith('BucketNotificationsHandler'))
        acknowledgeManagedPolicies(
          child,
          ['service-role/AWSLambdaBasicExecutionRole'],
          "aws-cdk-lib's bucket-notifications function (it sets the bucket's notification configuration at deploy time) uses the basic Lambda execution policy.",
        );

    this.trigger = new EngineFunction(this, 'Trigger', {
      entry: handlerEntry('s3-trigger'),
      description: 'Uploads under uploads/<workflow>/ start tasks',
      serviceName: 's3-trigger',
      timeout: Duration.minutes(1),
    });
    this.trigger
      .bindTable(props.tables.tasks, ENV.TASKS_TABLE, 'rw')
      .bindTable(props.tables.idempotency, ENV.IDEMPOTENCY_TABLE, 'rw')
      .bindTable(props.tables.workflows, ENV.WORKFLOWS_TABLE, 'r');
    this.trigger.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [stateMachineArnPattern(this, props.stateMachinePrefix)],
      }),
    );
    acknowledgeCompiledMachines(this.trigger.role, props.stateMachinePrefix);
    this.trigger.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
      }),
    );
  }
}
