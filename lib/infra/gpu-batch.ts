// `via: batch` work (dag-spec §2): an AWS Batch GPU compute environment (ECS on GPU instances, scaling
// from zero), its job queue, and one job definition whose container (functions/batch-worker) runs the
// operator named in the job's environment on the work item and calls back on the engine's bus.
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../config/env.js';
import { grantTableData } from './engine-function.js';
import { grantObjectRead, grantObjectWrite } from './grants.js';
import { acknowledgeManagedPolicies, acknowledgeWildcardResources } from './nag.js';
import { OBJECTS_PREFIX } from './operator-catalog.js';
import { PROJECT_ROOT } from './project.js';
import type { TrackingTables } from './tracking-tables.js';

export interface GpuBatchProps {
  readonly tables: TrackingTables;
  readonly bus: events.IEventBus;
  readonly bucket: s3.IBucket;
  /** A VPC with private subnets that reach the internet; one is created (2 AZs, 1 NAT) by default. */
  readonly vpc?: ec2.IVpc;
  /** GPU instance types; g4dn.xlarge and g5.xlarge by default (one NVIDIA GPU, 4 vCPU, 16 GiB). */
  readonly instanceTypes?: ec2.InstanceType[];
  readonly maxvCpus?: number;
  /** The job's image; built from functions/batch-worker/Dockerfile by default. */
  readonly image?: ecs.ContainerImage;
}

/** What the Docker build of the worker image does not need (and must not hash on every synth). */
const IMAGE_EXCLUDES = [
  'node_modules',
  'cdk.out',
  '.git',
  '.data',
  'dist',
  'coverage',
  'test',
  'bench',
  '**/*.md',
];

export class GpuBatch extends Construct {
  readonly vpc: ec2.IVpc;
  readonly computeEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly jobQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: GpuBatchProps) {
    super(scope, id);
    this.vpc = props.vpc ?? this.createVpc();
    const securityGroup = new ec2.SecurityGroup(this, 'Instances', {
      vpc: this.vpc,
      description: 'GPU job instances: outbound only (ECR, S3, DynamoDB, EventBridge)',
      allowAllOutbound: true,
    });
    this.computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, 'Compute', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      instanceTypes: props.instanceTypes ?? [
        new ec2.InstanceType('g4dn.xlarge'),
        new ec2.InstanceType('g5.xlarge'),
      ],
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2_NVIDIA }],
      minvCpus: 0,
      maxvCpus: props.maxvCpus ?? 16,
      allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
    });
    this.jobQueue = new batch.JobQueue(this, 'Queue', {
      computeEnvironments: [{ computeEnvironment: this.computeEnvironment, order: 1 }],
    });

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'The GPU job: traces, callbacks on the bus, media objects',
    });
    grantTableData(this.jobRole, props.tables.traces, 'rw');
    props.bus.grantPutEventsTo(this.jobRole);
    grantObjectRead(props.bucket, this.jobRole);
    grantObjectWrite(props.bucket, this.jobRole, `${OBJECTS_PREFIX}/`);

    this.jobDefinition = new batch.EcsJobDefinition(this, 'Job', {
      timeout: Duration.hours(6),
      retryAttempts: 1,
      container: new batch.EcsEc2ContainerDefinition(this, 'Container', {
        image:
          props.image ??
          ecs.ContainerImage.fromAsset(PROJECT_ROOT, {
            file: 'functions/batch-worker/Dockerfile',
            exclude: IMAGE_EXCLUDES,
            // The npm ffmpeg binaries the image installs are x86-64, like the GPU instances.
            platform: Platform.LINUX_AMD64,
          }),
        cpu: 4,
        memory: Size.gibibytes(14),
        gpu: 1,
        jobRole: this.jobRole,
        logging: ecs.LogDriver.awsLogs({ streamPrefix: 'gpu', logGroup: this.logGroup }),
        environment: {
          [ENV.TRACES_TABLE]: props.tables.traces.tableName,
          [ENV.EVENT_BUS_NAME]: props.bus.eventBusName,
          [ENV.OBJECT_ROOT]: `s3://${props.bucket.bucketName}/${OBJECTS_PREFIX}`,
          [ENV.SERVICE_NAME]: 'gpu-job',
        },
      }),
    });
    acknowledgeWildcardResources(
      this.jobDefinition.container,
      ['*'],
      'The job execution role pulls the image: ecr:GetAuthorizationToken supports no resource-level permissions.',
    );
    acknowledgeManagedPolicies(
      this.computeEnvironment,
      ['service-role/AmazonEC2ContainerServiceforEC2Role'],
      'The ECS instance role of a Batch compute environment needs this policy for the ECS agent to register instances.',
    );
  }

  /** The dispatch function submits jobs of this definition to this queue. */
  grantSubmitJob(grantee: iam.IGrantable): void {
    this.jobDefinition.grantSubmitJob(grantee, this.jobQueue);
  }

  private createVpc(): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'jobs', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogGroup', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.RETAIN,
        }),
      ),
    });
    // Job traffic to S3 and DynamoDB stays off the NAT gateway.
    vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    return vpc;
  }
}
