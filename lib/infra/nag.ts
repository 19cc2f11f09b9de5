// Acknowledging cdk-nag findings (cdk-nag 3: CDK's `Validations.of(x).acknowledge`). A finding of a
// rule that reports several per resource (IAM4, IAM5) is acknowledged by its exact id, e.g.
// `AwsSolutions-IAM5[Resource::<MediaBucket123.Arn>/objects/*]`: these helpers build those ids from
// the very tokens the statements use, so an acknowledgement names one resource, never a rule at large.
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** A whole rule on `scope` and everything under it. */
export function acknowledge(scope: IConstruct, ruleId: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: ruleId, reason });
}

/** IAM5 findings for wildcard resources: each of `resources` as written in a statement. */
export function acknowledgeWildcardResources(
  scope: IConstruct,
  resources: readonly string[],
  reason: string,
): void {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    const finding = `Resource::${flattenReference(stack.resolve(resource))}`;
    Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

/** IAM4 findings for AWS managed policies, by name (`service-role/AWSLambdaBasicExecutionRole`). */
export function acknowledgeManagedPolicies(
  scope: IConstruct,
  policies: readonly string[],
  reason: string,
): void {
  for (const policy of policies) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`,
      reason,
    });
  }
}

/**
 * A resolved CloudFormation value as cdk-nag writes it in finding ids: `Fn::Join` joined, `Ref` as
 * `<Id>`, `Fn::GetAtt` as `<Id.Attribute>`.
 */
export function flattenReference(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (value !== null && typeof value === 'object') {
    const node = value as Record<string, unknown>;
    if (Array.isArray(node['Fn::Join'])) {
      const [delimiter, items] = node['Fn::Join'] as [string, unknown[]];
      return items.map(flattenReference).join(delimiter);
    }
    if (node['Fn::Sub'] !== undefined) return flattenReference(node['Fn::Sub']);
    if (Array.isArray(node['Fn::GetAtt'])) {
      const [resource, attribute] = node['Fn::GetAtt'] as [unknown, unknown];
      return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
    }
    if (node['Fn::ImportValue'] !== undefined) return flattenReference(node['Fn::ImportValue']);
    if (node.Ref !== undefined) return `<${flattenReference(node.Ref)}>`;
  }
  return JSON.stringify(value);
}
