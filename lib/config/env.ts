// The environment variables the AWS stack sets on its Lambdas and the handlers read: one object of
// names shared by both sides (lib/infra sets them, functions/ read them), so a rename cannot leave one
// side behind. Plain code: no aws-cdk-lib here, a Lambda bundle imports it.

import type { TableLogicalName, TableNames } from '../tracking/tables.js';

export const ENV = {
  TASKS_TABLE: 'DAG_TASKS_TABLE',
  EVENTS_TABLE: 'DAG_EVENTS_TABLE',
  SEGMENTS_TABLE: 'DAG_SEGMENTS_TABLE',
  TRACES_TABLE: 'DAG_TRACES_TABLE',
  WORKFLOWS_TABLE: 'DAG_WORKFLOWS_TABLE',
  IDEMPOTENCY_TABLE: 'DAG_IDEMPOTENCY_TABLE',
  BARRIERS_TABLE: 'DAG_BARRIERS_TABLE',
  /** The engine's EventBridge bus: callback nodes put events on it, workers answer on it. */
  EVENT_BUS_NAME: 'DAG_EVENT_BUS_NAME',
  /** JSON `{ "<queue name>": "<queue url>" }`: the engine's work queues (dag-spec §7). */
  WORK_QUEUES: 'DAG_WORK_QUEUES',
  /** JSON `{ "<queue name>": "<operator>" }`: the operator that consumes each consumed queue. */
  QUEUE_CONSUMERS: 'DAG_QUEUE_CONSUMERS',
  /** JSON `{ "<operator>": "<function name>" }`: the Lambda that runs each operator's sync Tasks. */
  OPERATOR_FUNCTIONS: 'DAG_OPERATOR_FUNCTIONS',
  /** JSON `{ "<operator>": "<function name>" }`: the Lambda that runs an operator's async work items. */
  OPERATOR_WORKERS: 'DAG_OPERATOR_WORKERS',
  DISPATCH_FUNCTION_NAME: 'DAG_DISPATCH_FUNCTION_NAME',
  SCRIPT_FUNCTION_NAME: 'DAG_SCRIPT_FUNCTION_NAME',
  NOTIFIER_FUNCTION_NAME: 'DAG_NOTIFIER_FUNCTION_NAME',
  TOLERANCE_FUNCTION_NAME: 'DAG_TOLERANCE_FUNCTION_NAME',
  BARRIER_FUNCTION_NAME: 'DAG_BARRIER_FUNCTION_NAME',
  /** The function before and after a Distributed Map that puts its items in, and reads its results from, S3. */
  MAP_STORE_FUNCTION_NAME: 'DAG_MAP_STORE_FUNCTION_NAME',
  /** `s3://bucket/prefix` where Distributed Maps' ResultWriters write. */
  MAP_RESULTS_ROOT: 'DAG_MAP_RESULTS_ROOT',
  /** JSON `{ "<operator group>": "<function name>" }`: the Lambda that runs fused chains of that group. */
  CHAIN_FUNCTIONS: 'DAG_CHAIN_FUNCTIONS',
  /** The role every compiled state machine runs with. */
  STATE_MACHINE_ROLE_ARN: 'DAG_STATE_MACHINE_ROLE_ARN',
  /** Compiled state machines are named `<prefix>-<workflow>`. */
  STATE_MACHINE_PREFIX: 'DAG_STATE_MACHINE_PREFIX',
  /** Where compiled state machines log (an ARN ending in `:*`, as Step Functions wants it). */
  STATE_MACHINE_LOG_GROUP_ARN: 'DAG_STATE_MACHINE_LOG_GROUP_ARN',
  /** The account and region the engine's resources live in (ARNs of compiled Task states). */
  ACCOUNT_ID: 'DAG_ACCOUNT_ID',
  BATCH_JOB_QUEUE_ARN: 'DAG_BATCH_JOB_QUEUE_ARN',
  BATCH_JOB_DEFINITION_ARN: 'DAG_BATCH_JOB_DEFINITION_ARN',
  /** The operator an operator Lambda (or a Batch job) runs, e.g. `media/probe`. */
  OPERATOR: 'DAG_OPERATOR',
  /** A Batch job's work item (dag-spec §7), as JSON. */
  WORK_ITEM: 'DAG_WORK_ITEM',
  /** Where operators write their outputs; the object store's own variable (lib/storage). */
  OBJECT_ROOT: 'DAG_OBJECT_ROOT',
  /** The Powertools service name of a function, as its logs show it. */
  SERVICE_NAME: 'POWERTOOLS_SERVICE_NAME',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

export class MissingEnvError extends Error {
  constructor(
    readonly variable: string,
    options?: ErrorOptions,
  ) {
    super(
      `Environment variable ${variable} is not set: this function was deployed without the resource it names.`,
      options,
    );
    this.name = 'MissingEnvError';
  }
}

export class InvalidEnvError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`Environment variable ${variable} is invalid: ${reason}`, options);
    this.name = 'InvalidEnvError';
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

/** The variable's value; throws `MissingEnvError` naming it when it is unset or empty. */
export function requireEnv(name: EnvName, env: Environment = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new MissingEnvError(name);
  return value;
}

/** A JSON object of strings, e.g. `ENV.WORK_QUEUES`. */
export function requireJsonMapEnv(name: EnvName, env: Environment = process.env): Record<string, string> {
  const text = requireEnv(name, env);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidEnvError(name, 'not JSON', { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEnvError(name, 'not a JSON object');
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw new InvalidEnvError(name, `'${key}' is not a string`);
  }
  return value as Record<string, string>;
}

/** The variable holding each tracking table's name. */
export const TABLE_ENV: Readonly<Record<TableLogicalName, EnvName>> = {
  tasks: ENV.TASKS_TABLE,
  events: ENV.EVENTS_TABLE,
  segments: ENV.SEGMENTS_TABLE,
  traces: ENV.TRACES_TABLE,
  workflows: ENV.WORKFLOWS_TABLE,
  idempotency: ENV.IDEMPOTENCY_TABLE,
  barriers: ENV.BARRIERS_TABLE,
};

/**
 * Table names for a function bound to `tables` only. Those are read now (a missing one fails the cold
 * start, naming its variable); touching any other table throws `MissingEnvError` at that moment,
 * instead of a DynamoDB call against a table the function was never granted.
 */
export function tableNamesFromEnv(
  tables: readonly TableLogicalName[],
  env: Environment = process.env,
): TableNames {
  const names = {} as Record<TableLogicalName, string>;
  for (const logical of Object.keys(TABLE_ENV) as TableLogicalName[]) {
    if (tables.includes(logical)) {
      names[logical] = requireEnv(TABLE_ENV[logical], env);
    } else {
      Object.defineProperty(names, logical, {
        enumerable: true,
        get: () => {
          throw new MissingEnvError(TABLE_ENV[logical]);
        },
      });
    }
  }
  return names;
}
