// The compiler on AWS: the compiler function (`POST /workflows`: compile, then create or update the
// workflow's state machine, publish a version, point the `live` alias at it), the one execution role
// every compiled state machine runs with (scoped to the engine's functions, queues and bus), the log
// group they log errors to, and a custom resource registering workflows/*.yaml at deploy time through
// the same code (the same bundle, its `onDeploy` handler). Distributed Maps read their staged items from,
// and write their results to, the media bucket themselves: the execution role reaches those objects.
import { Aws, CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { ENV } from '../config/env.js';
import type { AsyncDispatch } from './async-dispatch.js';
import { EngineFunction } from './engine-function.js';
import { grantInvokeUnqualified } from './grants.js';
import { acknowledge, acknowledgeManagedPolicies, acknowledgeWildcardResources } from './nag.js';
import { MAP_RESULTS_PREFIX, OBJECTS_PREFIX, type OperatorCatalog } from './operator-catalog.js';
import { handlerEntry, type ShippedWorkflow } from './project.js';
import type { ScriptRunner } from './script-runner.js';
import {
  acknowledgeCompiledExecutions,
  acknowledgeCompiledMachines,
  executionArnPattern,
  stateMachineArnPattern,
} from './state-machine-arns.js';
import type { TrackingTables } from './tracking-tables.js';

export interface CompilerServiceProps {
  readonly tables: TrackingTables;
  readonly catalog: OperatorCatalog;
  readonly dispatch: AsyncDispatch;
  readonly scripts: ScriptRunner;
  /** The engine's bucket: Distributed Maps' ItemReaders and ResultWriters use it under `objects/`. */
  readonly bucket: s3.IBucket;
  readonly stateMachinePrefix: string;
  /** Registered at deploy time; none when empty. */
  readonly workflows: readonly ShippedWorkflow[];
}

/** Actions Step Functions needs on the execution role to deliver logs; they take no resource ARN. */
const LOG_DELIVERY_REASON =
  'CloudWatch Logs delivery actions (CreateLogDelivery, ...) support no resource-level permissions: Resource must be *.';
const LOG_DELIVERY_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
];

export class CompilerService extends Construct {
  readonly compiler: EngineFunction;
  readonly registrar: EngineFunction;
  readonly executionRole: iam.Role;
  readonly machineLogs: logs.LogGroup;
  readonly shippedWorkflows?: CustomResource;

