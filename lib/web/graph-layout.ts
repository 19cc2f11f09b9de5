// Pictures of a workflow: the business DAG and the execution plan as boxes and edges, laid out by elkjs
// (layered, top to bottom; the plan's Parallel branches and Map items as nested boxes). The result is
// plain positioned data that graph-svg.ts draws; `dag graph --format svg`, `dag run --report` and the
// web view of `dag serve` all use it.
import { createRequire } from 'node:module';
import type { ELK, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { type PlanJsonState, planToJson } from '../compiler/explain.js';
import type { ExecutionPlan } from '../compiler/plan-types.js';
import type { WorkflowNode } from '../dag/schema.js';
import type { ValidatedDag } from '../dag/validate.js';

/** How a box is drawn: a business node type, or a kind of plan state. */
export type BoxShape =
  | WorkflowNode['type']
  | 'task'
  | 'choice'
  | 'map'
  | 'branch'
  | 'pass'
  | 'error'
  | 'tolerance'
  | 'barrier'
  | 'item'
  | 'item-failed'
  | 'state-parallel'
  | 'state-end';

export interface LaidOutBox {
  readonly id: string;
  readonly shape: BoxShape;
  /** First line bold (the name), the others smaller. */
  readonly lines: readonly string[];
  /** Business nodes whose status colours this box (a plan state: the nodes it runs). */
  readonly nodes: readonly string[];
  /** Absolute position and size. */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** A container (Parallel, branch, Map): drawn behind its children, title at its top. */
  readonly container: boolean;
  /** A parallel business node or a Map: room for a segment progress bar. */
  readonly progress: boolean;
  /** Never runs (unreachable, or on a branch `params` ruled out). */
  readonly pruned: boolean;
  /** The whole text, for a tooltip. */
  readonly title: string;
}

export interface LaidOutEdge {
  readonly id: string;
  /** Absolute points from source to target. */
  readonly points: readonly { x: number; y: number }[];
  readonly label?: { readonly text: string; readonly title: string; readonly x: number; readonly y: number };
  readonly dashed: boolean;
}

export interface LaidOutGraph {
  readonly kind: 'business' | 'plan';
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly boxes: readonly LaidOutBox[];
  readonly edges: readonly LaidOutEdge[];
}

// Text metrics of the SVG's font (12 px and 10.5 px system sans-serif), measured roughly: the layout
// only needs boxes that fit their text, not exact widths.
const NAME_CHAR_PX = 7.4;
const DETAIL_CHAR_PX = 6.2;
const LABEL_CHAR_PX = 5.8;
const LINE_PX = 15;
const PAD_X = 14;
const PAD_Y = 9;
const PROGRESS_PX = 12;
const MAX_LABEL_CHARS = 36;
const CONTAINER_PADDING = '[top=30,left=12,bottom=12,right=12]';

const ROOT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.layered.spacing.nodeNodeBetweenLayers': '34',
  'elk.spacing.nodeNode': '22',
  'elk.spacing.edgeLabel': '4',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.padding': '[top=12,left=12,bottom=12,right=12]',
} as const;

// elkjs is CommonJS whose types declare an ES default export; loading it with require keeps the two in
// agreement under NodeNext. The bundled build runs the layout in this thread (no worker).
const ElkLayout = createRequire(import.meta.url)('elkjs/lib/elk.bundled.js') as new () => ELK;
let elk: ELK | undefined;

/** The business DAG as the author wrote it; unreachable nodes are kept, marked pruned. */
export async function layoutBusinessDag(
  dag: ValidatedDag,
  pruned: Iterable<string> = dag.unreachable,
): Promise<LaidOutGraph> {
  const prunedSet = new Set(pruned);
  const boxes = new Map<string, BoxSpec>();
  for (const [name, node] of dag.nodes) {
    const lines = [name, ...businessDetail(node)];
    boxes.set(`n:${name}`, {
      shape: node.type,
      lines,
      nodes: [name],
      container: false,
      progress: node.type === 'parallel',
      pruned: prunedSet.has(name),
      title: `${name} (${node.type})`,
    });
  }
  const edges: EdgeSpec[] = dag.edges.map((edge, i) => {
    const from = dag.nodes.get(edge.from);
    let label: string | undefined;
    if (edge.kind === 'route' && from?.type === 'router') label = from.routes[edge.index ?? 0]?.when;
    else if (edge.kind === 'default') label = 'default';
    else if (edge.kind === 'onError') label = 'onError';
    return {
      id: `e${i}`,
      source: `n:${edge.from}`,
      target: `n:${edge.to}`,
      container: 'root',
      ...(label === undefined ? {} : { label }),
      dashed: edge.kind === 'onError',
    };
  });
  const children: TreeNode[] = [...boxes.keys()].map((id) => ({ id, children: [] }));
  return layout('business', dag.workflow.name, boxes, children, edges);
}

