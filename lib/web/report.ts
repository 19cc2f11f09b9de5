// `dag run --report out.html`: one self-contained HTML file (no script, no external resource) with the
// business DAG and the execution plan coloured by the task's statuses, and the trace Gantt.
import type { ExecutionPlan } from '../compiler/plan-types.js';
import type { TaskResult } from '../local/engine.js';
import { formatDuration, GANTT_CSS, renderGantt } from './gantt.js';
import { layoutBusinessDag, layoutExecutionPlan } from './graph-layout.js';
import { escapeXml, renderGraphSvg } from './graph-svg.js';
import { PAGE_CSS } from './page-style.js';

export async function renderTaskReport(plan: ExecutionPlan, result: TaskResult): Promise<string> {
  const statuses = Object.fromEntries(result.events.map((e) => [e.node, e.status]));
  const progress: Record<string, { done: number; total: number }> = {};
  for (const segment of result.segments) {
    const node = result.events.find((e) => e.eventId === segment.eventId)?.node;
    if (node === undefined) continue;
    const known = progress[node] ?? { done: 0, total: 0 };
    progress[node] = {
      done: known.done + (segment.status === 'SUCCEEDED' || segment.status === 'FAILED' ? 1 : 0),
      total: known.total + 1,
    };
  }
  const options = { statuses, progress, ended: true };
  const [business, execution] = await Promise.all([layoutBusinessDag(plan.dag), layoutExecutionPlan(plan)]);
  const workflow = plan.dag.workflow;
  const ended = result.events.reduce((max, e) => (e.endedAt && e.endedAt > max ? e.endedAt : max), '');
  const rows = [...result.events]
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
    .map(
      (e) =>
        `<tr><td>${escapeXml(e.node)}</td><td>${escapeXml(e.type)}</td><td><span class="badge ${e.status}">${e.status}</span></td><td class="num">${e.attempts}</td><td>${escapeXml(e.startedAt)}</td><td class="num">${e.endedAt ? formatDuration(Date.parse(e.endedAt) - Date.parse(e.startedAt)) : ''}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeXml(`${workflow.name} ${result.taskId} ${result.status}`)}</title>
<style>${PAGE_CSS}${GANTT_CSS}</style>
</head>
<body class="report">
<header><h1>${escapeXml(workflow.name)} <span class="badge ${result.status}">${result.status}</span></h1>
<p class="muted">task ${escapeXml(result.taskId)} · ${formatDuration(result.stats.durationMs)} · ${result.stats.stateTransitions} state transitions · ${result.traces.length} traces${ended ? ` · ended ${escapeXml(ended)}` : ''}</p>
${workflow.description ? `<p>${escapeXml(workflow.description)}</p>` : ''}
${result.error ? `<p class="error"><b>${escapeXml(result.error.error)}</b>: ${escapeXml(result.error.cause)}</p>` : ''}
</header>
<section class="pictures">
<figure><figcaption>Business DAG</figcaption>${renderGraphSvg(business, { ...options, idPrefix: 'report-business' })}</figure>
<figure><figcaption>Execution plan</figcaption>${renderGraphSvg(execution, { ...options, idPrefix: 'report-plan' })}</figure>
</section>
<section><h2>Traces</h2>${renderGantt({ events: result.events, traces: result.traces, segments: result.segments, width: 1000 })}</section>
<section><h2>Events</h2><table><thead><tr><th>node</th><th>type</th><th>status</th><th>attempts</th><th>started</th><th>took</th></tr></thead><tbody>${rows}</tbody></table></section>
<section><h2>Output</h2><pre>${escapeXml(JSON.stringify(result.output ?? null, null, 2).slice(0, 100_000))}</pre></section>
</body>
</html>
`;
}
