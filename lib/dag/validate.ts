import type { z } from 'zod';
import { fieldText, templateParameters } from '../compiler/templates.js';
import { checkScriptSyntax } from '../runtime/script.js';
import { conditionPaths, parseCondition } from './condition.js';
import type { ConditionExpr, ConditionPath } from './condition-ast.js';
import { type Diagnostic, DiagnosticCode, type Severity } from './diagnostics.js';
import {
  findCycles,
  immediatePostDominators,
  nearestCommonPostDominator,
  postDominatorDepths,
  reachableFrom,
  reachableWithin,
  reachesInOrder,
  reverseAdjacency,
  topologicalOrder,
  VIRTUAL_EXIT,
} from './graph.js';
import { type ParsedSource, type PathSegment, parseWorkflowSource, type SourceLocator } from './parse.js';
import { collectReferences, parseReference } from './reference.js';
import {
  type AsyncNode,
  type ItemNode,
  isOperatorNode,
  NODE_NAME_PATTERN,
  NODE_TYPES,
  NodeSchemas,
  type NodeType,
  WORKFLOW_NAME_PATTERN,
  type Workflow,
  WorkflowHeaderSchema,
  type WorkflowNode,
} from './schema.js';
import { closestMatch, didYouMean, Suggestions } from './suggest.js';

/** How an edge leaves its node: `next` (a list is a fork), a router's route or default, or `onError`. */
export type EdgeKind = 'next' | 'route' | 'default' | 'onError';

export interface Edge {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  /** The route's index for `route` edges, the list index for forks. */
  readonly index?: number;
}

/** A workflow that passed validation, with the graph facts the planner needs. */
export interface ValidatedDag {
  readonly workflow: Workflow;
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  readonly start: string;
  readonly edges: readonly Edge[];
  readonly successors: ReadonlyMap<string, readonly string[]>;
  readonly predecessors: ReadonlyMap<string, readonly string[]>;
  /** Parsed `when` of each router, one per route, in order. */
  readonly conditions: ReadonlyMap<string, readonly ConditionExpr[]>;
  /** Nodes reachable from start, in a deterministic topological order. */
  readonly order: readonly string[];
  readonly unreachable: readonly string[];
}

export interface ValidateOptions {
  /** When given, every operator must resolve (UNKNOWN_OPERATOR otherwise). */
  readonly operatorExists?: (operator: string) => boolean;
  /** Compile-time parameters given on top of the workflow's own (`--param k=v`). */
  readonly params?: Readonly<Record<string, unknown>>;
}

export interface ValidationResult {
  /** Present when there is no error (warnings allowed). */
  readonly dag?: ValidatedDag;
  readonly diagnostics: readonly Diagnostic[];
}

export function validateWorkflowText(text: string, options: ValidateOptions = {}): ValidationResult {
  return validateWorkflow(parseWorkflowSource(text), options);
}

/** Runs every rule of dag-spec §2–§4 and collects all diagnostics; never throws on bad input. */
export function validateWorkflow(parsed: ParsedSource, options: ValidateOptions = {}): ValidationResult {
  const checker = new WorkflowChecker(parsed.locator, options);
  const diagnostics = [...parsed.diagnostics];
  if (!parsed.diagnostics.some((d) => d.code === DiagnosticCode.PARSE_ERROR)) {
    checker.check(parsed.value);
  }
  diagnostics.push(...checker.diagnostics);
  const dag = diagnostics.some((d) => d.severity === 'error') ? undefined : checker.result();
  return { dag, diagnostics };
}

interface ReportOptions {
  readonly node?: string;
  readonly part?: 'key' | 'value';
  readonly severity?: Severity;
  /** Added to the located offset (for positions inside a string, e.g. a condition's column). */
  readonly offsetInString?: number;
}

interface NodeRef {
  readonly from: string;
  readonly to: string;
  readonly kind: EdgeKind;
  readonly index?: number;
  readonly at: readonly PathSegment[];
}

const ITEM_ROOTS = new Set(['item', 'order']);
const CONTEXT_ROOTS = ['task', 'input', 'params', 'nodes', 'errors'];
const TASK_FIELDS = ['id', 'workflow'];

class WorkflowChecker {
  readonly diagnostics: Diagnostic[] = [];
  private header: z.infer<typeof WorkflowHeaderSchema> | undefined;
  private readonly nodes = new Map<string, WorkflowNode>();
  /** Every node whose type is known, even if its fields are wrong, so one bad field does not cascade. */
  private readonly nodeTypes = new Map<string, NodeType>();
  private readonly nodeOrder: string[] = [];
  private readonly nodeSet = new Set<string>();
  private refsByFrom: Map<string, NodeRef[]> | undefined;
  private readonly refs: NodeRef[] = [];
  private readonly conditions = new Map<string, ConditionExpr[]>();
  /** Did-you-mean among the node names, made once they are all read. */
  private nodeSuggestions: Suggestions | undefined;
  private graph:
    | {
        start: string;
        successors: Map<string, string[]>;
        predecessors: Map<string, string[]>;
        order: string[];
        reachable: Set<string>;
        /** Present once the structure is known: which exclusive choices each node's running depends on. */
        runsWhen?: Map<string, RunCondition>;
        branchCounts?: Map<string, number>;
        /** Each node's index in `order`, built on first use by `reaches`. */
        position?: Map<string, number>;
      }
    | undefined;

  constructor(
    private readonly locator: SourceLocator,
    private readonly options: ValidateOptions,
  ) {}

  /** The edges leaving a node (indexed once the nodes are read). */
  private refsFrom(name: string): readonly NodeRef[] {
    if (!this.refsByFrom) {
      this.refsByFrom = new Map();
      for (const ref of this.refs) {
        const list = this.refsByFrom.get(ref.from);
        if (list) list.push(ref);
        else this.refsByFrom.set(ref.from, [ref]);
      }
    }
    return this.refsByFrom.get(name) ?? [];
  }

