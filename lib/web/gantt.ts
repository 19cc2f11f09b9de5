// A task's timeline as an SVG Gantt chart: one row per business node that ran (its event's span drawn
// light, its traces solid), one row per segment under a parallel node; every attempt is its own bar, so
// retries show as bars side by side, failed ones red. Pure string building with no Node.js imports:
// the report of `dag run --report` and the web view's browser bundle both use it.
import { escapeXml } from './graph-svg.js';

export interface GanttEvent {
  readonly eventId: string;
  readonly node: string;
  readonly type: string;
  readonly status: string;
  readonly attempts: number;
  readonly startedAt: string;
  readonly endedAt?: string;
}

export interface GanttTrace {
  readonly traceId: string;
  readonly eventId: string;
  readonly segmentId?: string;
  readonly attempt: number;
  readonly resource: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationMs: number;
  readonly status: string;
  readonly error?: { readonly error: string; readonly cause: string };
}

export interface GanttSegment {
  readonly segmentId: string;
  readonly eventId: string;
  readonly order: number;
  readonly status: string;
  readonly attempts: number;
}

export interface GanttInput {
  readonly events: readonly GanttEvent[];
  readonly traces: readonly GanttTrace[];
  readonly segments?: readonly GanttSegment[];
  /** Where spans still open end (a running task): now, by default. */
  readonly now?: number;
  /** Width of the whole chart in pixels. */
  readonly width?: number;
  /** Segment rows drawn per parallel node; the rest are summed up in one line. */
  readonly maxSegmentRows?: number;
  readonly idPrefix?: string;
}

export const GANTT_CSS = `
.dag-gantt { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.dag-gantt .row-label { font-size: 11.5px; fill: #18181b; }
.dag-gantt .row-label.segment { font-size: 10.5px; fill: #52525b; }
.dag-gantt .row-label.more { font-style: italic; fill: #71717a; }
.dag-gantt .row-bg { fill: #fafafa; }
.dag-gantt .grid { stroke: #e4e4e7; stroke-width: 1; }
.dag-gantt .tick { font-size: 10px; fill: #71717a; }
.dag-gantt .span { fill: #e4e4e7; }
.dag-gantt .span.RUNNING { fill: #bfdbfe; }
.dag-gantt .span.WAITING { fill: #fde68a; }
.dag-gantt .span.SUCCEEDED { fill: #d1fae5; }
.dag-gantt .span.FAILED { fill: #fecaca; }
.dag-gantt .trace { fill: #16a34a; }
.dag-gantt .trace.gpu { fill: #7c3aed; }
.dag-gantt .trace.FAILED { fill: #dc2626; }
.dag-gantt .attempt { font-size: 9px; fill: #18181b; }
.dag-gantt .legend { font-size: 10.5px; fill: #3f3f46; }
.dag-gantt .empty { font-size: 12px; fill: #71717a; }
`;

const LABEL_WIDTH = 180;
const ROW_HEIGHT = 20;
const TOP = 34;
const RIGHT_PAD = 16;

interface Row {
  readonly label: string;
  readonly kind: 'node' | 'segment' | 'more';
  readonly span?: { from: number; to: number; status: string };
  readonly traces: readonly GanttTrace[];
}

