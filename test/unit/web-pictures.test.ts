// The pictures of lib/web: elkjs layout of the business DAG and the execution plan, their SVG, the
// status of a box that stands for several nodes, and the trace Gantt.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { renderGantt } from '../../lib/web/gantt.js';
import { type LaidOutBox, layoutBusinessDag, layoutExecutionPlan } from '../../lib/web/graph-layout.js';
import { boxStatus, renderGraphSvg } from '../../lib/web/graph-svg.js';

function compileExample(name: string) {
  const compiled = compileWorkflowText(readFileSync(`workflows/${name}.yaml`, 'utf8'));
  expect(compiled.plan).toBeDefined();
  return compiled;
}

function overlaps(a: LaidOutBox, b: LaidOutBox): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

function inside(inner: LaidOutBox, outer: LaidOutBox): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

describe('graph layout', () => {
  it('lays out every business node once, edges between them, no two boxes on each other', async () => {
    const { dag } = compileExample('slice-transcode');
    const graph = await layoutBusinessDag(dag!);
    expect(graph.boxes.map((b) => b.nodes[0]).sort()).toEqual([...dag!.nodes.keys()].sort());
    expect(graph.edges).toHaveLength(dag!.edges.length);
    for (const [i, a] of graph.boxes.entries())
      for (const b of graph.boxes.slice(i + 1)) expect(overlaps(a, b), `${a.id} / ${b.id}`).toBe(false);
    for (const edge of graph.edges) expect(edge.points.length).toBeGreaterThanOrEqual(2);
    // Router edges carry their condition (shortened), the default edge says so.
    const labels = graph.edges.map((e) => e.label?.title);
    expect(labels).toContain("nodes.probe.durationSec > 30 and not (input.mode == 'whole')");
    expect(labels).toContain('default');
    // Top to bottom: begin above probe above done.
    const y = (node: string) => graph.boxes.find((b) => b.nodes[0] === node)!.y;
    expect(y('begin')).toBeLessThan(y('probe'));
    expect(y('probe')).toBeLessThan(y('done'));
  });

  it('nests Parallel branches and Map items in the execution plan', async () => {
    const analysis = await layoutExecutionPlan(compileExample('media-analysis').plan!);
    const parallel = analysis.boxes.find((b) => b.shape === 'state-parallel')!;
    const branches = analysis.boxes.filter((b) => b.shape === 'branch');
    expect(branches.length).toBeGreaterThanOrEqual(2);
    for (const branch of branches) expect(inside(branch, parallel)).toBe(true);
    const loudness = analysis.boxes.find((b) => b.id === 's:loudness')!;
    expect(branches.some((branch) => inside(loudness, branch))).toBe(true);

    const transcode = await layoutExecutionPlan(compileExample('slice-transcode').plan!);
    const map = transcode.boxes.find((b) => b.shape === 'map')!;
    const item = transcode.boxes.find((b) => b.shape === 'item')!;
    expect(map.nodes).toEqual(['transcode']);
    expect(inside(item, map)).toBe(true);
    // Every edge point lies inside the picture: edges of nested scopes are placed in absolute terms.
    for (const edge of [...analysis.edges, ...transcode.edges])
      for (const p of edge.points) {
        expect(p.x).toBeGreaterThanOrEqual(0);
        expect(p.y).toBeGreaterThanOrEqual(0);
      }
  });
});

