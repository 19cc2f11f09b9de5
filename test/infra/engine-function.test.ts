import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { EngineFunction } from '../../lib/infra/engine-function.js';
import { handlerEntry } from '../../lib/infra/project.js';
import { logicalIdOf, stackWithTables, statementsWithAction } from './support.js';

describe('EngineFunction', () => {
  const { stack, tables } = stackWithTables();
  const fn = new EngineFunction(stack, 'Tolerance', {
    entry: handlerEntry('tolerance'),
    description: 'test',
  });
  fn.bindTable(tables.tasks, ENV.TASKS_TABLE, 'r').bindTable(tables.events, ENV.EVENTS_TABLE, 'rw');
  new EngineFunction(stack, 'X86', {
    entry: handlerEntry('tolerance'),
    description: 'test',
    architecture: lambda.Architecture.X86_64,
  });
  const template = Template.fromStack(stack);
  const tasks = logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'TrackingTasks');
  const events = logicalIdOf(template, 'AWS::DynamoDB::GlobalTable', 'TrackingEvents');
  const role = logicalIdOf(template, 'AWS::IAM::Role', 'ToleranceRole');

  it('runs nodejs22.x on arm64 by default, logging JSON to its own log group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      LoggingConfig: {
        LogFormat: 'JSON',
        LogGroup: { Ref: logicalIdOf(template, 'AWS::Logs::LogGroup', 'ToleranceLogs') },
      },
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', [ENV.SERVICE_NAME]: 'Tolerance' } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  it('has a role of its own with no managed policy, allowed to write only its log group', () => {
    const roleResource = template.findResources('AWS::IAM::Role')[role]!;
    expect(roleResource.Properties.ManagedPolicyArns).toBeUndefined();
    const logWrites = statementsWithAction(template, 'logs:PutLogEvents');
    expect(logWrites.map((s) => s.Resource)).toContainEqual({
      'Fn::GetAtt': [logicalIdOf(template, 'AWS::Logs::LogGroup', 'ToleranceLogs'), 'Arn'],
    });
  });

  it('bindTable sets the variable and grants read or read-write on that table and its named indexes', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { [ENV.TASKS_TABLE]: { Ref: tasks }, [ENV.EVENTS_TABLE]: { Ref: events } } },
    });
    const writes = statementsWithAction(template, 'dynamodb:PutItem');
    expect(writes.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [events, 'Arn'] }]);
    const reads = statementsWithAction(template, 'dynamodb:GetItem').map((s) => s.Resource);
    expect(reads).toContainEqual({ 'Fn::GetAtt': [tasks, 'Arn'] });
    const indexQueries = statementsWithAction(template, 'dynamodb:Query').filter((s) =>
      JSON.stringify(s.Resource).includes('/index/'),
    );
    expect(indexQueries.map((s) => s.Resource)).toEqual([
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tasks, 'Arn'] }, '/index/byWorkflow']] },
    ]);
  });
});
