// Writes schema/workflow.schema.json from the zod schema, so editors complete and check workflow files.
// test/unit/schema-file.test.ts fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { workflowJsonSchemaText } from '../lib/dag/json-schema.js';

const target = new URL('../schema/workflow.schema.json', import.meta.url);
writeFileSync(target, workflowJsonSchemaText());
console.log(`wrote ${target.pathname}`);
