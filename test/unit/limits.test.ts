import { describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';

/** `mode: null` leaves the field out (the planner chooses). */
function workflow(maxItems: number, mode: string | null = 'inline', retry = '') {
  return `name: many
input:
  type: object
  properties:
    files: { type: array, maxItems: ${maxItems} }
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel${mode === null ? '' : `\n    mode: ${mode}`}
    items: $.input.files
    node: { type: sync, operator: x/y, input: { f: $.item }${retry} }
    next: done
  done: { type: end }
`;
}

const limitWarnings = (text: string) =>
  compileWorkflowText(text).diagnostics.filter((d) => d.code === 'STEP_FUNCTIONS_LIMIT');

describe('Step Functions limits', () => {
  it('warns when an inline Map may hold more items than the execution history allows', () => {
    const [warning] = limitWarnings(workflow(10_000));
    expect(warning).toMatchObject({ severity: 'warning', node: 'each' });
    expect(warning?.message).toContain('mode: distributed');
  });

  it('counts retries against the history: fewer items fit', () => {
    expect(limitWarnings(workflow(3_000))).toHaveLength(0);
    expect(limitWarnings(workflow(3_000, 'inline', ', retry: { maxAttempts: 3 }'))).toHaveLength(1);
  });

  it('says nothing for a small declared bound or a distributed Map', () => {
    expect(limitWarnings(workflow(100))).toEqual([]);
    expect(limitWarnings(workflow(10_000, 'distributed'))).toEqual([]);
  });

  it('chooses a Distributed Map by itself when no mode is set and the items may be too many', () => {
    const many = compileWorkflowText(workflow(10_000, null));
    expect(many.diagnostics.filter((d) => d.code === 'STEP_FUNCTIONS_LIMIT')).toEqual([]);
    expect(JSON.stringify(many.asl)).toContain('"Mode":"DISTRIBUTED"');
    const changes = many.plan?.passes.find((p) => p.pass === 'choose-map-mode')?.changes ?? [];
    expect(changes).toHaveLength(2);
    expect(changes[1]).toMatch(/writes its results there/);
    // Made Distributed by the pass, it gets its results collector as `mode: distributed` does.
    expect(many.asl?.States.each_results).toMatchObject({ Parameters: { action: 'collect', node: 'each' } });
    // Items from the task input fit its 256 KiB: read by ItemsPath, not staged.
    expect(many.asl?.States.each).toMatchObject({ ItemsPath: '$.input.files', Next: 'each_results' });
    expect(many.asl?.States.each_items).toBeUndefined();
    const few = compileWorkflowText(workflow(100, null));
    expect(JSON.stringify(few.asl)).toContain('"Mode":"INLINE"');
  });
});
