// Grants spelled out action by action where the CDK's own grant methods use wildcard actions
// (`s3:GetObject*`, `s3:List*`): no IAM action of this stack contains `*`. Object keys are not known in
// advance, so the object ARNs under a prefix are wildcards: acknowledged here, one finding each.
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledgeWildcardResources } from './nag.js';

/** Read (and HEAD) objects under `prefix`, any version. */
export function grantObjectRead(bucket: s3.IBucket, role: iam.Role, prefix = ''): void {
  const objects = bucket.arnForObjects(`${prefix}*`);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: [objects] }),
  );
  acknowledgeWildcardResources(
    role,
    [objects],
    `Reads the objects of the engine's media bucket${prefix ? ` under ${prefix}` : ''}: sources and outputs whose keys are not known in advance.`,
  );
}

/** Write and delete objects under `prefix` (a retried attempt replaces its own outputs). */
export function grantObjectWrite(bucket: s3.IBucket, role: iam.Role, prefix: string): void {
  const objects = bucket.arnForObjects(`${prefix}*`);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      resources: [objects],
    }),
  );
  acknowledgeWildcardResources(
    role,
    [objects],
    `Writes outputs under ${prefix} of the engine's media bucket, named by task, node and segment at run time.`,
  );
}

/**
 * Invoke the functions themselves (unqualified ARNs, as compiled Task states and the dispatch function
 * call them); `IFunction.grantInvoke` would add `<arn>:*` (every version and alias) as well.
 */
export function grantInvokeUnqualified(
  role: iam.IGrantable,
  functions: readonly { functionArn: string }[],
): void {
  if (functions.length === 0) return;
  role.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['lambda:InvokeFunction'],
      resources: functions.map((fn) => fn.functionArn),
    }),
  );
}
