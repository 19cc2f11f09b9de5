// The operator catalog on AWS: per operator in functions/operators, one bundle of the operator wrapper
// (functions/operator/handler.ts) with the operator aliased in, deployed as
//   - its Task function, which compiled sync Task states call (and a parallel node's items), and
//   - its worker function, which the dispatch function invokes for `via: lambda` work items,
// plus, for each work queue an operator consumes (`via: queue` with an operator), a consumer function
// with the queue as its event source. The three share one bundle (CDK stages an asset once).
//
// plus, per operator group, a chain function running fused chains of sync nodes of that group (one
// bundle with all of the group's operators, from a module generated at synth time).
//
// media/* and analysis/* run ffmpeg: x86_64 with the ffmpeg layer (see ffmpeg-layer.ts), more memory,
// disk and time. The others run on arm64 (lib/runtime/operator-groups.ts).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../config/env.js';
import { type OperatorGroup, operatorGroupOf } from '../runtime/operator-groups.js';
import { EngineFunction } from './engine-function.js';
import { FFMPEG_EXTERNALS, FfmpegLayer } from './ffmpeg-layer.js';
import { grantObjectRead, grantObjectWrite } from './grants.js';
import { listOperators, type OperatorModule, PROJECT_ROOT } from './project.js';
import type { TrackingTables } from './tracking-tables.js';

export interface OperatorCatalogProps {
  readonly tables: TrackingTables;
  /** Where operators read sources and write outputs: `s3://<bucket>/objects` is their object root. */
  readonly bucket: s3.IBucket;
  /** The catalog; every module under functions/operators by default. */
  readonly operators?: readonly OperatorModule[];
}

/** Where operators write outputs inside the bucket. */
export const OBJECTS_PREFIX = 'objects';
/** Where Distributed Maps' ResultWriters write: `<prefix>/<workflow>/<node>/<map run id>/...`. */
export const MAP_RESULTS_PREFIX = `${OBJECTS_PREFIX}/map-results`;
/**
 * How long a map run's result files stay. The collector reads them right after the Map; a redrive
 * (within Step Functions' 14 days) may read them again, so a day more than that.
 */
export const MAP_RESULTS_DAYS = 15;

export interface OperatorFunctions {
  /** The sync Task function. */
  readonly task: EngineFunction;
  /** The async work-item function (`via: lambda`). */
  readonly worker: EngineFunction;
}

export class OperatorCatalog extends Construct {
  readonly operators: ReadonlyMap<string, OperatorFunctions>;
  /** Per operator group of the catalog: the function fused chains of its sync nodes run in. */
  readonly chains: ReadonlyMap<OperatorGroup, EngineFunction>;
  /** queue name -> the consumer function of the operator that consumes it. */
  readonly consumers = new Map<string, { operator: string; function: EngineFunction }>();
  readonly ffmpeg: FfmpegLayer;
  private readonly modules: ReadonlyMap<string, OperatorModule>;
  private readonly props: OperatorCatalogProps;
  private bus: events.IEventBus | undefined;

  constructor(scope: Construct, id: string, props: OperatorCatalogProps) {
    super(scope, id);
    this.props = props;
    this.ffmpeg = new FfmpegLayer(this, 'Ffmpeg');
    const modules = props.operators ?? listOperators();
    this.modules = new Map(modules.map((module) => [module.operator, module]));
    const operators = new Map<string, OperatorFunctions>();
    for (const module of modules) {
      const base = constructIdOf(module.operator);
      const task = this.operatorFunction(`${base}Task`, module, 'handler', 'runs sync Tasks');
      const worker = this.operatorFunction(`${base}Worker`, module, 'handleWork', 'runs async work items');
      operators.set(module.operator, { task, worker });
    }
    this.operators = operators;
    const groups = new Map<OperatorGroup, OperatorModule[]>();
    for (const module of modules) {
      const group = this.groupOf(module.operator);
      groups.set(group, [...(groups.get(group) ?? []), module]);
    }
    this.chains = new Map(
      [...groups].map(([group, members]) => [group, this.chainFunction(group, members)] as const),
    );
  }

  /** Chain functions, for the execution role's invoke grant. */
  get chainFunctions(): EngineFunction[] {
    return [...this.chains.values()];
  }

  /** Task functions by operator. */
  get taskFunctions(): EngineFunction[] {
    return [...this.operators.values()].map((fns) => fns.task);
  }

  get workerFunctions(): EngineFunction[] {
    return [...this.operators.values()].map((fns) => fns.worker);
  }

  /** Everything this catalog deployed, consumers included (for log queries and alarms). */
  get allFunctions(): EngineFunction[] {
    return [
      ...this.taskFunctions,
      ...this.workerFunctions,
      ...[...this.consumers.values()].map((c) => c.function),
      ...this.chainFunctions,
    ];
  }

  /** Workers answer on the engine's bus: its name in their environment, PutEvents on it. */
  connectBus(bus: events.IEventBus): void {
    this.bus = bus;
    for (const worker of this.workerFunctions) allowCallbacks(worker, bus);
    for (const consumer of this.consumers.values()) allowCallbacks(consumer.function, bus);
  }

