// Compiled state machines are created at run time by the compiler Lambda, named `<prefix>-<workflow>`:
// IAM statements about them name that prefix, the narrowest resource a deploy-time policy can name.
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { acknowledgeWildcardResources } from './nag.js';

/** Every compiled state machine, its versions and aliases: `...:stateMachine:<prefix>-*`. */
export function stateMachineArnPattern(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: `${prefix}-*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** What every compiled state machine's ARN starts with (an EventBridge `prefix` match). */
export function stateMachineArnPrefix(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: `${prefix}-`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Every execution of a compiled state machine: `...:execution:<prefix>-*:*`. */
export function executionArnPattern(scope: Construct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: 'states',
    resource: 'execution',
    resourceName: `${prefix}-*:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

const COMPILED_MACHINES_REASON =
  'State machines are compiled and created at run time by the compiler Lambda, named <prefix>-<workflow>: the statement names that prefix, not every machine of the account.';

/** `scope` may act on every compiled machine (and its versions and aliases). */
export function acknowledgeCompiledMachines(scope: Construct, prefix: string): void {
  acknowledgeWildcardResources(scope, [stateMachineArnPattern(scope, prefix)], COMPILED_MACHINES_REASON);
}

/** `scope` may act on every execution of a compiled machine. */
export function acknowledgeCompiledExecutions(scope: Construct, prefix: string): void {
  acknowledgeWildcardResources(scope, [executionArnPattern(scope, prefix)], COMPILED_MACHINES_REASON);
}