/** The execution plan: states, Parallel branches and Map items nested, Catch edges dashed. */
export async function layoutExecutionPlan(plan: ExecutionPlan): Promise<LaidOutGraph> {
  const json = planToJson(plan);
  const boxes = new Map<string, BoxSpec>();
  const childrenOf = new Map<string, string[]>([['root', []]]);
  const containerOfScope = (scope: string) => (scope === '/' ? 'root' : `g:${scope}`);
  const add = (parent: string, id: string, spec: BoxSpec) => {
    boxes.set(id, spec);
    if (!childrenOf.has(parent)) childrenOf.set(parent, []);
    childrenOf.get(parent)!.push(id);
  };
  const tolerant = (node: string) => {
    const n = plan.dag.nodes.get(node);
    return n?.type === 'parallel' && (n.toleratedFailurePercentage ?? 0) > 0;
  };
  for (const state of json.states) {
    const parent = containerOfScope(state.scope);
    const base = state.scope === '/' ? '' : state.scope;
    const spec = planStateBox(plan, state);
    add(parent, `s:${state.name}`, spec);
    if (state.kind === 'parallel')
      (state.branches ?? []).forEach((_, i) => {
        const branch = `g:${base}/${state.name}/${i + 1}`;
        add(`s:${state.name}`, branch, {
          shape: 'branch',
          lines: [`branch ${i + 1}`],
          nodes: [],
          container: true,
          progress: false,
          pruned: false,
          title: `branch ${i + 1} of ${state.name}`,
        });
      });
    if (state.kind === 'map')
      childrenOf.set(`g:${base}/${state.name}`, childrenOf.get(`g:${base}/${state.name}`) ?? []);
  }
  // A Map's item states live in the scope `<scope>/<map>`: make that scope the Map box itself.
  for (const state of json.states) {
    if (state.kind !== 'map') continue;
    const base = state.scope === '/' ? '' : state.scope;
    const items = childrenOf.get(`g:${base}/${state.name}`) ?? [];
    childrenOf.delete(`g:${base}/${state.name}`);
    childrenOf.set(`s:${state.name}`, [...(childrenOf.get(`s:${state.name}`) ?? []), ...items]);
  }
  const containerIdOf = new Map<string, string>();
  for (const [container, kids] of childrenOf) for (const kid of kids) containerIdOf.set(kid, container);

  const edges: EdgeSpec[] = [];
  const edge = (from: string, to: string, label?: string, dashed = false) => {
    const source = `s:${from}`;
    edges.push({
      id: `e${edges.length}`,
      source,
      target: `s:${to}`,
      container: containerIdOf.get(source) ?? 'root',
      ...(label === undefined ? {} : { label }),
      dashed,
    });
  };
  for (const state of json.states) {
    if (state.next !== undefined) edge(state.name, state.next);
    for (const route of state.routes ?? []) edge(state.name, route.next, route.when);
    if (state.default !== undefined) edge(state.name, state.default, 'default');
    if (state.catch !== undefined) edge(state.name, state.catch, 'catch', true);
    if (state.kind === 'item-failed') {
      const map = json.states.find(
        (s) => s.kind === 'map' && s.nodes[0] === state.nodes[0] && tolerant(s.nodes[0]!),
      );
      if (map?.itemState) edge(map.itemState, state.name, 'failed', true);
    }
  }
  const tree = (id: string): TreeNode => ({
    id,
    children: (childrenOf.get(id) ?? []).map(tree),
  });
  const title = `${plan.dag.workflow.name} — execution plan${plan.optimized ? '' : ' (not optimised)'}`;
  return layout('plan', title, boxes, tree('root').children, edges);
}

interface BoxSpec {
  readonly shape: BoxShape;
  readonly lines: readonly string[];
  readonly nodes: readonly string[];
  readonly container: boolean;
  readonly progress: boolean;
  readonly pruned: boolean;
  readonly title: string;
}

interface EdgeSpec {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  /** The box whose children both ends are (or `root`): ELK lays the edge out in that box. */
  readonly container: string;
  readonly label?: string;
  readonly dashed: boolean;
}

interface TreeNode {
  readonly id: string;
  readonly children: readonly TreeNode[];
}