describe('graph svg', () => {
  it('draws a standalone SVG whose boxes carry their nodes and statuses', async () => {
    const { dag } = compileExample('external-review');
    const svg = renderGraphSvg(await layoutBusinessDag(dag!), {
      statuses: { begin: 'SUCCEEDED', probe: 'SUCCEEDED', review: 'WAITING' },
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('<style>');
    expect(svg).toMatch(/data-nodes="review" data-status="WAITING"/);
    expect(svg).toMatch(/data-nodes="probe" data-status="SUCCEEDED"/);
    expect(svg).not.toMatch(/data-nodes="publish" data-status/);
    const ended = renderGraphSvg(await layoutBusinessDag(dag!), {
      statuses: { begin: 'SUCCEEDED' },
      ended: true,
    });
    expect(ended).toMatch(/data-nodes="publish" data-status="SKIPPED"/);
  });

  it('escapes text', async () => {
    const { dag } = compileExample('slice-transcode');
    const svg = renderGraphSvg(await layoutBusinessDag(dag!));
    expect(svg).toContain('&#39;whole&#39;');
    expect(svg).not.toContain("'whole'");
  });

  it('gives a box that stands for several nodes one status', () => {
    expect(boxStatus(['a', 'b'], { a: 'SUCCEEDED', b: 'FAILED' }, true)).toBe('FAILED');
    expect(boxStatus(['a', 'b'], { a: 'SUCCEEDED' }, false)).toBe('RUNNING');
    expect(boxStatus(['a', 'b'], { a: 'SUCCEEDED', b: 'SUCCEEDED' }, false)).toBe('SUCCEEDED');
    expect(boxStatus(['a'], { a: 'WAITING' }, false)).toBe('WAITING');
    expect(boxStatus(['a'], {}, false)).toBeUndefined();
    expect(boxStatus(['a'], {}, true)).toBe('SKIPPED');
    expect(boxStatus([], {}, true)).toBeUndefined();
  });
});

describe('gantt', () => {
  const t = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  const events = [
    {
      eventId: 'T_a',
      node: 'a',
      type: 'sync',
      status: 'SUCCEEDED',
      attempts: 2,
      startedAt: t(0),
      endedAt: t(300),
    },
    {
      eventId: 'T_p',
      node: 'p',
      type: 'parallel',
      status: 'SUCCEEDED',
      attempts: 1,
      startedAt: t(300),
      endedAt: t(600),
    },
  ];
  const trace = (
    id: string,
    eventId: string,
    attempt: number,
    from: number,
    to: number,
    status: string,
    segmentId?: string,
  ) => ({
    traceId: id,
    eventId,
    ...(segmentId ? { segmentId } : {}),
    attempt,
    resource: 'cpu',
    startedAt: t(from),
    endedAt: t(to),
    durationMs: to - from,
    status,
    ...(status === 'FAILED' ? { error: { error: 'Flaky', cause: 'attempt 1 fails' } } : {}),
  });
  const traces = [
    trace('1', 'T_a', 1, 0, 100, 'FAILED'),
    trace('2', 'T_a', 2, 150, 300, 'SUCCEEDED'),
    trace('3', 'T_p', 1, 310, 400, 'SUCCEEDED', 'T_p_0'),
    trace('4', 'T_p', 1, 310, 590, 'SUCCEEDED', 'T_p_10'),
    trace('5', 'T_p', 1, 320, 500, 'SUCCEEDED', 'T_p_2'),
  ];

  it('draws one row per node and per segment, every attempt its own bar', () => {
    const svg = renderGantt({ events, traces, width: 800 });
    const labels = [...svg.matchAll(/class="row-label [a-z]+"[^>]*>([^<]+)</g)].map((m) => m[1]);
    expect(labels).toEqual(['a', 'p', 'p #0', 'p #2', 'p #10']);
    expect(svg.match(/data-trace="/g)).toHaveLength(5);
    expect(svg).toContain('class="trace cpu FAILED"');
    expect(svg).toContain('>#2<');
    expect(svg).toContain('Flaky: attempt 1 fails');
  });

  it('sums up segments past the limit, and says when nothing ran', () => {
    const many = Array.from({ length: 12 }, (_, i) =>
      trace(`m${i}`, 'T_p', 1, 310, 320, 'SUCCEEDED', `T_p_${i}`),
    );
    expect(renderGantt({ events, traces: many, maxSegmentRows: 5 })).toContain('… 7 more segments');
    expect(renderGantt({ events: [], traces: [] })).toContain('Nothing has run yet.');
  });
});
