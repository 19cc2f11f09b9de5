// The resources a compiled state machine calls. The AWS stack passes real ARNs, the embedded engine
// its own names (it binds Task states by name, never calling these), `dag compile` placeholders.
import type { OperatorGroup } from '../runtime/operator-groups.js';
import { LOCAL_OBJECTS_BUCKET } from '../storage/object-store.js';

export interface ResourceBindings {
  /** The Lambda function that runs an operator (through the operator runtime). */
  operatorFunctionArn(operator: string): string;
  /** Invoked with `.waitForTaskToken` for async nodes: parks the token, hands the work out. */
  readonly dispatchFunctionArn: string;
  /** Runs script nodes in the sandbox. */
  readonly scriptFunctionArn: string;
  /** Sends `kind: http` callback nodes. */
  readonly notifierFunctionArn: string;
  /** Checks a parallel node's tolerated failure share after its Map. */
  readonly toleranceFunctionArn: string;
  /**
   * A Distributed Map's object-store side (map-store.ts): writes its items as an object for the
   * ItemReader before it, and after it reads what its ResultWriter wrote, in item order.
   */
  readonly mapStoreFunctionArn: string;
  /**
   * `s3://bucket/prefix` under which Distributed Maps' ResultWriters write (`<prefix>/<workflow>/<node>/`).
   * The bucket `dag-objects` stands for the embedded engine's object root (LOCAL_OBJECTS_BUCKET).
   */
  readonly mapResultsRoot: string;
  /** Cross-branch barriers (`--plan fastest`): parks a wait's token, releases it when producers end. */
  readonly barrierFunctionArn: string;
  /** The Lambda that runs fused chains of sync nodes whose operators are all of this group. */
  chainFunctionArn(group: OperatorGroup): string;
  /** The engine's EventBridge bus, for `kind: eventbridge` callback nodes. */
  readonly eventBusName: string;
  /** The URL of an SQS queue named in a `kind: sqs` callback node. */
  queueUrl(queue: string): string;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Lambda function names for operators: `dag-op-` and the operator path with `/` as `-`. */
export function operatorFunctionName(operator: string): string {
  return `dag-op-${operator.replaceAll('/', '-').replaceAll('_', '-')}`.slice(0, 64);
}

export function lambdaArn(name: string, region = REGION, account = ACCOUNT): string {
  return `arn:aws:lambda:${region}:${account}:function:${name}`;
}

/** Well-formed ARNs in a documentation account, for `dag compile` (no operators needed). */
export function placeholderBindings(): ResourceBindings {
  return {
    operatorFunctionArn: (operator) => lambdaArn(operatorFunctionName(operator)),
    dispatchFunctionArn: lambdaArn('dag-dispatch'),
    scriptFunctionArn: lambdaArn('dag-script'),
    notifierFunctionArn: lambdaArn('dag-notifier'),
    toleranceFunctionArn: lambdaArn('dag-tolerance'),
    barrierFunctionArn: lambdaArn('dag-barrier'),
    mapStoreFunctionArn: lambdaArn('dag-map-store'),
    mapResultsRoot: `s3://${LOCAL_OBJECTS_BUCKET}/map-results`,
    chainFunctionArn: (group) => lambdaArn(`dag-chain-${group}`),
    eventBusName: 'dag-engine',
    queueUrl: (queue) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${queue}`,
  };
}