async function layout(
  kind: LaidOutGraph['kind'],
  title: string,
  boxes: ReadonlyMap<string, BoxSpec>,
  roots: readonly TreeNode[],
  edges: readonly EdgeSpec[],
): Promise<LaidOutGraph> {
  const edgesIn = new Map<string, ElkExtendedEdge[]>();
  for (const e of edges) {
    const text = e.label === undefined ? undefined : shorten(e.label);
    const elkEdge: ElkExtendedEdge = {
      id: e.id,
      sources: [e.source],
      targets: [e.target],
      ...(text === undefined
        ? {}
        : { labels: [{ text, width: text.length * LABEL_CHAR_PX + 6, height: 14 }] }),
    };
    edgesIn.set(e.container, [...(edgesIn.get(e.container) ?? []), elkEdge]);
  }
  const toElk = (node: TreeNode): ElkNode => {
    const spec = boxes.get(node.id)!;
    if (spec.container)
      return {
        id: node.id,
        layoutOptions: { 'elk.padding': CONTAINER_PADDING },
        labels: [
          {
            text: spec.lines.join(' · '),
            width: textWidth(spec.lines.join(' · '), NAME_CHAR_PX),
            height: 16,
          },
        ],
        children: node.children.map(toElk),
        edges: edgesIn.get(node.id) ?? [],
      };
    const { width, height } = boxSize(spec);
    return { id: node.id, width, height };
  };
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: ROOT_OPTIONS,
    children: roots.map(toElk),
    edges: edgesIn.get('root') ?? [],
  };
  elk ??= new ElkLayout();
  const laid = await elk.layout(graph);

  const absolute = new Map<string, { x: number; y: number }>([['root', { x: 0, y: 0 }]]);
  const out: LaidOutBox[] = [];
  const walk = (node: ElkNode, offset: { x: number; y: number }) => {
    for (const child of node.children ?? []) {
      const at = { x: offset.x + (child.x ?? 0), y: offset.y + (child.y ?? 0) };
      absolute.set(child.id, at);
      const spec = boxes.get(child.id)!;
      out.push({
        id: child.id,
        shape: spec.shape,
        lines: spec.lines,
        nodes: spec.nodes,
        x: at.x,
        y: at.y,
        width: child.width ?? 0,
        height: child.height ?? 0,
        container: spec.container,
        progress: spec.progress,
        pruned: spec.pruned,
        title: spec.title,
      });
      walk(child, at);
    }
  };
  walk(laid, { x: 0, y: 0 });

  const specOf = new Map(edges.map((e) => [e.id, e]));
  const laidEdges: LaidOutEdge[] = [];
  const collect = (node: ElkNode) => {
    for (const e of node.edges ?? []) {
      // Edge coordinates are relative to the box ELK names as its container.
      const container = (e as ElkExtendedEdge & { container?: string }).container ?? node.id;
      const origin = absolute.get(container) ?? { x: 0, y: 0 };
      const points = (e.sections ?? []).flatMap((section) => [
        section.startPoint,
        ...(section.bendPoints ?? []),
        section.endPoint,
      ]);
      const spec = specOf.get(e.id)!;
      const label = e.labels?.[0];
      laidEdges.push({
        id: e.id,
        points: points.map((p) => ({ x: p.x + origin.x, y: p.y + origin.y })),
        dashed: spec.dashed,
        ...(label?.text === undefined || spec.label === undefined
          ? {}
          : {
              label: {
                text: label.text,
                title: spec.label,
                x: (label.x ?? 0) + origin.x,
                y: (label.y ?? 0) + origin.y,
              },
            }),
      });
    }
    for (const child of node.children ?? []) collect(child);
  };
  collect(laid);
  return { kind, title, width: laid.width ?? 0, height: laid.height ?? 0, boxes: out, edges: laidEdges };
}

function boxSize(spec: BoxSpec): { width: number; height: number } {
  const [name = '', ...details] = spec.lines;
  const textPx = Math.max(textWidth(name, NAME_CHAR_PX), ...details.map((d) => textWidth(d, DETAIL_CHAR_PX)));
  // Diamonds and slanted shapes need more room beside their text.
  const extra = spec.shape === 'router' || spec.shape === 'choice' ? 36 : spec.shape === 'async' ? 18 : 0;
  return {
    width: Math.max(90, Math.ceil(textPx + 2 * PAD_X + extra)),
    height: spec.lines.length * LINE_PX + 2 * PAD_Y + (spec.progress ? PROGRESS_PX : 0),
  };
}

function textWidth(text: string, charPx: number): number {
  return text.length * charPx;
}

function shorten(text: string): string {
  return text.length <= MAX_LABEL_CHARS ? text : `${text.slice(0, MAX_LABEL_CHARS - 1)}…`;
}

