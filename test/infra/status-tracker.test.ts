import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { StatusTracker } from '../../lib/infra/status-tracker.js';
import { logicalIdOf, PREFIX, stackWithTables, statementsWithAction } from './support.js';

describe('StatusTracker', () => {
  const { stack, tables } = stackWithTables();
  new StatusTracker(stack, 'Status', { tables, stateMachinePrefix: PREFIX });
  const template = Template.fromStack(stack);

  it("sends status changes of the engine's machines, and no others, to the status function", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [{ prefix: Match.anyValue() }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalIdOf(template, 'AWS::Lambda::Function', 'StatusFunction'), 'Arn'] },
        }),
      ],
    });
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0]!;
    expect(JSON.stringify(rule.Properties.EventPattern.detail.stateMachineArn)).toContain(
      `:stateMachine:${PREFIX}-"`,
    );
  });

  it('may read the history of their executions, and write tasks, events and segments', () => {
    const [history] = statementsWithAction(template, 'states:GetExecutionHistory');
    expect(JSON.stringify(history!.Resource)).toContain(`:execution:${PREFIX}-*:*`);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.TASKS_TABLE]: Match.anyValue(),
          [ENV.EVENTS_TABLE]: Match.anyValue(),
          [ENV.SEGMENTS_TABLE]: Match.anyValue(),
          [ENV.WORKFLOWS_TABLE]: Match.anyValue(),
        }),
      },
    });
  });
});
