// Draws a laid-out graph (graph-layout.ts) as one standalone SVG document: its own style, so the file
// looks the same opened alone, inlined in a report, or in the web view. Every box carries
// `data-nodes` (the business nodes it stands for) and `data-status`, which the web view updates live.
// No Node.js imports: the browser bundle uses this module too.
import type { BoxShape, LaidOutBox, LaidOutEdge, LaidOutGraph } from './graph-layout.js';

/** A node's status as a picture shows it: the §5 statuses, or SKIPPED for a node that did not run. */
export type PictureStatus = 'RUNNING' | 'WAITING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';

export interface GraphPictureOptions {
  /** Prefix of the ids inside the SVG, unique per page when several pictures share one. */
  readonly idPrefix?: string;
  /** Status per business node; nodes without one have not run (yet). */
  readonly statuses?: Readonly<Record<string, string>>;
  /** Items done and in all, per parallel node. */
  readonly progress?: Readonly<Record<string, { done: number; total: number }>>;
  /** The task has ended: nodes that never ran are drawn as skipped. */
  readonly ended?: boolean;
}

export const GRAPH_CSS = `
.dag-graph { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
.dag-graph .outline { fill: #ffffff; stroke: #52525b; stroke-width: 1.3; transition: fill .25s, stroke .25s; }
.dag-graph .name { font-size: 12px; font-weight: 600; fill: #18181b; }
.dag-graph .detail { font-size: 10.5px; fill: #52525b; }
.dag-graph .container-title { font-size: 11px; font-weight: 600; fill: #3f3f46; }
.dag-graph .container-detail { font-size: 10px; fill: #71717a; }
.dag-graph .container > .outline { fill: #fafafa; stroke: #a1a1aa; stroke-dasharray: 5 3; }
.dag-graph .shape-branch > .outline { fill: #f4f4f5; stroke: #d4d4d8; stroke-dasharray: none; }
.dag-graph .shape-start .outline, .dag-graph .shape-end .outline, .dag-graph .shape-state-end .outline,
.dag-graph .shape-pass .outline { fill: #f4f4f5; }
.dag-graph .shape-router .outline, .dag-graph .shape-choice .outline { stroke: #7c3aed; }
.dag-graph .shape-async .outline { stroke: #0e7490; }
.dag-graph .shape-parallel .outline, .dag-graph .shape-map > .outline { stroke: #4338ca; }
.dag-graph .shape-callback .outline { stroke: #be185d; }
.dag-graph .shape-script .outline { stroke: #a16207; }
.dag-graph .shape-error .outline, .dag-graph .shape-item-failed .outline { stroke-dasharray: 4 3; }
.dag-graph .shape-barrier .outline { stroke: #b45309; stroke-dasharray: 2 2; }
.dag-graph .edge { fill: none; stroke: #71717a; stroke-width: 1.2; }
.dag-graph .edge.dashed { stroke-dasharray: 5 4; }
.dag-graph .edge-label { font-size: 10px; fill: #3f3f46; }
.dag-graph .edge-label-bg { fill: #ffffff; opacity: 0.9; }
.dag-graph .arrow { fill: #71717a; }
.dag-graph .pruned { opacity: 0.4; }
.dag-graph .pruned .outline { stroke-dasharray: 3 3; }
.dag-graph [data-status="RUNNING"] > .outline { fill: #dbeafe; stroke: #2563eb; stroke-width: 2.2; }
.dag-graph [data-status="WAITING"] > .outline { fill: #fef3c7; stroke: #d97706; stroke-width: 2.2; }
.dag-graph [data-status="SUCCEEDED"] > .outline { fill: #dcfce7; stroke: #16a34a; }
.dag-graph [data-status="FAILED"] > .outline { fill: #fee2e2; stroke: #dc2626; stroke-width: 2.2; }
.dag-graph [data-status="SKIPPED"] { opacity: 0.35; }
.dag-graph [data-status="RUNNING"]:not(.container) > .outline, .dag-graph [data-status="WAITING"]:not(.container) > .outline { animation: dag-pulse 1.2s ease-in-out infinite; }
@keyframes dag-pulse { 50% { stroke-opacity: 0.35; } }
.dag-graph .progress { display: none; }
.dag-graph .progress.shown { display: inline; }
.dag-graph .progress .track { fill: #e4e4e7; }
.dag-graph .progress .bar { fill: #16a34a; }
.dag-graph .progress .count { font-size: 9.5px; fill: #3f3f46; }
`;

