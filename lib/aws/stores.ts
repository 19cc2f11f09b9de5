// The tracking store, workflow registry and deployments of a Lambda, over one DynamoDB client, with the
// table names its environment binds (lib/config/env.ts).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tableNamesFromEnv } from '../config/env.js';
import { TaskInputChecker } from '../runtime/task-input.js';
import { createTrackingDocumentClient, DynamoTrackingStore } from '../tracking/dynamo-store.js';
import type { TableLogicalName, TableNames } from '../tracking/tables.js';
import { DynamoWorkflowRegistry } from '../tracking/workflow-registry.js';
import type { TaskServiceDeps } from './task-service.js';
import { DynamoWorkflowDeployments } from './workflow-deployments.js';

export interface TrackingStores {
  readonly documentClient: DynamoDBDocumentClient;
  readonly tableNames: TableNames;
  readonly tracking: DynamoTrackingStore;
}

export interface WorkflowStores {
  readonly registry: DynamoWorkflowRegistry;
  readonly deployments: DynamoWorkflowDeployments;
}

/** For a function bound to `tables`; reading another table's name throws MissingEnvError. */
export function trackingFromEnv(
  tables: readonly TableLogicalName[],
  client: DynamoDBClient = new DynamoDBClient({}),
): TrackingStores {
  const documentClient = createTrackingDocumentClient(client);
  const tableNames = tableNamesFromEnv(tables);
  return { documentClient, tableNames, tracking: new DynamoTrackingStore({ documentClient, tableNames }) };
}

/** Needs the `workflows` table among the bound ones. */
export function workflowsFrom(stores: TrackingStores): WorkflowStores {
  const registry = new DynamoWorkflowRegistry(stores.documentClient, stores.tableNames.workflows);
  return {
    registry,
    deployments: new DynamoWorkflowDeployments(stores.documentClient, stores.tableNames.workflows, registry),
  };
}

/** What submitting a task needs (the submit API and S3 uploads): the tasks, idempotency and workflows tables. */
export function taskServiceFromEnv(): TaskServiceDeps {
  const stores = trackingFromEnv(['tasks', 'idempotency', 'workflows']);
  return {
    store: stores.tracking,
    deployments: workflowsFrom(stores).deployments,
    sfn: new SFNClient({}),
    inputs: new TaskInputChecker(),
  };
}