export function renderGantt(input: GanttInput): string {
  const width = input.width ?? 960;
  const now = input.now ?? Date.now();
  const rows = ganttRows(input, now);
  const times = rows.flatMap((row) => [
    ...(row.span ? [row.span.from, row.span.to] : []),
    ...row.traces.flatMap((t) => [Date.parse(t.startedAt), Date.parse(t.endedAt)]),
  ]);
  const height = TOP + Math.max(rows.length, 1) * ROW_HEIGHT + 22;
  const open = `<svg xmlns="http://www.w3.org/2000/svg" class="dag-gantt" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Trace timeline"><style>${GANTT_CSS}</style>`;
  if (rows.length === 0 || times.length === 0)
    return `${open}<text class="empty" x="12" y="${TOP}">Nothing has run yet.</text></svg>`;

  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const span = Math.max(t1 - t0, 1);
  const plotWidth = width - LABEL_WIDTH - RIGHT_PAD;
  const xOf = (t: number) => LABEL_WIDTH + ((t - t0) / span) * plotWidth;
  const parts = [open, legend(width)];

  const step = tickStep(span);
  for (let t = 0; t <= span + 1e-9; t += step) {
    const x = round(xOf(t0 + t));
    parts.push(
      `<line class="grid" x1="${x}" y1="${TOP - 4}" x2="${x}" y2="${height - 20}"/>`,
      `<text class="tick" x="${x}" y="${height - 6}" text-anchor="middle">${formatDuration(t)}</text>`,
    );
  }
  rows.forEach((row, i) => {
    const y = TOP + i * ROW_HEIGHT;
    if (i % 2 === 0)
      parts.push(`<rect class="row-bg" x="0" y="${y}" width="${width}" height="${ROW_HEIGHT}"/>`);
    const indent = row.kind === 'node' ? 8 : 22;
    parts.push(
      `<text class="row-label ${row.kind}" x="${indent}" y="${y + 14}">${escapeXml(truncate(row.label, row.kind === 'node' ? 26 : 24))}</text>`,
    );
    if (row.span) {
      const x = xOf(row.span.from);
      const w = Math.max(xOf(row.span.to) - x, 2);
      parts.push(
        `<rect class="span ${row.span.status}" x="${round(x)}" y="${y + 3}" width="${round(w)}" height="${ROW_HEIGHT - 6}" rx="2"><title>${escapeXml(`${row.label}: ${row.span.status}, ${formatDuration(row.span.to - row.span.from)}`)}</title></rect>`,
      );
    }
    for (const trace of row.traces) {
      const from = Date.parse(trace.startedAt);
      const x = xOf(from);
      const w = Math.max(xOf(Date.parse(trace.endedAt)) - x, 2);
      const tip = `${row.label} attempt ${trace.attempt} (${trace.resource}): ${trace.status}, ${formatDuration(trace.durationMs)}${trace.error ? ` — ${trace.error.error}: ${trace.error.cause}` : ''}`;
      parts.push(
        `<rect class="trace ${trace.resource} ${trace.status}" x="${round(x)}" y="${y + 6}" width="${round(w)}" height="${ROW_HEIGHT - 12}" rx="1.5" data-trace="${escapeXml(trace.traceId)}"><title>${escapeXml(tip)}</title></rect>`,
      );
      if (trace.attempt > 1 || trace.status === 'FAILED')
        parts.push(`<text class="attempt" x="${round(x + w + 2)}" y="${y + 13}">#${trace.attempt}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

function ganttRows(input: GanttInput, now: number): Row[] {
  const maxSegments = input.maxSegmentRows ?? 40;
  const tracesByEvent = new Map<string, GanttTrace[]>();
  for (const trace of input.traces)
    tracesByEvent.set(trace.eventId, [...(tracesByEvent.get(trace.eventId) ?? []), trace]);
  const segmentsByEvent = new Map<string, GanttSegment[]>();
  for (const segment of input.segments ?? [])
    segmentsByEvent.set(segment.eventId, [...(segmentsByEvent.get(segment.eventId) ?? []), segment]);
  const events = [...input.events].sort(
    (a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || a.node.localeCompare(b.node),
  );
  const rows: Row[] = [];
  for (const event of events) {
    const traces = tracesByEvent.get(event.eventId) ?? [];
    const from = Date.parse(event.startedAt);
    const to = event.endedAt ? Date.parse(event.endedAt) : now;
    rows.push({
      label: event.node,
      kind: 'node',
      span: { from, to: Math.max(to, from), status: event.status },
      traces: traces.filter((t) => t.segmentId === undefined),
    });
    const bySegment = new Map<string, GanttTrace[]>();
    for (const trace of traces)
      if (trace.segmentId !== undefined)
        bySegment.set(trace.segmentId, [...(bySegment.get(trace.segmentId) ?? []), trace]);
    const segmentIds = new Set([
      ...bySegment.keys(),
      ...(segmentsByEvent.get(event.eventId) ?? []).map((s) => s.segmentId),
    ]);
    const ordered = [...segmentIds].sort((a, b) => orderOf(a) - orderOf(b));
    for (const segmentId of ordered.slice(0, maxSegments)) {
      const segmentTraces = bySegment.get(segmentId) ?? [];
      const segment = segmentsByEvent.get(event.eventId)?.find((s) => s.segmentId === segmentId);
      const waiting = segment && segmentTraces.length === 0 && segment.status !== 'RUNNING';
      rows.push({
        label: `${event.node} #${orderOf(segmentId)}`,
        kind: 'segment',
        ...(waiting ? { span: { from, to: Math.max(to, from), status: segment.status } } : {}),
        traces: segmentTraces,
      });
    }
    if (ordered.length > maxSegments)
      rows.push({ label: `… ${ordered.length - maxSegments} more segments`, kind: 'more', traces: [] });
  }
  return rows;
}

function orderOf(segmentId: string): number {
  return Number(segmentId.slice(segmentId.lastIndexOf('_') + 1));
}

function legend(width: number): string {
  const items: [string, string][] = [
    ['span SUCCEEDED', 'node span'],
    ['span WAITING', 'waiting for a callback'],
    ['trace', 'cpu attempt'],
    ['trace gpu', 'gpu attempt'],
    ['trace FAILED', 'failed attempt'],
  ];
  let x = Math.max(8, width - 560);
  const parts: string[] = [];
  for (const [cls, text] of items) {
    parts.push(
      `<rect class="${cls}" x="${x}" y="9" width="14" height="9" rx="1.5"/><text class="legend" x="${x + 18}" y="17">${text}</text>`,
    );
    x += 26 + text.length * 5.6;
  }
  return parts.join('');
}

/** A round step (1, 2 or 5 times a power of ten, in ms) that gives about eight ticks. */
function tickStep(spanMs: number): number {
  const rough = Math.max(spanMs / 8, 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  for (const m of [1, 2, 5, 10]) if (m * power >= rough) return m * power;
  return 10 * power;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 1))} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