  check(value: unknown): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.report(
        DiagnosticCode.SCHEMA,
        'A workflow file must be a mapping with `name` and `nodes`. Start from an example in workflows/.',
        [],
      );
      return;
    }
    const { nodes, ...header } = value as Record<string, unknown>;
    this.checkHeader(header);
    if (nodes === undefined) {
      this.report(
        DiagnosticCode.SCHEMA,
        'The workflow has no `nodes`. Add a `nodes:` map with a start and an end node.',
        [],
      );
      return;
    }
    if (nodes === null || typeof nodes !== 'object' || Array.isArray(nodes)) {
      this.report(DiagnosticCode.SCHEMA, '`nodes` must be a map from node name to node.', ['nodes']);
      return;
    }
    for (const [name, raw] of Object.entries(nodes)) this.checkNode(name, raw);
    this.checkGraph();
    this.checkConditions();
    this.checkTemplates();
  }

  result(): ValidatedDag | undefined {
    if (!this.header || !this.graph) return undefined;
    const { start, successors, predecessors, order, reachable } = this.graph;
    const workflow = { ...this.header, nodes: Object.fromEntries(this.nodes) } as Workflow;
    return {
      workflow,
      nodes: this.nodes,
      start,
      edges: this.refs.map(({ from, to, kind, index }) =>
        index === undefined ? { from, to, kind } : { from, to, kind, index },
      ),
      successors,
      predecessors,
      conditions: this.conditions,
      order,
      unreachable: this.nodeOrder.filter((n) => !reachable.has(n)),
    };
  }

  // ---- fields -------------------------------------------------------------------------------

  private checkHeader(header: Record<string, unknown>): void {
    const parsed = WorkflowHeaderSchema.safeParse(header);
    if (parsed.success) {
      this.header = parsed.data;
      return;
    }
    for (const issue of parsed.error.issues) {
      const [field] = issue.path;
      if (field === 'name' && issue.code === 'invalid_format') {
        this.report(
          DiagnosticCode.INVALID_NAME,
          `Workflow name '${shownValue(header.name)}' is not valid: use lowercase letters, digits and '-', starting with a letter, at most 63 characters (${WORKFLOW_NAME_PATTERN.source}).`,
          ['name'],
        );
        continue;
      }
      this.reportZodIssue(issue, [], undefined, WorkflowHeaderSchema, header);
    }
  }

  private checkNode(name: string, raw: unknown): void {
    this.nodeOrder.push(name);
    this.nodeSet.add(name);
    if (!NODE_NAME_PATTERN.test(name)) {
      this.report(
        DiagnosticCode.INVALID_NAME,
        `Node name '${name}' is not valid: use letters, digits and '-', starting with a letter, at most 64 characters (no '_', which separates ids).`,
        ['nodes', name],
        { node: name, part: 'key' },
      );
    }
    const at: PathSegment[] = ['nodes', name];
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.report(DiagnosticCode.SCHEMA, `Node '${name}' must be a map with a \`type\` field.`, at, {
        node: name,
      });
      return;
    }
    const record = raw as Record<string, unknown>;
    const type = record.type;
    if (typeof type !== 'string' || !(NODE_TYPES as string[]).includes(type)) {
      const message =
        type === undefined
          ? `Node '${name}' has no \`type\`. Set it to one of ${NODE_TYPES.join(', ')}.`
          : `Node '${name}' has unknown type '${shownValue(type)}'.${didYouMean(shownValue(type), NODE_TYPES)} The types are ${NODE_TYPES.join(', ')}.`;
      this.report(DiagnosticCode.SCHEMA, message, type === undefined ? at : [...at, 'type'], { node: name });
      return;
    }
    const nodeType = type as NodeType;
    this.nodeTypes.set(name, nodeType);
    this.collectRefs(name, record);
    const schema = NodeSchemas[nodeType];
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) this.reportNodeIssue(name, nodeType, issue, record);
      return;
    }
    const node = parsed.data as WorkflowNode;
    this.nodes.set(name, node);
    this.checkNodeRules(name, node);
  }

  /** Edges are read leniently from the raw node, so a node with one bad field still joins the graph. */
  private collectRefs(name: string, record: Record<string, unknown>): void {
    const { next } = record;
    if (Array.isArray(next)) {
      for (let i = 0; i < next.length; i++) {
        const to: unknown = next[i];
        if (next.indexOf(to) !== i) {
          this.report(
            DiagnosticCode.SCHEMA,
            `Node '${name}' lists '${shownValue(to)}' twice in \`next\`. Keep one.`,
            ['nodes', name, 'next', i],
            {
              node: name,
            },
          );
          continue;
        }
        this.addRef(name, to, 'next', ['nodes', name, 'next', i], i);
      }
    } else this.addRef(name, next, 'next', ['nodes', name, 'next']);
    if (record.type === 'router') {
      if (Array.isArray(record.routes)) {
        record.routes.forEach((route, i) => {
          this.addRef(
            name,
            (route as { next?: unknown } | null)?.next,
            'route',
            ['nodes', name, 'routes', i, 'next'],
            i,
          );
        });
      }
      this.addRef(name, record.default, 'default', ['nodes', name, 'default']);
    }
    this.addRef(name, record.onError, 'onError', ['nodes', name, 'onError']);
  }

  private addRef(from: string, to: unknown, kind: EdgeKind, at: PathSegment[], index?: number): void {
    if (typeof to === 'string') this.refs.push({ from, to, kind, at, index });
  }

  private reportNodeIssue(
    name: string,
    type: NodeType,
    issue: z.core.$ZodIssue,
    raw: Record<string, unknown>,
  ): void {
    const path = issue.path as PathSegment[];
    const at: PathSegment[] = ['nodes', name, ...path];
    if (
      type === 'end' &&
      issue.code === 'unrecognized_keys' &&
      issue.keys.includes('next') &&
      path.length === 0
    ) {
      this.report(
        DiagnosticCode.END_HAS_NEXT,
        `End node '${name}' has a \`next\`; an end node finishes the task. Remove \`next\`, or change the type if the task should go on.`,
        [...at, 'next'],
        { node: name, part: 'key' },
      );
      const others = issue.keys.filter((k) => k !== 'next');
      if (others.length === 0) return;
      this.reportZodIssue({ ...issue, keys: others }, ['nodes', name], name, NodeSchemas[type], raw);
      return;
    }
    if (type === 'router' && path.length === 1 && path[0] === 'default' && raw.default === undefined) {
      this.report(
        DiagnosticCode.ROUTER_NO_DEFAULT,
        `Router '${name}' has no \`default\`. Add \`default: <node>\` for when no route's condition holds.`,
        ['nodes', name],
        { node: name, part: 'key' },
      );
      return;
    }
    if (type === 'callback' && path[0] === 'target') {
      this.report(DiagnosticCode.INVALID_TARGET, this.targetMessage(name, issue, raw.target), at, {
        node: name,
      });
      return;
    }
    this.reportZodIssue(issue, ['nodes', name], name, NodeSchemas[type], raw);
  }

  private targetMessage(name: string, issue: z.core.$ZodIssue, target: unknown): string {
    const kinds = ['eventbridge', 'sqs', 'http'];
    const kind = (target as { kind?: unknown } | null)?.kind;
    if (target === null || typeof target !== 'object') {
      return `Callback '${name}' needs a \`target\` map: {kind: eventbridge, detailType}, {kind: sqs, queue} or {kind: http, url}.`;
    }
    if (typeof kind !== 'string' || !kinds.includes(kind)) {
      return `Callback '${name}' has target kind '${shownValue(kind)}'.${didYouMean(shownValue(kind), kinds)} The kinds are eventbridge, sqs and http.`;
    }
    if (issue.code === 'unrecognized_keys') {
      const allowed = {
        eventbridge: ['kind', 'detailType', 'source'],
        sqs: ['kind', 'queue'],
        http: ['kind', 'url', 'method'],
      }[kind as 'eventbridge' | 'sqs' | 'http'];
      return issue.keys
        .map((k) => `Callback '${name}': a ${kind} target has no field '${k}'.${didYouMean(k, allowed)}`)
        .join(' ');
    }
    const field = issue.path.slice(1).join('.') || 'target';
    return `Callback '${name}': ${kind} target field '${field}' ${describeIssue(issue)}.`;
  }

  private reportZodIssue(
    issue: z.core.$ZodIssue,
    base: PathSegment[],
    node: string | undefined,
    schema: z.ZodType,
    raw: unknown,
  ): void {
    const path = issue.path as PathSegment[];
    const who = node === undefined ? 'The workflow' : `Node '${node}'`;
    const fieldName = path.join('.');
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, raw, path);
      for (const key of issue.keys) {
        const where = path.length > 0 ? ` in '${fieldName}'` : '';
        this.report(
          DiagnosticCode.SCHEMA,
          `${who} has unknown field '${key}'${where}.${didYouMean(key, allowed)}${allowed.length > 0 && !closestMatch(key, allowed) ? ` Known fields: ${allowed.join(', ')}.` : ''}`,
          [...base, ...path, key],
          { node, part: 'key' },
        );
      }
      return;
    }
    if (issue.code === 'invalid_type' && valueAt(raw, path) === undefined) {
      this.report(
        DiagnosticCode.SCHEMA,
        `${who} is missing required field '${fieldName}'. Add it.`,
        [...base, ...path.slice(0, -1)],
        {
          node,
          part: path.length <= 1 && node !== undefined ? 'key' : 'value',
        },
      );
      return;
    }
    this.report(
      DiagnosticCode.SCHEMA,
      `${who}: field '${fieldName}' ${describeIssue(issue)}.`,
      [...base, ...path],
      { node },
    );
  }

  /** Rules a schema cannot say: which fields go together. */
  private checkNodeRules(name: string, node: WorkflowNode): void {
    const at: PathSegment[] = ['nodes', name];
    if (
      node.type === 'end' &&
      (node.status ?? 'succeeded') === 'succeeded' &&
      (node.error !== undefined || node.cause !== undefined)
    ) {
      this.report(
        DiagnosticCode.SCHEMA,
        `End node '${name}' sets \`error\`/\`cause\` but ends the task as succeeded. Add \`status: failed\`, or remove them.`,
        [...at, node.error !== undefined ? 'error' : 'cause'],
        { node: name, part: 'key' },
      );
    }
    if (node.type === 'async') this.checkAsyncRules(name, node, at);
    if (node.type === 'parallel') {
      if (node.node.type === 'async') this.checkAsyncRules(name, node.node, [...at, 'node']);
      this.checkOperator(name, node.node, [...at, 'node']);
      if (node.node.type === 'script') this.checkScript(name, node.node, [...at, 'node']);
    }
    if (isOperatorNode(node)) this.checkOperator(name, node, at);
    if (node.type === 'script') this.checkScript(name, node, at);
  }

  private checkAsyncRules(
    name: string,
    node: AsyncNode | Extract<ItemNode, { type: 'async' }>,
    at: PathSegment[],
  ): void {
    const via = node.via ?? 'lambda';
    if (via !== 'queue' && node.operator === undefined) {
      this.report(
        DiagnosticCode.SCHEMA,
        `Async node '${name}' (via ${via}) needs an \`operator\` to run. Add one, or use \`via: queue\` for work done outside the engine.`,
        at,
        { node: name, part: 'key' },
      );
    }
    if (node.queue !== undefined && via !== 'queue') {
      this.report(
        DiagnosticCode.SCHEMA,
        `Async node '${name}' names a \`queue\` but is \`via: ${via}\`. Set \`via: queue\` or remove \`queue\`.`,
        [...at, 'queue'],
        { node: name, part: 'key' },
      );
    }
    const timeout = node.timeout ?? this.header?.defaults?.timeout ?? 3600;
    if (node.heartbeat !== undefined && node.heartbeat >= timeout) {
      this.report(
        DiagnosticCode.SCHEMA,
        `Async node '${name}' has \`heartbeat: ${node.heartbeat}\` not below its timeout (${timeout} s). Make the heartbeat shorter than the timeout.`,
        [...at, 'heartbeat'],
        { node: name },
      );
    }
  }

  private checkOperator(name: string, node: { operator?: string; type: string }, at: PathSegment[]): void {
    const exists = this.options.operatorExists;
    if (!exists || node.operator === undefined || node.type === 'script') return;
    if (!exists(node.operator)) {
      this.report(
        DiagnosticCode.UNKNOWN_OPERATOR,
        `Node '${name}' uses operator '${node.operator}', which the operators folder does not have (looked for ${node.operator}.ts, .mts, .js, .mjs). Check the name or add the module.`,
        [...at, 'operator'],
        { node: name },
      );
    }
  }

  private checkScript(
    name: string,
    node: { language: 'jsonata' | 'javascript'; source: string },
    at: PathSegment[],
  ): void {
    const result = checkScriptSyntax(node.language, node.source);
    if (result.ok) return;
    const where =
      result.line !== undefined
        ? ` (script line ${result.line}${result.column !== undefined ? `, column ${result.column}` : ''})`
        : '';
    this.report(
      DiagnosticCode.SCHEMA,
      `Script of node '${name}' does not parse${where}: ${result.message}. Fix the ${node.language} source.`,
      [...at, 'source'],
      { node: name },
    );
  }

  // ---- graph --------------------------------------------------------------------------------

  private checkGraph(): void {
    const known = [...this.nodeTypes.keys()];
    const starts = known.filter((n) => this.nodeTypes.get(n) === 'start');
    const ends = known.filter((n) => this.nodeTypes.get(n) === 'end');
    if (starts.length === 0) {
      this.report(
        DiagnosticCode.NO_START,
        'The workflow has no start node. Add one: `begin: { type: start, next: <first node> }`.',
        ['nodes'],
        {
          part: 'key',
        },
      );
    }
    for (const extra of starts.slice(1)) {
      this.report(
        DiagnosticCode.MULTIPLE_START,
        `Node '${extra}' is a second start node ('${starts[0]}' is the first). A workflow has exactly one; make the others ordinary nodes after it.`,
        ['nodes', extra],
        { node: extra, part: 'key' },
      );
    }
    if (ends.length === 0 && known.length > 0) {
      this.report(
        DiagnosticCode.NO_END,
        'The workflow has no end node. Add one: `done: { type: end }`, and point the last nodes to it.',
        ['nodes'],
        {
          part: 'key',
        },
      );
    }

    let brokenEdges = false;
    const successors = new Map<string, string[]>(known.map((n) => [n, []]));
    for (const ref of this.refs) {
      if (!this.nodeTypes.has(ref.to)) {
        brokenEdges = true;
        if (this.nodeSet.has(ref.to)) continue; // the target exists but is itself broken: reported there
        this.report(
          DiagnosticCode.UNKNOWN_NODE,
          `Node '${ref.from}' names unknown ${ref.kind === 'route' ? 'route target' : ref.kind === 'next' ? 'next node' : `${ref.kind} node`} '${ref.to}'.${this.didYouMeanNode(ref.to)}`,
          ref.at,
          { node: ref.from },
        );
        continue;
      }
      if (this.nodeTypes.get(ref.to) === 'start') {
        this.report(
          DiagnosticCode.START_HAS_PREDECESSOR,
          `Node '${ref.from}' leads back to start node '${ref.to}'. Nothing may come before the start; point '${ref.from}' at another node.`,
          ref.at,
          { node: ref.from },
        );
        continue;
      }
      const targets = successors.get(ref.from)!;
      if (!targets.includes(ref.to)) targets.push(ref.to);
    }

    // Kahn's order takes in every node exactly when there is no cycle, and costs far less than
    // Tarjan's components, which are needed only to report the cycles.
    const knownOrder = topologicalOrder(known, successors);
    const cycles = knownOrder.length === known.length ? [] : findCycles(known, successors);
    for (const cycle of cycles) {
      const closing =
        this.refs.find((r) => r.from === cycle[cycle.length - 1] && r.to === cycle[0]) ??
        this.refs.find((r) => r.from === cycle[0]);
      this.report(
        DiagnosticCode.CYCLE,
        `Nodes ${[...cycle, cycle[0]].map((n) => `'${n}'`).join(' -> ')} form a cycle; a workflow is a DAG. Remove one of these edges (for repeated work over items use a parallel node).`,
        closing?.at ?? ['nodes', cycle[0]!],
        { node: closing?.from ?? cycle[0] },
      );
    }

    const start = starts[0];
    const reachable = start === undefined ? new Set<string>() : reachableFrom([start], successors);
    // With a broken edge, what looks unreachable is most likely behind it: that fault is reported.
    if (start !== undefined && !brokenEdges) {
      for (const name of known) {
        if (reachable.has(name) || this.nodeTypes.get(name) === 'start') continue;
        this.report(
          DiagnosticCode.UNREACHABLE,
          `Node '${name}' cannot be reached from start node '${start}' and will be pruned. Point a node's \`next\` at it, or delete it.`,
          ['nodes', name],
          { node: name, part: 'key', severity: 'warning' },
        );
      }
    }
    for (const name of known) {
      const type = this.nodeTypes.get(name);
      if (type === 'end' || (successors.get(name) ?? []).length > 0) continue;
      if (this.refsFrom(name).length > 0) continue; // its edges are broken: reported there
      this.report(
        DiagnosticCode.DEAD_END,
        `Node '${name}' has no next node, so the task cannot reach an end from it. Add \`next: <node>\` (an end node, if the task is done there).`,
        ['nodes', name],
        { node: name, part: 'key' },
      );
    }

    if (start === undefined || starts.length > 1 || cycles.length > 0 || brokenEdges) return;
    const predecessors = reverseAdjacency(known, successors);
    // Over the reachable nodes only, as unreachable ones would change where ties fall.
    const order =
      reachable.size === known.length
        ? knownOrder
        : topologicalOrder(
            known.filter((n) => reachable.has(n)),
            successors,
          );
    this.graph = { start, successors, predecessors, order, reachable };
    if (ends.length === 0) return;
    this.checkStructure(order, successors, predecessors);
  }

  /**
   * Exclusive branches (a router's routes, an operator's next vs onError) must form a single-entry
   * region that ends where they meet again, and a fork's branches must meet again at one join before
   * any end: that is what nests into Choice and Parallel states.
   */
  private checkStructure(
    order: string[],
    successors: Map<string, string[]>,
    predecessors: Map<string, string[]>,
  ): void {
    // With every node reachable (the usual case) the graph is already the reachable part.
    const whole = order.length === successors.size;
    const inScope = whole ? undefined : new Set(order);
    const succ = inScope ? new Map(order.map((n) => [n, successors.get(n) ?? []])) : successors;
    const preds = inScope
      ? new Map(order.map((n) => [n, (predecessors.get(n) ?? []).filter((p) => inScope.has(p))]))
      : predecessors;
    const ipdom = immediatePostDominators(order, succ);
    const depths = postDominatorDepths(order, ipdom);
    // Filled in for the nodes inside some exclusive region; a node missing here depends on no choice.
    const runsWhen = new Map<string, RunCondition>();
    const branchCounts = new Map<string, number>();
    let structured = true;
    for (const name of order) {
      const type = this.nodeTypes.get(name);
      const refs = this.refsFrom(name);
      const exclusive = type === 'router' || refs.some((r) => r.kind === 'onError');
      if (exclusive) {
        const region = exclusiveRegion(name, ipdom.get(name)!, succ);
        structured &&= this.checkExclusiveRegion(name, type === 'router', region, ipdom.get(name)!, preds);
        recordBranchConditions(name, refs, region, succ, runsWhen, branchCounts);
      }
      const forkTargets = refs.filter((r) => r.kind === 'next').map((r) => r.to);
      if (forkTargets.length > 1) this.checkForkMeets(name, forkTargets, ipdom, depths, succ);
    }
    structured &&= this.checkForksEnteredOnlyThroughThem(
      order,
      succ,
      preds,
      ipdom,
      depths,
      runsWhen,
      branchCounts,
    );
    if (structured) Object.assign(this.graph!, { runsWhen, branchCounts });
  }

  /**
   * A node inside a fork (between the fork and where its branches meet) must not be reached by a
   * path of a router (or onError) on which the fork does not run. Such a workflow is refused rather
   * than planned:
   *
   *   r -> f (route 1) | n (default);  f -> [a, b];  a -> n;  b -> done;  n -> done
   *
   * - dag-spec §2: a router's routes meet again at one node before any join outside them. Here the
   *   default meets route 1 at n, but route 1's branch b reaches the join done without passing n.
   * - ASL: the fork is one Parallel state, and nothing outside it can jump into its branches. n would
   *   need two states (in the Parallel after a, and outside it for the default) under one name: state
   *   names are unique, and tracking and the embedded engine find a node's state by its name. Placing
   *   n once after the Parallel makes it wait for b, against the planner's promise to keep the critical
   *   path, and fails outright when two routes each enter the fork at their own node (after the
   *   Parallel both must run, and a state has one Next).
   * The fix is the author's: let the fork's branches meet before n, or give the other route its own
   * node. Not refused: paths in from outside that run whenever the fork does (forks crossing inside
   * one route, which the planner nests together), and forks to the same nodes on several routes
   * (they share one Parallel). Reports the first such path per router or onError node; true when
   * there is none.
   */
  private checkForksEnteredOnlyThroughThem(
    order: readonly string[],
    succ: Map<string, string[]>,
    preds: Map<string, string[]>,
    ipdom: Map<string, string>,
    depths: Map<string, number>,
    runsWhen: ReadonlyMap<string, RunCondition>,
    branchCounts: ReadonlyMap<string, number>,
  ): boolean {
    const reported = new Set<string>();
    for (const fork of order) {
      const targets = this.refsFrom(fork)
        .filter((r) => r.kind === 'next')
        .map((r) => r.to);
      if (targets.length < 2) continue;
      // The choices that decide whether this fork's branches run, each with the branches that run them.
      const runs = new Map(runsWhen.get(fork) ?? []);
      if (this.exclusiveBranches(fork).length > 1) runs.set(fork, new Set([0]));
      for (const [choice, branches] of runs)
        if (branches.size === branchCounts.get(choice)) runs.delete(choice);
      if (runs.size === 0) continue;
      const meet = nearestCommonPostDominator(targets, ipdom, depths);
      if (meet === VIRTUAL_EXIT) continue; // END_IN_FORK, reported
      const inside = reachableWithin(targets, succ, (n) => n !== meet);
      const forkKey = [...targets].sort().join(',');
      for (const node of inside) {
        for (const from of preds.get(node) ?? []) {
          if (from === fork || inside.has(from)) continue;
          // A fork to the same nodes runs the same Parallel.
          const fromTargets = this.refsFrom(from).filter((r) => r.kind === 'next');
          if (
            fromTargets.length > 1 &&
            fromTargets
              .map((r) => r.to)
              .sort()
              .join(',') === forkKey
          )
            continue;
          for (const [choice, forkBranches] of runs) {
            if (reported.has(choice)) continue;
            const fromBranches =
              from === choice
                ? this.exclusiveBranches(choice).flatMap((b, i) => (b.targets.includes(node) ? [i] : []))
                : [...(runsWhen.get(from)?.get(choice) ?? [])];
            const outside = fromBranches.find((b) => !forkBranches.has(b));
            if (outside === undefined) continue;
            reported.add(choice);
            const path = this.exclusiveBranches(choice)[outside]!.label;
            const forkText = fork === choice ? `the fork of '${fork}'` : `'${fork}'`;
            this.report(
              DiagnosticCode.UNSTRUCTURED_ROUTER,
              `Node '${node}' is inside fork '${fork}' (whose branches meet at '${meet}'), but ${path} reaches it without running ${forkText}. A Parallel branch cannot be entered from outside its fork: let the branches of '${fork}' meet before '${node}' (point them at one node that leads to '${node}'), or give ${path} a node of its own instead of '${node}'.`,
              ['nodes', choice],
              { node: choice, part: 'key' },
            );
          }
        }
      }
    }
    return reported.size === 0;
  }

  /**
   * The exclusive ways out of a node, indexed as recordBranchConditions does: its next (all of a
   * fork's targets together), then each route, the default, onError.
   */
  private exclusiveBranches(name: string): { readonly targets: readonly string[]; readonly label: string }[] {
    const refs = this.refsFrom(name);
    const branches: { targets: string[]; label: string }[] = [];
    const next = refs.filter((r) => r.kind === 'next').map((r) => r.to);
    if (next.length > 0) branches.push({ targets: next, label: `the next path of node '${name}'` });
    for (const ref of refs) {
      if (ref.kind === 'route')
        branches.push({ targets: [ref.to], label: `route ${(ref.index ?? 0) + 1} of router '${name}'` });
      if (ref.kind === 'default')
        branches.push({ targets: [ref.to], label: `the default of router '${name}'` });
      if (ref.kind === 'onError')
        branches.push({ targets: [ref.to], label: `the onError path of node '${name}'` });
    }
    return branches;
  }

  /** Reports the first way in to the region other than through its entry; true when there is none. */
  private checkExclusiveRegion(
    name: string,
    isRouter: boolean,
    region: ReadonlySet<string>,
    meet: string,
    preds: Map<string, string[]>,
  ): boolean {
    for (const node of region) {
      const outside = (preds.get(node) ?? []).find((p) => p !== name && !region.has(p));
      if (outside === undefined) continue;
      const what = isRouter
        ? `the routes of router '${name}'`
        : `the next and onError paths of node '${name}'`;
      const fix =
        meet === VIRTUAL_EXIT
          ? `Let ${isRouter ? 'its routes' : 'both paths'} meet at one node`
          : `Let ${isRouter ? 'its routes' : 'both paths'} meet at '${meet}' first`;
      this.report(
        DiagnosticCode.UNSTRUCTURED_ROUTER,
        `Node '${node}' joins ${what} with '${outside}', which is outside them. ${fix}, then continue to '${node}'.`,
        ['nodes', name],
        { node: name, part: 'key' },
      );
      return false;
    }
    return true;
  }

  private checkForkMeets(
    name: string,
    targets: string[],
    ipdom: Map<string, string>,
    depths: Map<string, number>,
    succ: Map<string, string[]>,
  ): void {
    const meet = nearestCommonPostDominator(targets, ipdom, depths);
    if (meet !== VIRTUAL_EXIT) return;
    const endsOf = targets.map(
      (t) => new Set([...reachableFrom([t], succ)].filter((n) => this.nodeTypes.get(n) === 'end')),
    );
    const allEnds = new Set(endsOf.flatMap((s) => [...s]));
    const partial = [...allEnds].find((end) => endsOf.some((s) => !s.has(end)));
    const subject = partial ?? name;
    this.report(
      DiagnosticCode.END_IN_FORK,
      partial !== undefined
        ? `End node '${partial}' is reached by only some branches of fork '${name}' (${targets.join(', ')}). Let all branches meet at one join node before ending.`
        : `The branches of fork '${name}' (${targets.join(', ')}) never meet at one node before ending. Let them meet at one join node.`,
      ['nodes', subject],
      { node: subject, part: 'key' },
    );
  }

  // ---- conditions and references -----------------------------------------------------------

  private checkConditions(): void {
    for (const [name, node] of this.nodes) {
      if (node.type !== 'router') continue;
      const parsed: ConditionExpr[] = [];
      node.routes.forEach((route, i) => {
        const at: PathSegment[] = ['nodes', name, 'routes', i, 'when'];
        const result = parseCondition(route.when);
        if (!result.ok) {
          this.report(
            DiagnosticCode.INVALID_CONDITION,
            `Router '${name}', route ${i + 1}: ${result.error.message} (at column ${result.error.column + 1} of the condition).`,
            at,
            { node: name, offsetInString: result.error.column },
          );
          return;
        }
        parsed.push(result.expr);
        for (const path of conditionPaths(result.expr)) this.checkConditionPath(name, path, at);
      });
      if (parsed.length === node.routes.length) this.conditions.set(name, parsed);
    }
  }

  private checkConditionPath(router: string, path: ConditionPath, at: PathSegment[]): void {
    const problem = this.referenceProblem(router, [path.root, ...path.segments], {
      dominance: false,
      inItem: false,
    });
    if (problem) {
      this.report(DiagnosticCode.INVALID_PATH, `Router '${router}': ${problem}`, at, {
        node: router,
        offsetInString: path.start,
      });
    }
  }

  private checkTemplates(): void {
    for (const [name, node] of this.nodes) {
      const at: PathSegment[] = ['nodes', name];
      if (isOperatorNode(node) && 'input' in node)
        this.checkTemplate(name, node.input, [...at, 'input'], false);
      if (node.type === 'end') this.checkTemplate(name, node.output, [...at, 'output'], false);
      if (node.type === 'callback') this.checkTemplate(name, node.payload, [...at, 'payload'], false);
      if (node.type === 'parallel') {
        this.checkItems(name, node.items, [...at, 'items']);
        if ('input' in node.node) this.checkTemplate(name, node.node.input, [...at, 'node', 'input'], true);
      }
    }
  }

  private checkItems(name: string, items: string, at: PathSegment[]): void {
    if (!items.startsWith('$.')) {
      this.report(
        DiagnosticCode.INVALID_PATH,
        `Parallel node '${name}': \`items\` must be a reference to an array in the context, such as $.nodes.slice.segments (got '${items}').`,
        at,
        { node: name },
      );
      return;
    }
    this.checkTemplate(name, items, at, false);
  }

  private checkTemplate(name: string, template: unknown, at: PathSegment[], inItem: boolean): void {
    if (template === undefined) return;
    this.checkTemplateAsl(name, template, at);
    for (const ref of collectReferences(template)) {
      const where = [...at, ...ref.at];
      const parsed = parseReference(ref.text);
      if (!parsed.ok) {
        this.report(
          DiagnosticCode.INVALID_PATH,
          `Node '${name}': reference '${ref.text}' is not a valid path: ${parsed.message}.`,
          where,
          {
            node: name,
          },
        );
        continue;
      }
      const problem = this.referenceProblem(name, parsed.segments, { dominance: true, inItem });
      if (problem)
        this.report(DiagnosticCode.INVALID_PATH, `Node '${name}': ${problem}`, where, { node: name });
    }
  }

  /**
   * What ASL cannot hold in a template (templates.ts: an object in an array built with States.Array,
   * a key ending in .$), reported here with its position rather than failing the emitter.
   */
  private checkTemplateAsl(name: string, template: unknown, at: PathSegment[]): void {
    if (template === null || typeof template !== 'object') return;
    // A reference that does not parse is reported on its own and has no ASL form.
    if (collectReferences(template).some((ref) => !parseReference(ref.text).ok)) return;
    const field = at[at.length - 1]!;
    const result = templateParameters({ [field]: template });
    if (result.ok) return;
    for (const problem of result.problems) {
      const where = [...at.slice(0, -1), ...problem.at];
      // "<field> has key 'k.$'" names the object that holds the key.
      const shown = problem.part === 'key' ? where.slice(2, -1) : where.slice(2);
      this.report(DiagnosticCode.SCHEMA, `Node '${name}': ${fieldText(shown)} ${problem.reason}`, where, {
        node: name,
        part: problem.part,
      });
    }
  }

  /** Why a context path cannot be right at this node, or undefined when it can. */
  private referenceProblem(
    node: string,
    segments: readonly PathSegment[],
    how: { dominance: boolean; inItem: boolean },
  ): string | undefined {
    const [root, first] = segments;
    if (root === undefined) return undefined;
    const shown = `'${['$', ...segments].join('.')}'`;
    const roots = how.inItem ? [...CONTEXT_ROOTS, ...ITEM_ROOTS] : CONTEXT_ROOTS;
    if (typeof root !== 'string' || !roots.includes(root)) {
      const inItemHint =
        !how.inItem && ITEM_ROOTS.has(String(root))
          ? " (item and order exist only inside a parallel node's node)"
          : '';
      return `reference ${shown} starts with unknown '${String(root)}'${inItemHint}.${didYouMean(String(root), roots)} A reference starts with ${roots.join(', ')}.`;
    }
    if (first === undefined) return undefined;
    if (root === 'task' && !TASK_FIELDS.includes(String(first))) {
      return `reference ${shown}: a task has only id and workflow.${didYouMean(String(first), TASK_FIELDS)}`;
    }
    if (root === 'params') {
      const declared = new Set([
        ...Object.keys(this.header?.params ?? {}),
        ...Object.keys(this.options.params ?? {}),
      ]);
      if (!declared.has(String(first))) {
        return `reference ${shown} names parameter '${String(first)}', which \`params\` does not declare.${didYouMean(String(first), declared)} Declare it with a default under \`params\`.`;
      }
    }
    if (root === 'nodes') return this.nodeReferenceProblem(node, String(first), shown, how.dominance);
    if (root === 'errors') {
      const target = this.nodes.get(String(first));
      if (!target || !('onError' in target) || target.onError === undefined) {
        return `reference ${shown}: only a node with \`onError\` records an error, and '${String(first)}' ${target ? 'has none' : 'is not a node'}.${target ? '' : this.didYouMeanNode(String(first))}`;
      }
    }
    return undefined;
  }

  private nodeReferenceProblem(
    node: string,
    target: string,
    shown: string,
    dominance: boolean,
  ): string | undefined {
    const type = this.nodeTypes.get(target);
    if (type === undefined)
      return `reference ${shown} names unknown node '${target}'.${this.didYouMeanNode(target)}`;
    if (!['sync', 'async', 'script', 'parallel'].includes(type)) {
      return `reference ${shown}: node '${target}' is a ${type} node and has no output. Only sync, async, script and parallel nodes do.`;
    }
    if (!dominance || !this.graph?.runsWhen) return undefined;
    const { runsWhen, branchCounts } = this.graph;
    const reaches = (from: string, to: string) => this.reaches(from, to);
    if (target === node || !alwaysRunsBefore(target, node, reaches, runsWhen, branchCounts ?? new Map())) {
      return `reference ${shown}: node '${target}' has not run on every path that reaches '${node}'. Reference only nodes that always run before it (or use a router with exists(nodes.${target})).`;
    }
    const onError = this.nodes.get(target);
    const handler = onError && 'onError' in onError ? onError.onError : undefined;
    if (handler !== undefined && (handler === node || this.reaches(handler, node))) {
      return `reference ${shown}: '${node}' can be reached after '${target}' failed (its onError goes to '${handler}'), when it has no output. Use errors.${target} there, or move the reference.`;
    }
    return undefined;
  }

  /**
   * Whether `to` is reachable from `from`. Answered from the topological order when both are in it
   * (one walk per reference over everything after `from` made templates quadratic in the nodes).
   */
  private reaches(from: string, to: string): boolean {
    const graph = this.graph!;
    graph.position ??= new Map(graph.order.map((n, i) => [n, i]));
    if (graph.position.has(from) && graph.position.has(to)) {
      return reachesInOrder(from, to, graph.predecessors, graph.position);
    }
    return reachableFrom([from], graph.successors).has(to);
  }

  /** " Did you mean 'x'?" among the node names (all read by the time edges and references are). */
  private didYouMeanNode(word: string): string {
    this.nodeSuggestions ??= new Suggestions(this.nodeOrder);
    return this.nodeSuggestions.didYouMean(word);
  }

  // ---- reporting ----------------------------------------------------------------------------

  private report(
    code: DiagnosticCode,
    message: string,
    at: readonly PathSegment[],
    options: ReportOptions = {},
  ): void {
    const severity = options.severity ?? 'error';
    let position = this.locator.locate(at, options.part ?? 'value');
    if (options.offsetInString !== undefined) {
      position = this.locator.positionAt(this.locator.contentOffset(at) + options.offsetInString);
    }
    const node = options.node ?? (at[0] === 'nodes' && at[1] !== undefined ? String(at[1]) : undefined);
    this.diagnostics.push({ code, severity, message, ...(node === undefined ? {} : { node }), ...position });
  }
}

