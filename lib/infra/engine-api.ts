// The HTTP API of dag-spec §9 on API Gateway (REST), IAM-authorised on every method (callers sign
// with SigV4: awscurl, the AWS SDKs), with request validation (path parameters, the optional
// Idempotency-Key header, the shape of a callback body), access logs and execution logs.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV } from '../config/env.js';
import { EngineFunction } from './engine-function.js';
import { acknowledge, acknowledgeManagedPolicies } from './nag.js';
import { handlerEntry } from './project.js';
import {
  acknowledgeCompiledExecutions,
  acknowledgeCompiledMachines,
  executionArnPattern,
  stateMachineArnPattern,
} from './state-machine-arns.js';
import type { TrackingTables } from './tracking-tables.js';

export interface EngineApiProps {
  readonly tables: TrackingTables;
  readonly stateMachinePrefix: string;
  /** `POST /workflows`. */
  readonly compiler: EngineFunction;
  /** `POST /callbacks/{id}`. */
  readonly callback: EngineFunction;
}

export class EngineApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly submit: EngineFunction;
  readonly query: EngineFunction;
  readonly control: EngineFunction;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: EngineApiProps) {
    super(scope, id);
    const { tables, stateMachinePrefix: prefix } = props;

    this.submit = new EngineFunction(this, 'Submit', {
      entry: handlerEntry('submit'),
      description: 'POST /workflows/{name}/tasks',
      serviceName: 'submit',
    });
    this.submit
      .bindTable(tables.tasks, ENV.TASKS_TABLE, 'rw')
      .bindTable(tables.idempotency, ENV.IDEMPOTENCY_TABLE, 'rw')
      .bindTable(tables.workflows, ENV.WORKFLOWS_TABLE, 'r');
    this.submit.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StartExecution'],
        resources: [stateMachineArnPattern(this, prefix)],
      }),
    );
    acknowledgeCompiledMachines(this.submit.role, prefix);

    this.query = new EngineFunction(this, 'Query', {
      entry: handlerEntry('query'),
      description: 'GET /workflows, /workflows/{name}, /tasks/{taskId}, /tasks/{taskId}/traces',
      serviceName: 'query',
    });
    this.query
      .bindTable(tables.tasks, ENV.TASKS_TABLE, 'r')
      .bindTable(tables.events, ENV.EVENTS_TABLE, 'r')
      .bindTable(tables.segments, ENV.SEGMENTS_TABLE, 'r')
      .bindTable(tables.traces, ENV.TRACES_TABLE, 'r')
      .bindTable(tables.workflows, ENV.WORKFLOWS_TABLE, 'r');

    this.control = new EngineFunction(this, 'Control', {
      entry: handlerEntry('control'),
      description: 'POST /tasks/{taskId}/abort and /redrive',
      serviceName: 'control',
    });
    this.control
      .bindTable(tables.tasks, ENV.TASKS_TABLE, 'rw')
      .bindTable(tables.workflows, ENV.WORKFLOWS_TABLE, 'r');
    this.control.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['states:StopExecution', 'states:RedriveExecution'],
        resources: [executionArnPattern(this, prefix)],
      }),
    );
    acknowledgeCompiledExecutions(this.control.role, prefix);

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'The DAG engine (dag-spec §9), IAM-authorised',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: 'v1',
        accessLogDestination: new apigateway.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        loggingLevel: apigateway.MethodLoggingLevel.ERROR,
        metricsEnabled: true,
        throttlingRateLimit: 200,
        throttlingBurstLimit: 400,
      },
      defaultMethodOptions: { authorizationType: apigateway.AuthorizationType.IAM },
    });
    const validator = new apigateway.RequestValidator(this, 'Validator', {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const callbackModel = this.api.addModel('Callback', {
      contentType: 'application/json',
      schema: {
        schema: apigateway.JsonSchemaVersion.DRAFT4,
        type: apigateway.JsonSchemaType.OBJECT,
        required: ['status'],
        properties: {
          id: { type: apigateway.JsonSchemaType.STRING },
          attempt: { type: apigateway.JsonSchemaType.INTEGER, minimum: 1 },
          status: { type: apigateway.JsonSchemaType.STRING, enum: ['SUCCEEDED', 'FAILED', 'HEARTBEAT'] },
        },
      },
    });

    const integrate = (fn: EngineFunction) =>
      new apigateway.LambdaIntegration(fn.function, { timeout: Duration.seconds(29) });
    const options = (parameters: Record<string, boolean>, extra: Partial<apigateway.MethodOptions> = {}) => ({
      requestValidator: validator,
      requestParameters: parameters,
      ...extra,
    });
    const path = (name: string) => ({ [`method.request.path.${name}`]: true });

    const workflows = this.api.root.addResource('workflows');
    workflows.addMethod('POST', integrate(props.compiler), options({}));
    workflows.addMethod('GET', integrate(this.query), options({}));
    const workflow = workflows.addResource('{name}');
    workflow.addMethod(
      'GET',
      integrate(this.query),
      options({ ...path('name'), 'method.request.querystring.version': false }),
    );
    workflow
      .addResource('tasks')
      .addMethod(
        'POST',
        integrate(this.submit),
        options({ ...path('name'), 'method.request.header.Idempotency-Key': false }),
      );

    const task = this.api.root.addResource('tasks').addResource('{taskId}');
    task.addMethod('GET', integrate(this.query), options(path('taskId')));
    task.addResource('traces').addMethod('GET', integrate(this.query), options(path('taskId')));
    task.addResource('abort').addMethod('POST', integrate(this.control), options(path('taskId')));
    task.addResource('redrive').addMethod('POST', integrate(this.control), options(path('taskId')));

    this.api.root
      .addResource('callbacks')
      .addResource('{id}')
      .addMethod(
        'POST',
        integrate(props.callback),
        options(path('id'), { requestModels: { 'application/json': callbackModel } }),
      );

    acknowledge(
      this.api,
      'AwsSolutions-APIG3',
      'Every method is IAM-authorised (SigV4): callers are AWS principals, and API Gateway throttles the stage.',
    );
    acknowledge(
      this.api,
      'AwsSolutions-COG4',
      'The API is authorised with IAM (SigV4), not Cognito user pools: its callers are services and workers.',
    );
    acknowledgeManagedPolicies(
      this.api,
      ['service-role/AmazonAPIGatewayPushToCloudWatchLogs'],
      "API Gateway's account-level CloudWatch role (execution logs) uses this managed policy.",
    );
  }

  get url(): string {
    return this.api.url;
  }
}
