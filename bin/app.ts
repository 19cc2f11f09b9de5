// The CDK app: the engine stack, checked by cdk-nag's AwsSolutions rules (a validation plugin:
// synthesis fails on any finding not acknowledged with a reason). Environment-agnostic, so it
// synthesises offline without credentials; `cdk deploy` takes the account and region of the CLI's
// profile. Run by the CDK CLI (cdk.json) or directly (`npm run synth`, into cdk.out).
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EngineStack } from '../lib/infra/engine-stack.js';
import { PROJECT_ROOT } from '../lib/infra/project.js';

const app = new App({ outdir: process.env.CDK_OUTDIR ?? join(PROJECT_ROOT, 'cdk.out') });
new EngineStack(app, app.node.tryGetContext('stackName') ?? 'MediaDag', {
  description: 'media-dag: a serverless DAG engine for cloud media processing',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
app.synth();
