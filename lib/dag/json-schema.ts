import { z } from 'zod';
import { WorkflowSchema } from './schema.js';

export const WORKFLOW_SCHEMA_ID = 'https://media-dag.dev/schema/workflow.schema.json';

/** The JSON Schema of workflow files as committed in schema/workflow.schema.json. */
export function workflowJsonSchemaText(): string {
  // `io: 'input'`: what an author may write, so fields with defaults stay optional.
  const schema = z.toJSONSchema(WorkflowSchema, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, $id: WORKFLOW_SCHEMA_ID }, null, 2)}\n`;
}
