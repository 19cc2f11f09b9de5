// Async work (dag-spec §2, §7): the dispatch function that `.waitForTaskToken` Tasks invoke, the work
// queues (with one dead-letter queue), the engine's EventBridge bus, the callback functions behind
// both the `dag.worker` / `Node Callback` rule and `POST /callbacks/{id}`, the barrier function that
// `--plan fastest` wait and release states call, the notifier and tolerance functions, and the
// map-store function around Distributed Maps (their items and results in the media bucket).
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CALLBACK_DETAIL_TYPE, CALLBACK_SOURCE } from '../aws/worker.js';
import { ENV } from '../config/env.js';
import { EngineFunction } from './engine-function.js';
import type { GpuBatch } from './gpu-batch.js';
import { grantInvokeUnqualified, grantObjectRead, grantObjectWrite } from './grants.js';
import { acknowledge } from './nag.js';
import { constructIdOf, OBJECTS_PREFIX, type OperatorCatalog } from './operator-catalog.js';
import { handlerEntry } from './project.js';
import { acknowledgeCompiledMachines, stateMachineArnPattern } from './state-machine-arns.js';
import type { TrackingTables } from './tracking-tables.js';

export interface AsyncDispatchProps {
  readonly tables: TrackingTables;
  readonly catalog: OperatorCatalog;
  /** The engine's bucket: Distributed Maps' items and results live under its object root. */
  readonly bucket: s3.IBucket;
  /** Work queues and callback-node queues; `work` is always there. */
  readonly queueNames: readonly string[];
  readonly stateMachinePrefix: string;
  /** How long a work item may stay invisible to other consumers (an external worker extends it). */
  readonly visibilityTimeout?: Duration;
}

export class AsyncDispatch extends Construct {
  readonly bus: events.EventBus;
  readonly queues: ReadonlyMap<string, sqs.Queue>;
  readonly deadLetters: sqs.Queue;
  /** Bus events the callback function failed on after its retries. */
  readonly callbackDeadLetters: sqs.Queue;
  readonly dispatch: EngineFunction;
  readonly callbackApi: EngineFunction;
  readonly callbackEvents: EngineFunction;
  readonly notifier: EngineFunction;
  readonly tolerance: EngineFunction;
  /** Distributed Maps: stages their items for the ItemReader, collects what the ResultWriter wrote. */
  readonly mapStore: EngineFunction;
  /** Cross-branch barriers: parks a wait's token, resumes it once its producers released it. */
  readonly barrier: EngineFunction;
  readonly callbackRule: events.Rule;

  constructor(scope: Construct, id: string, props: AsyncDispatchProps) {
    super(scope, id);
    const { tables, catalog } = props;
    this.bus = new events.EventBus(this, 'Bus', {
      description: 'The DAG engine: callback nodes and workers',
    });

    this.deadLetters = secureQueue(this, 'WorkDeadLetters', { retentionPeriod: Duration.days(14) });
    suppressDeadLetterQueue(this.deadLetters);
    const queues = new Map<string, sqs.Queue>();
    for (const name of new Set(['work', ...props.queueNames])) {
      queues.set(
        name,
        secureQueue(this, `Queue${constructIdOf(name)}`, {
          visibilityTimeout: props.visibilityTimeout ?? Duration.hours(1),
          retentionPeriod: Duration.days(14),
          deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: 5 },
        }),
      );
    }
    this.queues = queues;
    const queueUrls = Object.fromEntries([...queues].map(([name, queue]) => [name, queue.queueUrl]));

    this.dispatch = new EngineFunction(this, 'Dispatch', {
      entry: handlerEntry('dispatch'),
      description: 'Async nodes: parks the task token, hands the work item out',
      serviceName: 'dispatch',
      environment: {
        [ENV.WORK_QUEUES]: jsonOf(this, queueUrls),
        [ENV.OPERATOR_WORKERS]: jsonOf(
          this,
          Object.fromEntries([...catalog.operators].map(([op, fns]) => [op, fns.worker.functionName])),
        ),
      },
    });
    this.dispatch
      .bindTable(tables.events, ENV.EVENTS_TABLE, 'rw')
      .bindTable(tables.segments, ENV.SEGMENTS_TABLE, 'rw');
    grantInvokeUnqualified(this.dispatch.role, catalog.workerFunctions);
    for (const queue of queues.values()) queue.grantSendMessages(this.dispatch.role);

    const callbackProps = {
      entry: handlerEntry('callback'),
      description: 'Callbacks of async work (dag-spec §7): SendTaskSuccess/Failure/Heartbeat',
    };
    this.callbackApi = new EngineFunction(this, 'CallbackApi', {
      ...callbackProps,
      handler: 'apiHandler',
      serviceName: 'callback',
    });
    this.callbackEvents = new EngineFunction(this, 'CallbackEvents', {
      ...callbackProps,
      handler: 'eventHandler',
      serviceName: 'callback',
    });
    for (const fn of [this.callbackApi, this.callbackEvents]) {
      fn.bindTable(tables.events, ENV.EVENTS_TABLE, 'rw').bindTable(
        tables.segments,
        ENV.SEGMENTS_TABLE,
        'rw',
      );
    }
    // A policy of its own, not on the roles' default policies: were a compiled machine ever to be a
    // CloudFormation resource invoking these functions, granting on it would make a dependency cycle.
    const responses = new iam.Policy(this, 'TaskResponses', {
      statements: [
        new iam.PolicyStatement({
          actions: ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
          resources: [stateMachineArnPattern(this, props.stateMachinePrefix)],
        }),
      ],
      roles: [this.callbackApi.role, this.callbackEvents.role],
    });
    acknowledgeCompiledMachines(responses, props.stateMachinePrefix);

