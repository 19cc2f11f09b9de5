import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TrackingTables } from '../../lib/infra/tracking-tables.js';
import { TRACKING_TABLES } from '../../lib/tracking/tables.js';
import { bareStack } from './support.js';

describe('TrackingTables', () => {
  const stack = bareStack();
  new TrackingTables(stack, 'Tracking');
  const template = Template.fromStack(stack);

  it('creates one table per definition in lib/tracking/tables.ts', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', Object.keys(TRACKING_TABLES).length);
  });

  it('is on-demand, with point-in-time recovery and KMS encryption, and kept on stack deletion', () => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable');
    for (const table of Object.values(tables)) {
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.UpdateReplacePolicy).toBe('Retain');
      expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true, SSEType: 'KMS' });
      expect(table.Properties.Replicas[0].PointInTimeRecoverySpecification).toEqual({
        PointInTimeRecoveryEnabled: true,
      });
    }
  });

  it('keys each table and index as the tracking code expects', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'taskId', KeyType: 'HASH' },
        { AttributeName: 'traceId', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byEvent',
          KeySchema: [
            { AttributeName: 'eventId', KeyType: 'HASH' },
            { AttributeName: 'traceId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
    });
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [
        { AttributeName: 'name', KeyType: 'HASH' },
        { AttributeName: 'version', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'version', AttributeType: 'N' }]),
    });
  });

  it('expires idempotency keys by TTL, and no other table', () => {
    const withTtl = Object.values(template.findResources('AWS::DynamoDB::GlobalTable')).filter(
      (table) => table.Properties.TimeToLiveSpecification !== undefined,
    );
    expect(withTtl).toHaveLength(1);
    expect(withTtl[0]!.Properties.KeySchema).toEqual([{ AttributeName: 'scope', KeyType: 'HASH' }]);
    expect(withTtl[0]!.Properties.TimeToLiveSpecification).toEqual({
      AttributeName: 'expiresAt',
      Enabled: true,
    });
  });

  it('knows each table index for grants that name them', () => {
    const other = bareStack();
    const tables = new TrackingTables(other, 'Tracking', { removalPolicy: RemovalPolicy.DESTROY });
    expect(tables.tasks.indexNames).toEqual(['byWorkflow']);
    expect(tables.events.indexNames).toEqual([]);
  });
});