/**
 * The exclusive choices a node's running depends on: for each router (or node with onError) whose
 * region holds it, the branch indexes from which it can be reached. A node runs exactly when every
 * such choice takes one of its branches (forks run all their branches).
 */
type RunCondition = Map<string, ReadonlySet<number>>;

/** The nodes between an exclusive node and the node where its branches meet again (the whole rest when they only meet at the end). */
function exclusiveRegion(name: string, meet: string, succ: Map<string, string[]>): Set<string> {
  return reachableWithin(succ.get(name) ?? [], succ, (n) => n !== meet);
}

function recordBranchConditions(
  name: string,
  refs: readonly NodeRef[],
  region: ReadonlySet<string>,
  succ: Map<string, string[]>,
  runsWhen: Map<string, RunCondition>,
  branchCounts: Map<string, number>,
): void {
  // A branch is a distinct way out of the node: each route, the default, or next (all of a fork's
  // targets together) versus onError.
  const branches: string[][] = [];
  const nextTargets = refs.filter((r) => r.kind === 'next').map((r) => r.to);
  if (nextTargets.length > 0) branches.push(nextTargets);
  for (const ref of refs) if (ref.kind !== 'next') branches.push([ref.to]);
  branchCounts.set(name, branches.length);
  branches.forEach((targets, index) => {
    for (const node of reachableWithin(targets, succ, (n) => region.has(n))) {
      let condition = runsWhen.get(node);
      if (!condition) {
        condition = new Map();
        runsWhen.set(node, condition);
      }
      condition.set(name, new Set([...(condition.get(name) ?? []), index]));
    }
  });
}

