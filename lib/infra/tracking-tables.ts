// The tracking tables (dag-spec §5) and the workflows and idempotency tables, from the one definition
// the tracking code uses (lib/tracking/tables.ts): on-demand, point-in-time recovery, encrypted with
// the AWS managed key, TTL where the table defines one, and kept when the stack is deleted.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  type KeyAttribute,
  type TableDefinition,
  type TableLogicalName,
  TRACKING_TABLES,
} from '../tracking/tables.js';

export interface TrackingTablesProps {
  /** RETAIN by default: tracking data outlives the stack. */
  readonly removalPolicy?: RemovalPolicy;
}

/** A TableV2 that knows its global secondary indexes, so grants can name each one. */
export class TrackedTable extends dynamodb.TableV2 {
  readonly indexNames: readonly string[];

  constructor(scope: Construct, id: string, props: dynamodb.TablePropsV2) {
    super(scope, id, props);
    this.indexNames = (props.globalSecondaryIndexes ?? []).map((index) => index.indexName);
  }
}

export class TrackingTables extends Construct {
  readonly tables: Readonly<Record<TableLogicalName, TrackedTable>>;

  constructor(scope: Construct, id: string, props: TrackingTablesProps = {}) {
    super(scope, id);
    const tables = {} as Record<TableLogicalName, TrackedTable>;
    for (const definition of Object.values(TRACKING_TABLES)) {
      tables[definition.logicalName] = new TrackedTable(
        this,
        pascalCase(definition.logicalName),
        tableProps(definition, props.removalPolicy ?? RemovalPolicy.RETAIN),
      );
    }
    this.tables = tables;
  }

  get tasks(): TrackedTable {
    return this.tables.tasks;
  }
  get events(): TrackedTable {
    return this.tables.events;
  }
  get segments(): TrackedTable {
    return this.tables.segments;
  }
  get traces(): TrackedTable {
    return this.tables.traces;
  }
  get workflows(): TrackedTable {
    return this.tables.workflows;
  }
  get idempotency(): TrackedTable {
    return this.tables.idempotency;
  }
  get barriers(): TrackedTable {
    return this.tables.barriers;
  }
}

/** TableV2 props for one plain table definition. Physical names are left to CloudFormation. */
export function tableProps(definition: TableDefinition, removalPolicy: RemovalPolicy): dynamodb.TablePropsV2 {
  return {
    partitionKey: attribute(definition.partitionKey),
    ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
    billing: dynamodb.Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
    ...(definition.ttlAttribute ? { timeToLiveAttribute: definition.ttlAttribute } : {}),
    globalSecondaryIndexes: definition.globalIndexes.map((index) => ({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
      projectionType: dynamodb.ProjectionType.ALL,
    })),
    removalPolicy,
  };
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'N' ? dynamodb.AttributeType.NUMBER : dynamodb.AttributeType.STRING,
  };
}

function pascalCase(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
