import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BROKEN_WORKFLOW, dag, tempFile } from '../support/cli.js';

const BROKEN = BROKEN_WORKFLOW;

describe('dag validate', () => {
  it('says the examples are valid and exits 0', async () => {
    const result = await dag(
      'validate',
      'workflows/slice-transcode.yaml',
      'workflows/media-analysis.yaml',
      'workflows/external-review.yaml',
      'workflows/moderate-notify.yaml',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('workflows/slice-transcode.yaml: valid');
  });

  it('prints file:line:col: error CODE: message and exits 1', async () => {
    const file = tempFile('broken.yaml', BROKEN);
    const result = await dag('validate', file);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `${file}:4:52: error UNKNOWN_NODE: Node 'work' names unknown next node 'dnoe'. Did you mean 'done'?`,
    );
  });

  it('prints the JSON shape of dag-spec §8 with --json', async () => {
    const file = tempFile('broken.yaml', BROKEN);
    const result = await dag('validate', file, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      valid: false,
      diagnostics: [
        {
          code: 'UNKNOWN_NODE',
          severity: 'error',
          message: "Node 'work' names unknown next node 'dnoe'. Did you mean 'done'?",
          node: 'work',
          line: 4,
          column: 52,
        },
      ],
    });
  });

  it('checks operators with --operators', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dag-ops-'));
    const result = await dag('validate', 'workflows/slice-transcode.yaml', '--json', '--operators', dir);
    expect(result.code).toBe(1);
    const codes = JSON.parse(result.stdout).diagnostics.map((d: { code: string }) => d.code);
    expect(new Set(codes)).toEqual(new Set(['UNKNOWN_OPERATOR']));
  });

  it('exits 2 on a missing file or a usage error', async () => {
    expect((await dag('validate', 'no/such/file.yaml')).code).toBe(2);
    expect((await dag('validate')).code).toBe(2);
    expect((await dag('validate', '--bogus', 'x.yaml')).code).toBe(2);
    expect((await dag('frobnicate')).code).toBe(2);
  });
});
