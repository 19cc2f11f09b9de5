import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EngineApi } from '../../lib/infra/engine-api.js';
import { EngineFunction } from '../../lib/infra/engine-function.js';
import { handlerEntry } from '../../lib/infra/project.js';
import { logicalIdOf, PREFIX, stackWithTables, statementsWithAction } from './support.js';

describe('EngineApi', () => {
  const { stack, tables } = stackWithTables();
  const compiler = new EngineFunction(stack, 'Compiler', {
    entry: handlerEntry('compiler'),
    description: 'test',
  });
  const callback = new EngineFunction(stack, 'Callback', {
    entry: handlerEntry('callback'),
    handler: 'apiHandler',
    description: 'test',
  });
  new EngineApi(stack, 'Api', { tables, stateMachinePrefix: PREFIX, compiler, callback });
  const template = Template.fromStack(stack);
  const fn = (prefix: string) => logicalIdOf(template, 'AWS::Lambda::Function', prefix);

  /** `METHOD /path` -> the function its integration invokes. */
  function routes(): Record<string, string> {
    const resources = template.findResources('AWS::ApiGateway::Resource');
    const pathOf = (id: string | undefined): string => {
      if (id === undefined) return '';
      const resource = resources[id]!;
      const parent = resource.Properties.ParentId.Ref as string | undefined;
      return `${pathOf(parent)}/${resource.Properties.PathPart}`;
    };
    const table: Record<string, string> = {};
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      const uri = JSON.stringify(method.Properties.Integration.Uri);
      const target = /"Fn::GetAtt":\["([A-Za-z0-9]+)","Arn"\]/.exec(uri)?.[1] ?? '?';
      table[`${method.Properties.HttpMethod} ${pathOf(method.Properties.ResourceId.Ref)}`] = target;
    }
    return table;
  }

  it('serves the routes of dag-spec §9, each by its function', () => {
    expect(routes()).toEqual({
      'POST /workflows': fn('CompilerFunction'),
      'GET /workflows': fn('ApiQueryFunction'),
      'GET /workflows/{name}': fn('ApiQueryFunction'),
      'POST /workflows/{name}/tasks': fn('ApiSubmitFunction'),
      'GET /tasks/{taskId}': fn('ApiQueryFunction'),
      'GET /tasks/{taskId}/traces': fn('ApiQueryFunction'),
      'POST /tasks/{taskId}/abort': fn('ApiControlFunction'),
      'POST /tasks/{taskId}/redrive': fn('ApiControlFunction'),
      'POST /callbacks/{id}': fn('CallbackFunction'),
    });
  });

  it('authorises every method with IAM and validates every request', () => {
    const validator = logicalIdOf(template, 'AWS::ApiGateway::RequestValidator', 'ApiValidator');
    for (const method of Object.values(template.findResources('AWS::ApiGateway::Method'))) {
      expect(method.Properties.AuthorizationType).toBe('AWS_IAM');
      expect(method.Properties.RequestValidatorId).toEqual({ Ref: validator });
    }
    template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'POST',
      RequestParameters: { 'method.request.path.name': true, 'method.request.header.Idempotency-Key': false },
    });
    template.hasResourceProperties('AWS::ApiGateway::Model', {
      ContentType: 'application/json',
      Schema: Match.objectLike({ required: ['status'] }),
    });
  });

  it('logs access and errors', () => {
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ LoggingLevel: 'ERROR', MetricsEnabled: true })],
    });
  });

  it('lets submit start the compiled machines and control stop or redrive their executions', () => {
    expect(JSON.stringify(statementsWithAction(template, 'states:StartExecution')[0]!.Resource)).toContain(
      `:stateMachine:${PREFIX}-*`,
    );
    const [control] = statementsWithAction(template, 'states:RedriveExecution');
    expect(control!.Action).toEqual(['states:StopExecution', 'states:RedriveExecution']);
    expect(JSON.stringify(control!.Resource)).toContain(`:execution:${PREFIX}-*:*`);
  });
});
