// What a deployed engine consists of, as the Lambdas see it: the names and ARNs the stack passes in
// environment variables (lib/config/env.ts), and the ResourceBindings the compiler emits them into.
import type { ResourceBindings } from '../compiler/bindings.js';
import { ENV, requireEnv, requireJsonMapEnv } from '../config/env.js';

export interface EngineDeployment {
  readonly region: string;
  readonly account: string;
  /** Compiled state machines are named `<prefix>-<workflow>`. */
  readonly stateMachinePrefix: string;
  /** operator -> the function name of its sync Task Lambda. */
  readonly operatorFunctions: Readonly<Record<string, string>>;
  /** operator -> the function name of the Lambda that runs its async work items (`via: lambda`). */
  readonly operatorWorkers: Readonly<Record<string, string>>;
  /** queue name -> queue URL: the work queues and the queues callback nodes may send to. */
  readonly queues: Readonly<Record<string, string>>;
  /** queue name -> the operator that consumes it. */
  readonly queueConsumers: Readonly<Record<string, string>>;
  readonly dispatchFunctionName: string;
  readonly scriptFunctionName: string;
  readonly notifierFunctionName: string;
  readonly toleranceFunctionName: string;
  readonly barrierFunctionName: string;
  /** Stages Distributed Maps' items in S3 and collects their ResultWriter results (map-store.ts). */
  readonly mapStoreFunctionName: string;
  /** `s3://bucket/prefix` under which Distributed Maps' ResultWriters write. */
  readonly mapResultsRoot: string;
  /** operator group -> the function that runs fused chains of that group's operators. */
  readonly chainFunctions: Readonly<Record<string, string>>;
  readonly eventBusName: string;
}

type Environment = Readonly<Record<string, string | undefined>>;

/** The deployment from the compiler Lambda's environment (the only function that needs all of it). */
export function deploymentFromEnv(env: Environment = process.env): EngineDeployment {
  return {
    region: requireRegion(env),
    account: requireEnv(ENV.ACCOUNT_ID, env),
    stateMachinePrefix: requireEnv(ENV.STATE_MACHINE_PREFIX, env),
    operatorFunctions: requireJsonMapEnv(ENV.OPERATOR_FUNCTIONS, env),
    operatorWorkers: requireJsonMapEnv(ENV.OPERATOR_WORKERS, env),
    queues: requireJsonMapEnv(ENV.WORK_QUEUES, env),
    queueConsumers: requireJsonMapEnv(ENV.QUEUE_CONSUMERS, env),
    dispatchFunctionName: requireEnv(ENV.DISPATCH_FUNCTION_NAME, env),
    scriptFunctionName: requireEnv(ENV.SCRIPT_FUNCTION_NAME, env),
    notifierFunctionName: requireEnv(ENV.NOTIFIER_FUNCTION_NAME, env),
    toleranceFunctionName: requireEnv(ENV.TOLERANCE_FUNCTION_NAME, env),
    barrierFunctionName: requireEnv(ENV.BARRIER_FUNCTION_NAME, env),
    mapStoreFunctionName: requireEnv(ENV.MAP_STORE_FUNCTION_NAME, env),
    mapResultsRoot: requireEnv(ENV.MAP_RESULTS_ROOT, env),
    chainFunctions: requireJsonMapEnv(ENV.CHAIN_FUNCTIONS, env),
    eventBusName: requireEnv(ENV.EVENT_BUS_NAME, env),
  };
}

/** Lambda sets AWS_REGION in every function. */
export function requireRegion(env: Environment = process.env): string {
  const region = env.AWS_REGION;
  if (region === undefined || region === '') throw new Error('AWS_REGION is not set: not running in Lambda?');
  return region;
}

export function functionArn(deployment: EngineDeployment, functionName: string): string {
  return `arn:aws:lambda:${deployment.region}:${deployment.account}:function:${functionName}`;
}

/** Step Functions allows 80 characters; the stack keeps prefixes short enough for any workflow name. */
export function stateMachineName(prefix: string, workflow: string): string {
  return `${prefix}-${workflow}`;
}

export function stateMachineArn(deployment: EngineDeployment, workflow: string): string {
  const name = stateMachineName(deployment.stateMachinePrefix, workflow);
  return `arn:aws:states:${deployment.region}:${deployment.account}:stateMachine:${name}`;
}

export class UnknownOperatorFunctionError extends Error {
  constructor(readonly operator: string) {
    super(`Operator '${operator}' has no Lambda in this deployment.`);
    this.name = 'UnknownOperatorFunctionError';
  }
}

/** The real ARNs compiled Task states call on this deployment. */
export function awsBindings(deployment: EngineDeployment): ResourceBindings {
  const arn = (name: string) => functionArn(deployment, name);
  return {
    operatorFunctionArn: (operator) => {
      const name = deployment.operatorFunctions[operator];
      // The validator checked every operator first (operatorExists), so this is a broken deployment.
      if (name === undefined) throw new UnknownOperatorFunctionError(operator);
      return arn(name);
    },
    dispatchFunctionArn: arn(deployment.dispatchFunctionName),
    scriptFunctionArn: arn(deployment.scriptFunctionName),
    notifierFunctionArn: arn(deployment.notifierFunctionName),
    toleranceFunctionArn: arn(deployment.toleranceFunctionName),
    barrierFunctionArn: arn(deployment.barrierFunctionName),
    mapStoreFunctionArn: arn(deployment.mapStoreFunctionName),
    mapResultsRoot: deployment.mapResultsRoot,
    chainFunctionArn: (group) => {
      const name = deployment.chainFunctions[group];
      if (name === undefined) throw new UnknownOperatorFunctionError(`${group} chain`);
      return arn(name);
    },
    eventBusName: deployment.eventBusName,
    queueUrl: (queue) =>
      deployment.queues[queue] ??
      `https://sqs.${deployment.region}.amazonaws.com/${deployment.account}/${queue}`,
  };
}