const STATUS_PRIORITY: readonly PictureStatus[] = ['FAILED', 'RUNNING', 'WAITING'];

/** One status for a box that stands for several business nodes (a fused Task, a Parallel). */
export function boxStatus(
  nodes: readonly string[],
  statuses: Readonly<Record<string, string>>,
  ended: boolean,
): PictureStatus | undefined {
  if (nodes.length === 0) return undefined;
  const own = nodes.map((n) => statuses[n]).filter((s): s is string => s !== undefined);
  for (const status of STATUS_PRIORITY) if (own.includes(status)) return status;
  if (own.length === 0) return ended ? 'SKIPPED' : undefined;
  if (own.length === nodes.length || ended) return 'SUCCEEDED';
  return 'RUNNING'; // a fused chain part way through
}

export function renderGraphSvg(graph: LaidOutGraph, options: GraphPictureOptions = {}): string {
  const prefix = options.idPrefix ?? `dag-${graph.kind}`;
  const arrow = `${prefix}-arrow`;
  const width = Math.ceil(graph.width);
  const height = Math.ceil(graph.height);
  const containers = graph.boxes.filter((b) => b.container);
  const boxes = graph.boxes.filter((b) => !b.container);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="dag-graph dag-${graph.kind}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(graph.title)}">`,
    `<title>${escapeXml(graph.title)}</title>`,
    `<style>${GRAPH_CSS}</style>`,
    `<defs><marker id="${arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrow" d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>`,
    `<g class="containers">${containers.map((b) => containerSvg(b, options)).join('')}</g>`,
    `<g class="edges">${graph.edges.map((e) => edgeSvg(e, arrow)).join('')}</g>`,
    `<g class="boxes">${boxes.map((b) => boxSvg(b, options)).join('')}</g>`,
    '</svg>',
  ].join('\n');
}

function statusAttribute(box: LaidOutBox, options: GraphPictureOptions): string {
  if (!options.statuses) return '';
  const status = boxStatus(box.nodes, options.statuses, options.ended === true);
  return status === undefined ? '' : ` data-status="${status}"`;
}

function groupOpen(box: LaidOutBox, options: GraphPictureOptions, extraClass = ''): string {
  const classes = ['box', `shape-${box.shape}`, extraClass, box.pruned ? 'pruned' : '']
    .filter(Boolean)
    .join(' ');
  return `<g class="${classes}" data-id="${escapeXml(box.id)}" data-nodes="${escapeXml(box.nodes.join(' '))}"${statusAttribute(box, options)}><title>${escapeXml(box.title)}</title>`;
}

function containerSvg(box: LaidOutBox, options: GraphPictureOptions): string {
  const [title = '', ...details] = box.lines;
  const x = round(box.x);
  const y = round(box.y);
  return [
    groupOpen(box, options, 'container'),
    `<rect class="outline" x="${x}" y="${y}" width="${round(box.width)}" height="${round(box.height)}" rx="7"/>`,
    `<text class="container-title" x="${x + 10}" y="${y + 17}">${escapeXml(title)}`,
    details.length ? `<tspan class="container-detail" dx="8">${escapeXml(details.join(' · '))}</tspan>` : '',
    '</text></g>',
  ].join('');
}

function boxSvg(box: LaidOutBox, options: GraphPictureOptions): string {
  const parts = [groupOpen(box, options), ...outline(box.shape, box.x, box.y, box.width, box.height)];
  const cx = round(box.x + box.width / 2);
  box.lines.forEach((line, i) => {
    const y = round(box.y + 9 + 12 + i * 15);
    parts.push(
      `<text class="${i === 0 ? 'name' : 'detail'}" x="${cx}" y="${y}" text-anchor="middle">${escapeXml(line)}</text>`,
    );
  });
  if (box.progress) parts.push(progressSvg(box, options));
  parts.push('</g>');
  return parts.join('');
}

/** A thin bar along the bottom of a parallel node; the web view sets its width and count. */
function progressSvg(box: LaidOutBox, options: GraphPictureOptions): string {
  const node = box.nodes[0] ?? '';
  const known = options.progress?.[node];
  const width = box.width - 24;
  const fraction = known && known.total > 0 ? Math.min(1, known.done / known.total) : 0;
  const x = round(box.x + 12);
  const y = round(box.y + box.height - 11);
  return [
    `<g class="progress${known ? ' shown' : ''}" data-width="${round(width)}">`,
    `<rect class="track" x="${x}" y="${y}" width="${round(width)}" height="4" rx="2"/>`,
    `<rect class="bar" x="${x}" y="${y}" width="${round(width * fraction)}" height="4" rx="2"/>`,
    `<text class="count" x="${round(box.x + box.width - 6)}" y="${round(box.y + 11)}" text-anchor="end">${known ? `${known.done}/${known.total > 0 ? known.total : '?'}` : ''}</text>`,
    '</g>',
  ].join('');
}

function outline(shape: BoxShape, bx: number, by: number, w: number, h: number): string[] {
  const x = round(bx);
  const y = round(by);
  const r = (n: number) => round(n);
  switch (shape) {
    case 'start':
    case 'end':
    case 'pass':
    case 'state-end':
      return [`<rect class="outline" x="${x}" y="${y}" width="${r(w)}" height="${r(h)}" rx="${r(h / 2)}"/>`];
    case 'router':
    case 'choice': {
      const points = [
        [bx + 16, by],
        [bx + w - 16, by],
        [bx + w, by + h / 2],
        [bx + w - 16, by + h],
        [bx + 16, by + h],
        [bx, by + h / 2],
      ];
      return [`<polygon class="outline" points="${pointsText(points)}"/>`];
    }
    case 'async': {
      const points = [
        [bx + 9, by],
        [bx + w, by],
        [bx + w - 9, by + h],
        [bx, by + h],
      ];
      return [`<polygon class="outline" points="${pointsText(points)}"/>`];
    }
    case 'parallel':
      return [
        `<rect class="outline" x="${x + 5}" y="${y - 4}" width="${r(w - 5)}" height="${r(h)}" rx="4"/>`,
        `<rect class="outline" x="${x}" y="${y}" width="${r(w - 5)}" height="${r(h)}" rx="4"/>`,
      ];
    case 'callback': {
      const points = [
        [bx, by],
        [bx + w - 12, by],
        [bx + w, by + h / 2],
        [bx + w - 12, by + h],
        [bx, by + h],
      ];
      return [`<polygon class="outline" points="${pointsText(points)}"/>`];
    }
    case 'script':
      return [`<rect class="outline" x="${x}" y="${y}" width="${r(w)}" height="${r(h)}" rx="11"/>`];
    default:
      return [`<rect class="outline" x="${x}" y="${y}" width="${r(w)}" height="${r(h)}" rx="4"/>`];
  }
}

function edgeSvg(edge: LaidOutEdge, arrow: string): string {
  if (edge.points.length < 2) return '';
  const d = edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${round(p.x)} ${round(p.y)}`).join(' ');
  const parts = [`<path class="edge${edge.dashed ? ' dashed' : ''}" d="${d}" marker-end="url(#${arrow})"/>`];
  if (edge.label) {
    const width = edge.label.text.length * 5.8 + 6;
    parts.push(
      `<g class="edge-label-group"><title>${escapeXml(edge.label.title)}</title>`,
      `<rect class="edge-label-bg" x="${round(edge.label.x)}" y="${round(edge.label.y)}" width="${round(width)}" height="14" rx="3"/>`,
      `<text class="edge-label" x="${round(edge.label.x + 3)}" y="${round(edge.label.y + 10.5)}">${escapeXml(edge.label.text)}</text></g>`,
    );
  }
  return parts.join('');
}

function pointsText(points: readonly number[][]): string {
  return points.map(([px, py]) => `${round(px!)},${round(py!)}`).join(' ');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