  constructor(scope: Construct, id: string, props: CompilerServiceProps) {
    super(scope, id);
    const { catalog, dispatch, scripts, bucket, stateMachinePrefix: prefix } = props;
    const stack = Stack.of(this);

    this.machineLogs = new logs.LogGroup(this, 'MachineLogs', {
      logGroupName: `/aws/vendedlogs/states/${prefix}`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com'),
      description: 'The role every compiled state machine of the engine runs with',
    });
    grantInvokeUnqualified(this.executionRole, [
      ...catalog.taskFunctions,
      ...catalog.chainFunctions,
      dispatch.dispatch,
      scripts.function,
      dispatch.notifier,
      dispatch.tolerance,
      dispatch.mapStore,
      dispatch.barrier,
    ]);
    for (const queue of dispatch.queues.values()) queue.grantSendMessages(this.executionRole);
    dispatch.bus.grantPutEventsTo(this.executionRole);
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // Distributed Map runs its items as child executions of the same machine.
        actions: ['states:StartExecution'],
        resources: [stateMachineArnPattern(this, prefix)],
      }),
    );
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [executionArnPattern(this, prefix)],
      }),
    );
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: LOG_DELIVERY_ACTIONS, resources: ['*'] }),
    );
    acknowledgeCompiledMachines(this.executionRole, prefix);
    acknowledgeCompiledExecutions(this.executionRole, prefix);
    acknowledgeWildcardResources(this.executionRole, ['*'], LOG_DELIVERY_REASON);
    this.allowDistributedMaps(bucket);

    const environment = {
      [ENV.ACCOUNT_ID]: Aws.ACCOUNT_ID,
      [ENV.STATE_MACHINE_PREFIX]: prefix,
      [ENV.STATE_MACHINE_ROLE_ARN]: this.executionRole.roleArn,
      [ENV.STATE_MACHINE_LOG_GROUP_ARN]: this.machineLogs.logGroupArn,
      [ENV.OPERATOR_FUNCTIONS]: stack.toJsonString(
        Object.fromEntries([...catalog.operators].map(([op, fns]) => [op, fns.task.functionName])),
      ),
      [ENV.OPERATOR_WORKERS]: stack.toJsonString(
        Object.fromEntries([...catalog.operators].map(([op, fns]) => [op, fns.worker.functionName])),
      ),
      [ENV.WORK_QUEUES]: stack.toJsonString(dispatch.queueUrls),
      [ENV.QUEUE_CONSUMERS]: stack.toJsonString(
        Object.fromEntries([...catalog.consumers].map(([queue, consumer]) => [queue, consumer.operator])),
      ),
      [ENV.DISPATCH_FUNCTION_NAME]: dispatch.dispatch.functionName,
      [ENV.SCRIPT_FUNCTION_NAME]: scripts.function.functionName,
      [ENV.NOTIFIER_FUNCTION_NAME]: dispatch.notifier.functionName,
      [ENV.TOLERANCE_FUNCTION_NAME]: dispatch.tolerance.functionName,
      [ENV.BARRIER_FUNCTION_NAME]: dispatch.barrier.functionName,
      [ENV.MAP_STORE_FUNCTION_NAME]: dispatch.mapStore.functionName,
      [ENV.MAP_RESULTS_ROOT]: `s3://${bucket.bucketName}/${MAP_RESULTS_PREFIX}`,
      [ENV.CHAIN_FUNCTIONS]: stack.toJsonString(
        Object.fromEntries([...catalog.chains].map(([group, fn]) => [group, fn.functionName])),
      ),
      [ENV.EVENT_BUS_NAME]: dispatch.bus.eventBusName,
    };
    const compilerProps = {
      entry: handlerEntry('compiler'),
      serviceName: 'compiler',
      memorySize: 1024,
      timeout: Duration.minutes(1),
      environment,
    };
    this.compiler = new EngineFunction(this, 'Compiler', {
      ...compilerProps,
      description: 'POST /workflows: compile, create or update the state machine, publish, alias',
    });
    this.registrar = new EngineFunction(this, 'Registrar', {
      ...compilerProps,
      handler: 'onDeploy',
      description: 'Registers workflows/*.yaml at deploy time (the compiler, as a custom resource)',
      timeout: Duration.minutes(5),
    });
    for (const fn of [this.compiler, this.registrar]) this.allowPublishing(fn, props.tables, prefix);

    if (props.workflows.length > 0) {
      const provider = new cr.Provider(this, 'RegistrarProvider', {
        onEventHandler: this.registrar.function,
        logGroup: new logs.LogGroup(this, 'RegistrarProviderLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.RETAIN,
        }),
      });
      acknowledgeManagedPolicies(
        provider,
        ['service-role/AWSLambdaBasicExecutionRole'],
        "The custom resource provider framework's own function (aws-cdk-lib's) uses the basic Lambda execution policy.",
      );
      acknowledgeWildcardResources(
        provider,
        [`${this.registrar.functionArn}:*`],
        'The provider framework (aws-cdk-lib) may invoke the registrar function in any version.',
      );
      acknowledge(
        provider,
        'AwsSolutions-L1',
        "The provider framework's function runtime is chosen by aws-cdk-lib.",
      );
      this.shippedWorkflows = new CustomResource(this, 'ShippedWorkflows', {
        serviceToken: provider.serviceToken,
        resourceType: 'Custom::DagWorkflows',
        properties: {
          Workflows: props.workflows.map((w) => ({ File: w.file, Source: w.source })),
          // Any change of what the workflows compile against re-registers them (and republishes those
          // whose definition changed).
          Deployment: stack.toJsonString(environment),
        },
      });
      // Creating a machine checks its role can deliver logs: the role's policy must exist first.
      this.shippedWorkflows.node.addDependency(this.executionRole);
    }
  }

  /**
   * What Step Functions itself does for a Distributed Map (the AWS docs' IAM policies for ItemReader and
   * ResultWriter): read the items the map-store function staged, write (multipart) the results.
   */
  private allowDistributedMaps(bucket: s3.IBucket): void {
    const stagedItems = bucket.arnForObjects(`${OBJECTS_PREFIX}/*`);
    const results = bucket.arnForObjects(`${MAP_RESULTS_PREFIX}/*`);
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [stagedItems] }),
    );
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:GetObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
        resources: [results],
      }),
    );
    acknowledgeWildcardResources(
      this.executionRole,
      [stagedItems],
      "A Distributed Map's ItemReader reads the items the map-store function staged under objects/<task id>/<node>/, keys known only at run time.",
    );
    acknowledgeWildcardResources(
      this.executionRole,
      [results],
      "A Distributed Map's ResultWriter writes its manifest and result files under objects/map-results/, named by workflow, node and map run id at run time.",
    );
  }

  private allowPublishing(fn: EngineFunction, tables: TrackingTables, prefix: string): void {
    fn.bindTable(tables.workflows, ENV.WORKFLOWS_TABLE, 'rw');
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'states:CreateStateMachine',
          'states:UpdateStateMachine',
          'states:PublishStateMachineVersion',
          'states:CreateStateMachineAlias',
          'states:UpdateStateMachineAlias',
          'states:DescribeStateMachineAlias',
        ],
        resources: [stateMachineArnPattern(this, prefix)],
      }),
    );
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [this.executionRole.roleArn] }),
    );
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: LOG_DELIVERY_ACTIONS, resources: ['*'] }),
    );
    acknowledgeCompiledMachines(fn.role, prefix);
    acknowledgeWildcardResources(fn.role, ['*'], LOG_DELIVERY_REASON);
  }
}