  /** `operator` consumes `queue` (dag-spec §2, `via: queue` with an operator). */
  consumeQueue(queue: sqs.IQueue, queueName: string, operator: string): EngineFunction {
    const known = this.consumers.get(queueName);
    if (known && known.operator !== operator)
      throw new Error(
        `Queue '${queueName}' is consumed by '${known.operator}' already; '${operator}' cannot consume it too.`,
      );
    if (known) return known.function;
    const module = this.modules.get(operator);
    if (!module) throw new Error(`Queue '${queueName}': no operator '${operator}' in the catalog.`);
    const fn = this.operatorFunction(
      `${constructIdOf(operator)}Consumer${constructIdOf(queueName)}`,
      module,
      'handleQueue',
      `consumes queue ${queueName}`,
    );
    fn.function.addEventSource(new SqsEventSource(queue, { batchSize: 1, reportBatchItemFailures: true }));
    if (this.bus) allowCallbacks(fn, this.bus);
    this.consumers.set(queueName, { operator, function: fn });
    return fn;
  }

  /** The compiler groups operators by the same rule, to fuse only chains one function can run. */
  private groupOf(operator: string): OperatorGroup {
    return operatorGroupOf(operator);
  }

  private operatorFunction(
    id: string,
    module: OperatorModule,
    handler: string,
    what: string,
  ): EngineFunction {
    return this.groupFunction(id, this.groupOf(module.operator), {
      entry: join(PROJECT_ROOT, 'functions', 'operator', 'handler.ts'),
      handler,
      description: `Operator ${module.operator}: ${what}`,
      serviceName: `operator:${module.operator}`,
      esbuildArgs: { '--alias:@dag/operator': `./${module.path}` },
      operator: module.operator,
    });
  }

  /**
   * One function for fused chains of a group: its bundle holds all of the group's operators, listed
   * in a module written at synth time (under node_modules/.cache, never committed).
   */
  private chainFunction(group: OperatorGroup, members: readonly OperatorModule[]): EngineFunction {
    const folder = join(PROJECT_ROOT, 'node_modules', '.cache', 'media-dag');
    mkdirSync(folder, { recursive: true });
    // Named by its content: stacks with different catalogs never share (or overwrite) one module.
    const digest = createHash('sha256')
      .update(members.map((m) => `${m.operator}=${m.path}`).join('\n'))
      .digest('hex')
      .slice(0, 12);
    const registry = join(folder, `chain-operators-${group}-${digest}.ts`);
    const lines = members.map(
      (m, i) =>
        `import { handler as op${i} } from '${relative(folder, join(PROJECT_ROOT, m.path)).split('\\').join('/')}';`,
    );
    const entries = members.map((m, i) => `  ${JSON.stringify(m.operator)}: op${i},`);
    writeFileSync(
      registry,
      `// Generated by lib/infra/operator-catalog.ts: the operators of group '${group}'.\n${lines.join('\n')}\nexport const operators = {\n${entries.join('\n')}\n};\n`,
    );
    return this.groupFunction(`Chain${constructIdOf(group)}`, group, {
      entry: join(PROJECT_ROOT, 'functions', 'chain', 'handler.ts'),
      handler: 'handler',
      description: `Fused chains of ${group} operators`,
      serviceName: `chain:${group}`,
      esbuildArgs: {
        '--alias:@dag/chain-operators': `./${relative(PROJECT_ROOT, registry).split('\\').join('/')}`,
      },
    });
  }

  private groupFunction(
    id: string,
    group: OperatorGroup,
    props: {
      entry: string;
      handler: string;
      description: string;
      serviceName: string;
      esbuildArgs: Record<string, string>;
      operator?: string;
    },
  ): EngineFunction {
    const { tables, bucket } = this.props;
    const fn = new EngineFunction(this, id, {
      entry: props.entry,
      handler: props.handler,
      description: props.description,
      serviceName: props.serviceName,
      esbuildArgs: props.esbuildArgs,
      ...(group === 'ffmpeg'
        ? {
            architecture: lambda.Architecture.X86_64,
            format: 'cjs' as const,
            layers: [this.ffmpeg.layer],
            externalModules: FFMPEG_EXTERNALS,
            memorySize: 3008,
            ephemeralStorageSize: 10_240,
            timeout: Duration.minutes(15),
          }
        : // A chain may take its nodes' limits together, up to Lambda's 15 minutes.
          { memorySize: 1024, timeout: props.operator ? Duration.minutes(5) : Duration.minutes(15) }),
      environment: {
        ...(props.operator ? { [ENV.OPERATOR]: props.operator } : {}),
        [ENV.OBJECT_ROOT]: `s3://${bucket.bucketName}/${OBJECTS_PREFIX}`,
      },
    });
    fn.bindTable(tables.events, ENV.EVENTS_TABLE, 'rw')
      .bindTable(tables.segments, ENV.SEGMENTS_TABLE, 'rw')
      .bindTable(tables.traces, ENV.TRACES_TABLE, 'rw');
    // Sources anywhere in the bucket (uploads/ included); outputs only under objects/.
    grantObjectRead(bucket, fn.role);
    grantObjectWrite(bucket, fn.role, `${OBJECTS_PREFIX}/`);
    return fn;
  }
}

function allowCallbacks(fn: EngineFunction, bus: events.IEventBus): void {
  fn.addEnvironment(ENV.EVENT_BUS_NAME, bus.eventBusName);
  bus.grantPutEventsTo(fn.role);
}

/** `media/transcode-whole` -> `MediaTranscodeWhole`. */
export function constructIdOf(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}