    this.callbackDeadLetters = secureQueue(this, 'CallbackDeadLetters', {
      retentionPeriod: Duration.days(14),
    });
    suppressDeadLetterQueue(this.callbackDeadLetters);
    this.callbackRule = new events.Rule(this, 'CallbackRule', {
      eventBus: this.bus,
      description: 'Worker callbacks (dag-spec §7) to the callback function',
      eventPattern: { source: [CALLBACK_SOURCE], detailType: [CALLBACK_DETAIL_TYPE] },
      targets: [
        new targets.LambdaFunction(this.callbackEvents.function, {
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
          deadLetterQueue: this.callbackDeadLetters,
        }),
      ],
    });

    this.notifier = new EngineFunction(this, 'Notifier', {
      entry: handlerEntry('notifier'),
      description: 'kind: http callback nodes',
      serviceName: 'notifier',
      timeout: Duration.seconds(45),
    });
    this.tolerance = new EngineFunction(this, 'Tolerance', {
      entry: handlerEntry('tolerance'),
      description: "Checks a parallel node's tolerated failure share",
      serviceName: 'tolerance',
      memorySize: 256,
    });
    this.mapStore = new EngineFunction(this, 'MapStore', {
      entry: handlerEntry('map-store'),
      description: 'Distributed Maps: stages items in S3, collects ResultWriter results in item order',
      serviceName: 'map-store',
      // Collecting may read thousands of result files and hold every item's output at once.
      memorySize: 1024,
      timeout: Duration.minutes(5),
      environment: { [ENV.OBJECT_ROOT]: `s3://${props.bucket.bucketName}/${OBJECTS_PREFIX}` },
    });
    // Items and results (map-results/ included) are payloads: confined to the object root.
    grantObjectRead(props.bucket, this.mapStore.role, `${OBJECTS_PREFIX}/`);
    grantObjectWrite(props.bucket, this.mapStore.role, `${OBJECTS_PREFIX}/`);

    this.barrier = new EngineFunction(this, 'Barrier', {
      entry: handlerEntry('barrier'),
      description: 'Cross-branch barriers (--plan fastest): parks wait tokens, resumes them on release',
      serviceName: 'barrier',
      memorySize: 256,
    });
    this.barrier.bindTable(tables.barriers, ENV.BARRIERS_TABLE, 'rw');
    // Only SendTaskSuccess: a barrier never fails or heartbeats a wait. A policy of its own, as above.
    const resumes = new iam.Policy(this, 'BarrierResumes', {
      statements: [
        new iam.PolicyStatement({
          actions: ['states:SendTaskSuccess'],
          resources: [stateMachineArnPattern(this, props.stateMachinePrefix)],
        }),
      ],
      roles: [this.barrier.role],
    });
    acknowledgeCompiledMachines(resumes, props.stateMachinePrefix);

    catalog.connectBus(this.bus);
  }

  /** Every queue URL by name, for the compiler's bindings. */
  get queueUrls(): Record<string, string> {
    return Object.fromEntries([...this.queues].map(([name, queue]) => [name, queue.queueUrl]));
  }

  queue(name: string): sqs.Queue {
    const queue = this.queues.get(name);
    if (!queue) throw new Error(`No work queue '${name}'.`);
    return queue;
  }

  /** `via: batch` work goes to the GPU queue: the dispatch function may submit jobs there. */
  connectBatch(batch: GpuBatch): void {
    this.dispatch
      .addEnvironment(ENV.BATCH_JOB_QUEUE_ARN, batch.jobQueue.jobQueueArn)
      .addEnvironment(ENV.BATCH_JOB_DEFINITION_ARN, batch.jobDefinition.jobDefinitionArn);
    batch.grantSubmitJob(this.dispatch.role);
  }
}

/** Encrypted (SQS-managed keys) and reachable over TLS only. */
export function secureQueue(scope: Construct, id: string, props: sqs.QueueProps): sqs.Queue {
  return new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    ...props,
  });
}

/** A dead-letter queue has no dead-letter queue of its own. */
export function suppressDeadLetterQueue(queue: sqs.Queue): void {
  acknowledge(
    queue,
    'AwsSolutions-SQS3',
    'This is a dead-letter queue; its depth is alarmed on (Observability).',
  );
}

/** A JSON object whose values may be tokens (resolved at deploy). */
export function jsonOf(scope: Construct, value: Record<string, string>): string {
  return Stack.of(scope).toJsonString(value);
}