/**
 * Whether `target` has finished whenever `node` runs: it is an ancestor (a join waits for every
 * predecessor that runs), and every choice it depends on is fixed to its branches whenever `node` runs.
 */
function alwaysRunsBefore(
  target: string,
  node: string,
  reaches: (from: string, to: string) => boolean,
  runsWhen: ReadonlyMap<string, RunCondition>,
  branchCounts: ReadonlyMap<string, number>,
): boolean {
  if (!reaches(target, node)) return false;
  const nodeCondition = runsWhen.get(node);
  for (const [choice, branches] of runsWhen.get(target) ?? []) {
    // Reached from every branch: it runs whichever way the choice goes.
    if (branches.size === branchCounts.get(choice)) continue;
    const fixed = nodeCondition?.get(choice);
    if (!fixed || [...fixed].some((b) => !branches.has(b))) return false;
  }
  return true;
}

/** A value from the file as text for a message, whatever it is (objects may not convert to strings). */
function shownValue(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value)?.slice(0, 60) ?? typeof value;
  } catch {
    return typeof value;
  }
}

function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** The field names the schema allows at `path`, for did-you-mean suggestions. */
function allowedKeysAt(schema: z.ZodType, raw: unknown, path: readonly PathSegment[]): string[] {
  let current: unknown = schema;
  let value = raw;
  const unwrap = () => {
    for (;;) {
      const def = (current as { _zod?: { def?: { type?: string; innerType?: unknown } } })._zod?.def;
      if (
        def &&
        (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') &&
        def.innerType
      ) {
        current = def.innerType;
        continue;
      }
      if (def?.type === 'union') {
        const options = (def as unknown as { options: unknown[]; discriminator?: string }).options;
        const discriminator = (def as unknown as { discriminator?: string }).discriminator;
        const want =
          discriminator && value && typeof value === 'object'
            ? (value as Record<string, unknown>)[discriminator]
            : undefined;
        const match = options.find((o) => {
          const shape = (o as { shape?: Record<string, { _zod?: { def?: { values?: unknown[] } } }> }).shape;
          return discriminator && shape?.[discriminator]?._zod?.def?.values?.includes(want);
        });
        if (!match) return;
        current = match;
        continue;
      }
      return;
    }
  };
  unwrap();
  for (const segment of path) {
    const shape = (current as { shape?: Record<string, unknown> }).shape;
    const def = (current as { _zod?: { def?: { type?: string; element?: unknown } } })._zod?.def;
    if (shape && typeof segment === 'string') current = shape[segment];
    else if (def?.type === 'array') current = def.element;
    else return [];
    value = valueAt(value, [segment]);
    unwrap();
  }
  const shape = (current as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape).filter((k) => k !== '$schema') : [];
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${article(issue.expected)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `needs at least ${String(issue.minimum)} item(s)`
        : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.message.startsWith('Invalid')
        ? `has the wrong format (${issue.format})`
        : `is not valid: ${issue.message}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_union':
      return `is not valid: ${issue.message}`;
    default:
      return `is not valid: ${issue.message}`;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    int: 'a whole number',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    object: 'a map',
    array: 'a list',
    record: 'a map',
  };
  return names[expected] ?? expected;
}
