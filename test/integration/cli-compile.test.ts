import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateAsl } from '../support/asl.js';
import { BROKEN_WORKFLOW, dag, tempDir, tempFile } from '../support/cli.js';

const BROKEN = BROKEN_WORKFLOW;

/** A router that params decide at compile time. */
const BY_PARAMS = `name: by-params
params:
  hd: false
nodes:
  begin: { type: start, next: pick }
  pick:
    type: router
    routes:
      - when: params.hd
        next: hd
    default: sd
  hd: { type: sync, operator: media/hd, next: done }
  sd: { type: sync, operator: media/sd, next: done }
  done: { type: end }
`;

// Each run of the bin starts tsx and loads every command (seconds on a busy machine): runs are few,
// usage errors are checked together, and the time limit is generous.
const SLOW = { timeout: 180_000 };

describe('dag compile', SLOW, () => {
  it('prints ASL that asl-validator accepts and exits 0', async () => {
    const result = await dag('compile', 'workflows/slice-transcode.yaml');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const asl = JSON.parse(result.stdout);
    expect(asl.StartAt).toBe('probe');
    expect(validateAsl(asl)).toEqual({ isValid: true, errors: '' });
    // Two-space indentation, as the golden files.
    expect(result.stdout).toBe(`${JSON.stringify(asl, null, 2)}\n`);
  });

  it('prints one state per node with --no-optimize', async () => {
    const result = await dag(
      'compile',
      'workflows/slice-transcode.yaml',
      '--no-optimize',
      '--plan',
      'cheapest',
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).States.begin).toEqual({ Type: 'Pass', Next: 'probe' });
  });

  it('writes the file named by -o and prints nothing', async () => {
    const out = join(tempDir(), 'machine.asl.json');
    const result = await dag('compile', 'workflows/media-analysis.yaml', '-o', out);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    const written = readFileSync(out, 'utf8');
    expect(JSON.parse(written).States.probe_fork.Type).toBe('Parallel');
    expect(written).toBe(readFileSync('test/fixtures/golden/media-analysis.asl.json', 'utf8'));
  });

  it('decides a router by --param', async () => {
    const file = tempFile('by-params.yaml', BY_PARAMS);
    const sd = JSON.parse((await dag('compile', file)).stdout);
    const hd = JSON.parse((await dag('compile', file, '--param', 'hd=true')).stdout);
    expect(sd.StartAt).toBe('sd');
    expect(hd.StartAt).toBe('hd');
    expect(Object.keys(hd.States)).not.toContain('sd');
  });

  it('takes --param for $.params references the workflow does not declare', async () => {
    const file = tempFile(
      'undeclared.yaml',
      `name: undeclared
nodes:
  begin: { type: start, next: work }
  work: { type: sync, operator: media/work, input: { preset: $.params.preset }, next: done }
  done: { type: end }
`,
    );
    const without = await dag('compile', file);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain('error INVALID_PATH');
    const withParam = await dag('compile', file, '--param', 'preset=fast');
    expect(withParam.stderr).toBe('');
    expect(withParam.code).toBe(0);
  });

  it('prints file:line:col: error CODE: message, writes nothing and exits 1 for a broken workflow', async () => {
    const file = tempFile('broken.yaml', BROKEN);
    const out = join(tempDir(), 'never.json');
    const result = await dag('compile', file, '-o', out);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toBe(
      `${file}:4:52: error UNKNOWN_NODE: Node 'work' names unknown next node 'dnoe'. Did you mean 'done'?`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('exits 2 on usage and I/O errors', async () => {
    const slice = 'workflows/slice-transcode.yaml';
    const results = await Promise.all([
      dag('compile'),
      dag('compile', 'no/such/file.yaml'),
      dag('compile', slice, '--plan', 'slowest'),
      dag('compile', slice, 'workflows/media-analysis.yaml'),
      dag('compile', slice, '-o', join(tempDir(), 'no/dir/x.json')),
    ]);
    expect(
      results.map((r) => r.code),
      results.map((r) => r.stderr).join('\n'),
    ).toEqual([2, 2, 2, 2, 2]);
    expect(results[2]!.stderr).toContain("--plan takes fastest or cheapest, got 'slowest'");
    expect(results[3]!.stderr).toContain('compile takes one workflow FILE');
    expect(results[4]!.stderr).toContain('cannot write');
  });
});

describe('dag plan', SLOW, () => {
  it('prints the business node -> state map with --format json', async () => {
    const result = await dag('plan', 'workflows/slice-transcode.yaml', '--format', 'json');
    expect(result.code).toBe(0);
    const plan = JSON.parse(result.stdout);
    expect(plan.workflow).toBe('slice-transcode');
    expect(plan.optimized).toBe(true);
    const statesOf = Object.fromEntries(
      plan.businessNodes.map((b: { name: string; states: string[] }) => [b.name, b.states]),
    );
    expect(statesOf).toMatchObject({
      begin: ['probe'],
      probe: ['probe'],
      route: ['route'],
      transcode: ['transcode', 'transcode_item'],
      whole: ['whole'],
      // The end node is folded into the callback state before it (the fold-end pass).
      notify: ['notify'],
      done: ['notify'],
    });
    expect(plan.states.find((s: { name: string }) => s.name === 'transcode_item')).toMatchObject({
      kind: 'item',
      scope: '/transcode',
      nodes: ['transcode'],
    });
  });

  it('lists decided routers and pruned nodes in the map', async () => {
    const file = tempFile('by-params.yaml', BY_PARAMS);
    const plan = JSON.parse((await dag('plan', file, '--format', 'json', '--param', 'hd=true')).stdout);
    expect(plan.decidedRouters).toEqual([{ router: 'pick', next: 'hd' }]);
    expect(plan.pruned).toEqual([{ node: 'sd', reason: 'branch-not-taken' }]);
  });

  it('lists every pass with what it changed with --explain', async () => {
    const result = await dag('plan', 'workflows/media-analysis.yaml', '--explain');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('business DAG');
    expect(result.stdout).toContain('execution plan');
    expect(result.stdout).toContain('probe_fork: Parallel (2 branches)');
    expect(result.stdout).toContain('makespan 2.6 s (critical path 2.6 s)');
    expect(result.stdout).toContain("fork 'probe' to join 'report': makespan 0.6 s (critical path 0.6 s)");
    for (const pass of ['prune-unreachable', 'prune-decided-routers', 'drop-start'])
      expect(result.stdout).toContain(pass);
    expect(result.stdout).toContain("start 'begin' is StartAt 'probe'");
  });

  it('draws the business DAG and the plan with --format mermaid', async () => {
    const result = await dag('plan', 'workflows/media-analysis.yaml', '--format', 'mermaid');
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('flowchart')).toBe(true);
    expect(result.stdout).toContain('subgraph business["business DAG"]');
    expect(result.stdout).toContain('subgraph s_probe_fork[');
  });

  it('exits 1 for a broken workflow and 2 for a usage error', async () => {
    const results = await Promise.all([
      dag('plan', tempFile('broken.yaml', BROKEN)),
      dag('plan', 'workflows/media-analysis.yaml', '--format', 'png'),
    ]);
    expect(
      results.map((r) => r.code),
      results.map((r) => r.stderr).join('\n'),
    ).toEqual([1, 2]);
  });
});

describe('dag graph', SLOW, () => {
  it('prints Graphviz DOT with --format dot', async () => {
    const result = await dag('graph', 'workflows/slice-transcode.yaml', '--format', 'dot');
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('digraph')).toBe(true);
    expect(result.stdout).toContain('"route" -> "whole" [label="default"];');
  });

  it('prints Mermaid by default', async () => {
    const result = await dag('graph', 'workflows/external-review.yaml');
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith('flowchart TD')).toBe(true);
    expect(result.stdout).toContain('n_decide -->|"nodes.review.approved"| n_publish');
  });

  it('draws svg laid out by elkjs, and exits 1 for a broken workflow', async () => {
    const file = tempFile('broken.yaml', BROKEN);
    const [svg, broken] = await Promise.all([
      dag('graph', 'workflows/slice-transcode.yaml', '--format', 'svg'),
      dag('graph', file),
    ]);
    expect(svg.code).toBe(0);
    expect(svg.stdout.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.stdout).toContain('data-nodes="transcode"');
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${file}:4:52: error UNKNOWN_NODE:`);
  });
});
