// The house Lambda construct: nodejs22.x, arm64 unless told otherwise, esbuild bundles with source
// maps, an explicit log group, and a role of its own that can write only to that log group (no managed
// policies). `bindTable` sets a table's env var and its grant together.
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { EnvName } from '../config/env.js';
import { ENV } from '../config/env.js';
import { acknowledge } from './nag.js';
import { LOCK_FILE, PROJECT_ROOT } from './project.js';
import { TrackedTable } from './tracking-tables.js';

export interface EngineFunctionProps {
  /**
   * Absolute path of the handler module. Functions with the same entry and bundling options share one
   * bundle: CDK stages an asset once per content.
   */
  readonly entry: string;
  /** The exported function; `handler` by default. */
  readonly handler?: string;
  readonly description: string;
  /** Shown in the logs (`service`); the construct id by default. */
  readonly serviceName?: string;
  /** ARM_64 by default; x86_64 where a native binary needs it (ffmpeg). */
  readonly architecture?: lambda.Architecture;
  /** ESM by default. CommonJS where a dependency must resolve from a layer (NODE_PATH). */
  readonly format?: 'esm' | 'cjs';
  readonly memorySize?: number;
  readonly timeout?: Duration;
  readonly ephemeralStorageSize?: number;
  readonly environment?: Readonly<Partial<Record<EnvName, string>>>;
  readonly layers?: lambda.ILayerVersion[];
  /** Extra esbuild arguments (e.g. `--alias:...`), externals and hooks. */
  readonly esbuildArgs?: Readonly<Record<string, string | boolean>>;
  readonly externalModules?: string[];
  readonly commandHooks?: BundlingOptions['commandHooks'];
  readonly logRetention?: logs.RetentionDays;
  readonly reservedConcurrentExecutions?: number;
}

export type TableAccess = 'r' | 'rw';

export class EngineFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: EngineFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `${props.description} (${id})`,
    });
    this.logGroup.grantWrite(this.role);
    const format = props.format ?? 'esm';
    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      ...(props.ephemeralStorageSize === undefined
        ? {}
        : { ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageSize) }),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      layers: props.layers,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: LOCK_FILE,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        [ENV.SERVICE_NAME]: props.serviceName ?? id,
        ...props.environment,
      },
      bundling: {
        format: format === 'esm' ? OutputFormat.ESM : OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // ESM bundles of CommonJS dependencies still call require() for Node built-ins.
        ...(format === 'esm'
          ? {
              mainFields: ['module', 'main'],
              banner:
                "import { createRequire as __dagCreateRequire } from 'node:module'; const require = __dagCreateRequire(import.meta.url);",
            }
          : {}),
        ...(props.esbuildArgs ? { esbuildArgs: { ...props.esbuildArgs } } : {}),
        ...(props.externalModules ? { externalModules: ['@aws-sdk/*', ...props.externalModules] } : {}),
        ...(props.commandHooks ? { commandHooks: props.commandHooks } : {}),
      },
    });
    acknowledge(
      this.function,
      'AwsSolutions-L1',
      'Engine Lambdas run nodejs22.x on purpose: the project targets Node 22 (package engines, bundles built for node22).',
    );
  }

  get functionName(): string {
    return this.function.functionName;
  }

  get functionArn(): string {
    return this.function.functionArn;
  }

  /** Sets `variable` to the table's name and grants read (`r`) or read-write (`rw`) data access. */
  bindTable(table: ITableV2, variable: EnvName, access: TableAccess): this {
    this.function.addEnvironment(variable, table.tableName);
    grantTableData(this.role, table, access);
    return this;
  }

  addEnvironment(variable: EnvName, value: string): this {
    this.function.addEnvironment(variable, value);
    return this;
  }
}

const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
];
const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
];
const INDEX_ACTIONS = ['dynamodb:Query', 'dynamodb:Scan'];

/**
 * Data access to one table and its indexes, each index named: TableV2's own grants cover
 * `<table>/index/*`, a wildcard resource this stack has no need for. The tables are encrypted with the
 * AWS managed key, which needs no key grant.
 */
export function grantTableData(grantee: iam.IGrantable, table: ITableV2, access: TableAccess): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: access === 'rw' ? [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS] : TABLE_READ_ACTIONS,
      resources: [table.tableArn],
    }),
  );
  const indexes = indexNamesOf(table);
  if (indexes.length === 0) return;
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: INDEX_ACTIONS,
      resources: indexes.map((name) => `${table.tableArn}/index/${name}`),
    }),
  );
}

/** A TableV2 does not expose its index names; the tracking tables carry theirs. */
function indexNamesOf(table: ITableV2): readonly string[] {
  return table instanceof TrackedTable ? table.indexNames : [];
}