/** The lines under a business node's name: what it runs. */
function businessDetail(node: WorkflowNode): string[] {
  switch (node.type) {
    case 'sync':
      return [node.operator];
    case 'async':
      return [
        `async via ${node.via ?? 'lambda'}`,
        ...(node.operator === undefined ? ['external work'] : [node.operator]),
      ];
    case 'script':
      return [`script ${node.language}`];
    case 'parallel': {
      const inner = node.node;
      const what =
        inner.type === 'script'
          ? `script ${inner.language}`
          : inner.type === 'async'
            ? `async ${inner.operator ?? 'external'}`
            : inner.operator;
      return [`each item: ${what}`];
    }
    case 'callback':
      return [`callback ${node.target.kind}`];
    case 'router':
      return [`router (${node.routes.length + 1} ways)`];
    case 'end':
      return node.status === 'failed' ? [`end: fail${node.error === undefined ? '' : ` ${node.error}`}`] : [];
    case 'start':
      return [];
  }
}

function planStateBox(plan: ExecutionPlan, state: PlanJsonState): BoxSpec {
  const runs = state.nodes;
  const about =
    runs.length > 1 || (runs.length === 1 && runs[0] !== state.name) ? [`runs ${runs.join(', ')}`] : [];
  const base = { nodes: runs, pruned: false, progress: false, container: false };
  switch (state.kind) {
    case 'parallel':
      return {
        ...base,
        shape: 'state-parallel',
        lines: [state.name, `Parallel (${state.branches?.length ?? 0} branches)`],
        container: true,
        title: `${state.name}: Parallel`,
      };
    case 'map':
      return {
        ...base,
        shape: 'map',
        lines: [state.name, `Map (${state.mode ?? 'inline'})`],
        container: true,
        title: `${state.name}: Map (${state.mode ?? 'inline'}) over the items of ${runs[0] ?? state.name}`,
      };
    case 'item':
      return {
        ...base,
        shape: 'item',
        lines: [state.name, 'Task per item'],
        title: `${state.name}: one item`,
      };
    case 'item-failed':
      return {
        ...base,
        shape: 'item-failed',
        lines: [state.name, 'Pass'],
        title: `${state.name}: a failed item`,
      };
    case 'choice':
      return { ...base, shape: 'choice', lines: [state.name, 'Choice'], title: `${state.name}: Choice` };
    case 'end': {
      const node = plan.dag.nodes.get(runs[0] ?? '');
      const type =
        node?.type === 'end' && node.status === 'failed'
          ? 'Fail'
          : node?.type === 'end' && node.output !== undefined && typeof node.output !== 'string'
            ? 'Pass (output)'
            : 'Succeed';
      return { ...base, shape: 'state-end', lines: [state.name, type], title: `${state.name}: ${type}` };
    }
    case 'pass':
      return { ...base, shape: 'pass', lines: [state.name, 'Pass'], title: `${state.name}: Pass` };
    case 'error':
      return {
        ...base,
        shape: 'error',
        lines: [state.name, 'Pass (error)'],
        title: `${state.name}: shapes the error of ${runs.join(', ')}`,
      };
    case 'tolerance':
      return {
        ...base,
        shape: 'tolerance',
        lines: [state.name, 'Task (tolerance)'],
        title: `${state.name}: checks the failed share of ${runs.join(', ')}`,
      };
    case 'map-items':
      return {
        ...base,
        shape: 'tolerance',
        lines: [state.name, 'Task (items)'],
        title: `${state.name}: writes the items of ${runs.join(', ')} to the object store for the Map's ItemReader`,
      };
    case 'map-results':
      return {
        ...base,
        shape: 'tolerance',
        lines: [state.name, 'Task (results)'],
        title: `${state.name}: reads the results of ${runs.join(', ')} from the object store, in item order`,
      };
    case 'barrier-wait':
      return {
        ...base,
        shape: 'barrier',
        lines: [state.name, `waits for ${(state.producers ?? []).join(', ')}`],
        title: `${state.name}: barrier, waits until ${(state.producers ?? []).join(', ')} finished in another branch`,
      };
    case 'barrier-release':
      return {
        ...base,
        shape: 'barrier',
        lines: [state.name, `releases ${(state.consumers ?? []).join(', ')}`],
        title: `${state.name}: barrier, tells ${(state.consumers ?? []).join(', ')} that ${state.producer ?? ''} finished`,
      };
    case 'task':
      return {
        ...base,
        shape: 'task',
        lines: [state.name, 'Task', ...about],
        title: `${state.name}: Task${about.length ? ` (${about[0]})` : ''}`,
      };
  }
}
