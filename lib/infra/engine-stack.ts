// The engine on AWS: only wires the constructs, each of which owns one concern. Environment-agnostic
// (no account or region at synth): `cdk synth` needs no credentials.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type { Construct } from 'constructs';
import { workflowNeeds } from '../aws/workflow-resources.js';
import { AsyncDispatch } from './async-dispatch.js';
import { CompilerService } from './compiler-service.js';
import { EngineApi } from './engine-api.js';
import { GpuBatch } from './gpu-batch.js';
import { Observability } from './observability.js';
import { OperatorCatalog } from './operator-catalog.js';
import {
  listOperators,
  listShippedWorkflows,
  type OperatorModule,
  parseShippedWorkflow,
  type ShippedWorkflow,
} from './project.js';
import { ScriptRunner } from './script-runner.js';
import { StatusTracker } from './status-tracker.js';
import { TrackingTables } from './tracking-tables.js';
import { UploadTrigger } from './upload-trigger.js';

export interface EngineStackProps extends StackProps {
  /** Compiled state machines are `<prefix>-<workflow>`; from the stack name by default. */
  readonly stateMachinePrefix?: string;
  /** The catalog; every module under functions/operators by default. */
  readonly operators?: readonly OperatorModule[];
  /** Registered at deploy time, and where the work queues and their consumers come from. */
  readonly workflows?: readonly ShippedWorkflow[];
  /** Queues beyond those the workflows use (for workflows registered later through the API). */
  readonly extraQueues?: readonly string[];
  /** The GPU job's image (tests pass a registry image to skip the Docker asset). */
  readonly gpuImage?: ecs.ContainerImage;
}

/** Longest workflow name (63) + '-' + this stays within Step Functions' 80 characters. */
const MAX_PREFIX_LENGTH = 16;

export class EngineStack extends Stack {
  constructor(scope: Construct, id: string, props: EngineStackProps = {}) {
    super(scope, id, props);
    // Access logs delivered under a bucket policy, not the legacy log-delivery ACL.
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const prefix = props.stateMachinePrefix ?? prefixFromStackName(this.stackName);
    const workflows = props.workflows ?? listShippedWorkflows();
    const needs = workflows.map((shipped) => workflowNeeds(parseShippedWorkflow(shipped)));
    const queueNames = [
      ...new Set([...needs.flatMap((n) => [...n.queues]), ...(props.extraQueues ?? [])]),
    ].sort();

    const tables = new TrackingTables(this, 'Tracking');
    const uploads = new UploadTrigger(this, 'Uploads', { tables, stateMachinePrefix: prefix });
    const catalog = new OperatorCatalog(this, 'Operators', {
      tables,
      bucket: uploads.bucket,
      operators: props.operators ?? listOperators(),
    });
    const scripts = new ScriptRunner(this, 'Scripts', { tables, bucket: uploads.bucket });
    const dispatch = new AsyncDispatch(this, 'Async', {
      tables,
      catalog,
      bucket: uploads.bucket,
      queueNames,
      stateMachinePrefix: prefix,
    });
    for (const { queue, operator } of needs.flatMap((n) => n.consumers))
      catalog.consumeQueue(dispatch.queue(queue), queue, operator);
    const gpu = new GpuBatch(this, 'Gpu', {
      tables,
      bus: dispatch.bus,
      bucket: uploads.bucket,
      ...(props.gpuImage ? { image: props.gpuImage } : {}),
    });
    dispatch.connectBatch(gpu);
    const compiler = new CompilerService(this, 'Compiler', {
      tables,
      catalog,
      dispatch,
      scripts,
      bucket: uploads.bucket,
      stateMachinePrefix: prefix,
      workflows,
    });
    const status = new StatusTracker(this, 'Status', { tables, stateMachinePrefix: prefix });
    const api = new EngineApi(this, 'Api', {
      tables,
      stateMachinePrefix: prefix,
      compiler: compiler.compiler,
      callback: dispatch.callbackApi,
    });
    new Observability(this, 'Observability', {
      functions: [
        compiler.compiler,
        compiler.registrar,
        api.submit,
        api.query,
        api.control,
        uploads.trigger,
        dispatch.dispatch,
        dispatch.callbackApi,
        dispatch.callbackEvents,
        dispatch.notifier,
        dispatch.tolerance,
        dispatch.mapStore,
        dispatch.barrier,
        scripts.function,
        status.function,
        ...catalog.allFunctions,
      ],
      extraLogGroups: [gpu.logGroup],
      status: status.function,
      callbacks: [dispatch.callbackApi, dispatch.callbackEvents],
      deadLetterQueues: [
        dispatch.deadLetters,
        dispatch.callbackDeadLetters,
        uploads.deadLetters,
        status.deadLetters,
      ],
      api: api.api,
      stateMachinePrefix: prefix,
    });

    new CfnOutput(this, 'ApiUrl', { value: api.url, description: 'The §9 API (IAM-authorised, SigV4)' });
    new CfnOutput(this, 'EventBusName', {
      value: dispatch.bus.eventBusName,
      description: 'Workers put `Node Callback` events (source dag.worker) here',
    });
    new CfnOutput(this, 'MediaBucketName', {
      value: uploads.bucket.bucketName,
      description: 'Uploads under uploads/<workflow>/ start tasks; outputs land under objects/',
    });
    new CfnOutput(this, 'StateMachinePrefix', { value: prefix });
    for (const [name, queue] of dispatch.queues)
      new CfnOutput(this, `Queue${name.replace(/[^A-Za-z0-9]/g, '')}Url`, {
        value: queue.queueUrl,
        description: `Work queue '${name}'`,
      });
  }
}

/** `MediaDag` -> `mediadag`: lower case letters, digits and dashes, short enough for any workflow. */
export function prefixFromStackName(stackName: string): string {
  const prefix = stackName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_PREFIX_LENGTH)
    .replace(/-+$/, '');
  return prefix === '' ? 'dag' : prefix;
}
