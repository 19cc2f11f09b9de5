import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { workflowJsonSchemaText } from '../../lib/dag/json-schema.js';

describe('schema/workflow.schema.json', () => {
  it('is up to date with the zod schema (run `npm run schema` to refresh it)', () => {
    expect(readFileSync('schema/workflow.schema.json', 'utf8')).toBe(workflowJsonSchemaText());
  });

  it('describes all eight node types', () => {
    const text = workflowJsonSchemaText();
    for (const type of ['start', 'end', 'router', 'sync', 'async', 'parallel', 'callback', 'script']) {
      expect(text).toContain(`"const": "${type}"`);
    }
  });
});
