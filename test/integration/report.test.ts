// `dag run --report out.html`: one self-contained HTML file with the DAG coloured by status and the
// trace Gantt; through the engine, and through the real `dag` bin.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { EmbeddedEngine } from '../../lib/local/engine.js';
import { renderTaskReport } from '../../lib/web/report.js';

const RETRIED = `name: retried
nodes:
  begin: { type: start, next: double }
  double:
    type: parallel
    items: $.input.items
    node: { type: sync, operator: test/double, input: { item: $.item } }
    next: flaky
  flaky: { type: sync, operator: test/flaky, input: { failures: 1 }, retry: { maxAttempts: 2, interval: 1 }, next: done }
  done: { type: end }
`;

let engine: EmbeddedEngine;

beforeAll(async () => {
  engine = await EmbeddedEngine.start({ operatorsDir: 'test/fixtures/operators', retryDelayMs: 0 });
});

afterAll(async () => {
  await engine.close();
});

describe('task report', () => {
  it('colours the DAG and the plan by status and draws every attempt, with no script or outside resource', async () => {
    const compiled = compileWorkflowText(RETRIED, { operatorExists: (op) => engine.catalog.has(op) });
    const result = await engine.runTask(compiled, { items: [1, 2, 3] });
    expect(result.status).toBe('SUCCEEDED');
    const html = await renderTaskReport(compiled.plan!, result);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|src=|url\(http/i);
    expect(html).toContain(`task ${result.taskId}`);
    expect(html).toMatch(/data-nodes="flaky" data-status="SUCCEEDED"/);
    expect(html).toMatch(/data-nodes="double" data-status="SUCCEEDED"/);
    expect(html).toContain('class="trace cpu FAILED"');
    expect(html).toContain('>#2<');
    expect(html).toContain('3/3');
    expect(html.match(/class="dag-graph /g)).toHaveLength(2);
  });
});

describe('dag run --report', () => {
  const run = promisify(execFile);

  it('writes the report next to the usual output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dag-report-'));
    const flow = join(dir, 'flow.yaml');
    writeFileSync(flow, RETRIED);
    const out = join(dir, 'out.html');
    const { stderr } = await run('node', [
      'bin/dag.js',
      'run',
      flow,
      '--operators',
      'test/fixtures/operators',
      '--input',
      '{"items": [1, 2]}',
      '--report',
      out,
    ]);
    expect(stderr).toContain(`report: ${out}`);
    expect(readFileSync(out, 'utf8')).toContain('SUCCEEDED');
    const failed = await run('node', [
      'bin/dag.js',
      'run',
      flow,
      '--operators',
      'test/fixtures/operators',
      '--input',
      '{"items": [1]}',
      '--report',
      join(dir, 'no', 'such', 'dir', 'out.html'),
    ]).catch((error: { code: number; stderr: string }) => error);
    expect((failed as { code: number }).code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain('cannot write');
  });
});
