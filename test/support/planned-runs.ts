// fast-check generators of runnable workflows whose every operator node fails or succeeds as its input
// says (test/outcome), with what a run of each must record: which nodes run, how each ends, with how
// many attempts. Sequences, forks, routers (on input or params), onError handlers, retries, async work
// (via lambda, queue, batch), scripts, callbacks and parallel nodes with tolerated failures.
import fc from 'fast-check';
import {
  arbitraryDagShape,
  type DagShape,
  dagShapeToWorkflow,
  type NodeObject,
  type WorkflowObject,
} from './arbitrary-dags.js';

export type Leaf =
  | { readonly kind: 'sync'; readonly failures: number; readonly maxAttempts: number; readonly ms: number }
  | {
      readonly kind: 'async';
      readonly via: 'lambda' | 'queue' | 'batch';
      readonly failures: number;
      readonly maxAttempts: number;
      readonly ms: number;
    }
  | { readonly kind: 'script'; readonly fails: boolean }
  | {
      readonly kind: 'parallel';
      readonly item: 'sync' | 'async';
      /** Planned failures of each item, in item order. */
      readonly items: readonly number[];
      readonly maxAttempts: number;
      readonly tolerated: number;
      readonly maxConcurrency: number | undefined;
      /** Distributed: items and results through the object store (the engine emulates both). */
      readonly mode: 'inline' | 'distributed';
    }
  | { readonly kind: 'callback' };

export type PlannedBlock =
  | { readonly kind: 'leaf'; readonly leaf: Leaf; readonly onError: PlannedBlock | undefined }
  | { readonly kind: 'seq'; readonly items: readonly PlannedBlock[] }
  | { readonly kind: 'fork'; readonly branches: readonly PlannedBlock[] }
  | {
      readonly kind: 'choice';
      readonly on: 'input' | 'params';
      readonly pick: number;
      readonly branches: readonly PlannedBlock[];
    };

/** yes: the node runs on every schedule; no: on none; maybe: it depends on timing (a fork that fails). */
export type Runs = 'yes' | 'no' | 'maybe';

export interface NodeExpectation {
  readonly type: string;
  readonly runs: Runs;
  /** Runs an operator or a script: one trace per attempt. */
  readonly traced: boolean;
  /** Where its traces (or its segments' traces) ran: gpu for `via: batch`. */
  readonly resource?: 'cpu' | 'gpu';
  /** How it ends and after how many attempts, when `runs` is yes. */
  readonly status?: 'SUCCEEDED' | 'FAILED';
  readonly attempts?: number;
  /** A parallel node's segments in item order, when `runs` is yes and every item runs to its end. */
  readonly segments?: readonly { readonly status: 'SUCCEEDED' | 'FAILED'; readonly attempts: number }[];
  /** Its failure is handled by nothing: if it fails, the task fails. */
  readonly fatal: boolean;
}

export interface PlannedRun {
  readonly workflow: WorkflowObject;
  readonly input: Record<string, unknown>;
  readonly taskStatus: 'SUCCEEDED' | 'FAILED';
  readonly nodes: ReadonlyMap<string, NodeExpectation>;
}

// Mostly no planned failure, so that tasks get past their first nodes.
const failuresArbitrary = fc.constantFrom(0, 0, 0, 0, 0, 1, 2, 3);
const attemptsArbitrary = fc.integer({ min: 1, max: 3 });
// A few slow attempts, so that forks that fail have work in flight in their other branches.
const msArbitrary = fc.constantFrom(0, 0, 0, 2, 15);

const leafArbitrary: fc.Arbitrary<Leaf> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('sync' as const),
      failures: failuresArbitrary,
      maxAttempts: attemptsArbitrary,
      ms: msArbitrary,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('async' as const),
      via: fc.constantFrom('lambda' as const, 'queue' as const, 'batch' as const),
      failures: failuresArbitrary,
      maxAttempts: attemptsArbitrary,
      ms: msArbitrary,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('script' as const),
      fails: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('parallel' as const),
      item: fc.constantFrom('sync' as const, 'async' as const),
      items: fc.array(fc.constantFrom(0, 0, 0, 1, 2), { minLength: 1, maxLength: 4 }),
      maxAttempts: fc.integer({ min: 1, max: 2 }),
      tolerated: fc.constantFrom(0, 0, 25, 50, 100),
      maxConcurrency: fc.constantFrom(undefined, 0, 1, 2),
      mode: fc.constantFrom('inline' as const, 'inline' as const, 'distributed' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Leaf>({ kind: 'callback' }) },
);

const plannedBlockArbitrary: fc.Arbitrary<PlannedBlock> = fc.letrec<{
  block: PlannedBlock;
  leaf: PlannedBlock;
}>((tie) => ({
  block: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.record({
      kind: fc.constant('seq' as const),
      items: fc.array(tie('block'), { minLength: 1, maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant('fork' as const),
      branches: fc.array(tie('block'), { minLength: 2, maxLength: 3 }),
    }),
    fc.record({
      kind: fc.constant('choice' as const),
      on: fc.constantFrom('input' as const, 'params' as const),
      pick: fc.nat(),
      branches: fc.array(tie('block'), { minLength: 2, maxLength: 3 }),
    }),
  ),
  leaf: fc
    .record({
      kind: fc.constant('leaf' as const),
      leaf: leafArbitrary,
      onError: fc.option(tie('block'), { nil: undefined, freq: 2, depthSize: 'small' }),
    })
    // A callback node has no onError.
    .map((b) => (b.leaf.kind === 'callback' ? { ...b, onError: undefined } : b)),
})).block;

export interface PlannedRunOptions {
  readonly maxNodes?: number;
  /** false: parallel nodes run sync items only. */
  readonly asyncItems?: boolean;
  /** false: no parallel node has an onError handler. */
  readonly parallelOnError?: boolean;
  /** false: a parallel node that tolerates failures never has more than it tolerates. */
  readonly toleranceExceeded?: boolean;
  /** false: a router on params never leads straight to another router on params. */
  readonly chainedParamsRouters?: boolean;
}

/** A random runnable workflow with what its run must record. */
export function arbitraryPlannedRun(options: PlannedRunOptions = {}): fc.Arbitrary<PlannedRun> {
  const maxNodes = options.maxNodes ?? 16;
  return plannedBlockArbitrary
    .map((block) => restricted(block, options))
    .map((block) => plannedRun(block, options))
    .filter((run) => Object.keys(run.workflow.nodes).length <= maxNodes);
}

/** The block without the parallel-node features the options leave out. */
function restricted(b: PlannedBlock, options: PlannedRunOptions): PlannedBlock {
  const inner = (block: PlannedBlock) => restricted(block, options);
  switch (b.kind) {
    case 'leaf': {
      const { leaf } = b;
      const onError = b.onError && inner(b.onError);
      if (leaf.kind !== 'parallel') return { ...b, onError };
      const failed = leaf.items.filter((f) => f >= leaf.maxAttempts).length;
      const exceeds = leaf.tolerated > 0 && (failed / leaf.items.length) * 100 > leaf.tolerated;
      return {
        kind: 'leaf',
        leaf: options.toleranceExceeded === false && exceeds ? { ...leaf, tolerated: 100 } : leaf,
        onError: options.parallelOnError === false ? undefined : onError,
      };
    }
    case 'seq':
      return { ...b, items: b.items.map(inner) };
    case 'fork':
      return { ...b, branches: b.branches.map(inner) };
    case 'choice': {
      const taken = b.pick % b.branches.length;
      const branches = b.branches.map((branch, i) =>
        options.chainedParamsRouters === false && b.on === 'params' && i === taken
          ? inner(onInputAtEntry(branch))
          : inner(branch),
      );
      return { ...b, branches };
    }
  }
}

/** The block with its first node, if a router on params, routing on input instead. */
function onInputAtEntry(b: PlannedBlock): PlannedBlock {
  if (b.kind === 'seq') return { ...b, items: [onInputAtEntry(b.items[0]!), ...b.items.slice(1)] };
  return b.kind === 'choice' && b.on === 'params' ? { ...b, on: 'input' } : b;
}

export function plannedRun(block: PlannedBlock, options: PlannedRunOptions = {}): PlannedRun {
  const nodes: Record<string, NodeObject> = {};
  const names = new Map<PlannedBlock, string>();
  const input: Record<string, unknown> = {};
  const params: Record<string, unknown> = {};
  let counter = 0;

  /** Emits the block so that it continues to `next`; returns its entry node. */
  const emit = (b: PlannedBlock, next: string): string => {
    switch (b.kind) {
      case 'leaf': {
        const name = `${LEAF_PREFIX[b.leaf.kind]}${counter++}`;
        names.set(b, name);
        const node = leafNode(name, b.leaf, next, input, options.asyncItems ?? true);
        if (b.onError) node.onError = emit(b.onError, next);
        nodes[name] = node;
        return name;
      }
      case 'seq': {
        // Back to front, so each item knows its successor.
        let entry = next;
        for (let i = b.items.length - 1; i >= 0; i--) entry = emit(b.items[i]!, entry);
        return entry;
      }
      case 'fork': {
        const name = `fork${counter++}`;
        names.set(b, name);
        const entries = b.branches.map((branch) => emit(branch, next));
        nodes[name] = { type: 'sync', operator: 'test/outcome', input: { failures: 0 }, next: entries };
        return name;
      }
      case 'choice': {
        const name = `route${counter++}`;
        names.set(b, name);
        const entries = b.branches.map((branch) => emit(branch, next));
        (b.on === 'input' ? input : params)[name] = b.pick % b.branches.length;
        nodes[name] = {
          type: 'router',
          routes: entries.slice(0, -1).map((to, i) => ({ when: `${b.on}.${name} == ${i}`, next: to })),
          default: entries[entries.length - 1],
        };
        return name;
      }
    }
  };

  const entry = emit(block, 'done');
  const workflow: WorkflowObject = {
    name: 'planned',
    ...(Object.keys(params).length > 0 ? { params } : {}),
    nodes: { begin: { type: 'start', next: entry }, ...nodes, done: { type: 'end' } },
  };

  const expected = new Map<string, NodeExpectation>();
  const fails = blockFails(block);
  expected.set('begin', {
    type: 'start',
    runs: 'yes',
    traced: false,
    status: 'SUCCEEDED',
    attempts: 1,
    fatal: false,
  });
  walk(block, 'yes');
  expected.set('done', {
    type: 'end',
    runs: fails ? 'no' : 'yes',
    traced: false,
    status: 'SUCCEEDED',
    attempts: 1,
    fatal: false,
  });
  return { workflow, input, taskStatus: fails ? 'FAILED' : 'SUCCEEDED', nodes: expected };

  function walk(b: PlannedBlock, runs: Runs): void {
    switch (b.kind) {
      case 'leaf': {
        const failed = leafFails(b.leaf);
        expected.set(names.get(b)!, leafExpectation(b.leaf, runs, b.onError === undefined));
        if (b.onError) walk(b.onError, failed ? runs : 'no');
        return;
      }
      case 'seq': {
        let mode = runs;
        for (const item of b.items) {
          walk(item, mode);
          // Nothing after an unhandled failure runs.
          if (blockFails(item)) mode = 'no';
        }
        return;
      }
      case 'fork': {
        expected.set(names.get(b)!, {
          type: 'sync',
          runs,
          traced: true,
          resource: 'cpu',
          status: 'SUCCEEDED',
          attempts: 1,
          fatal: true,
        });
        // A branch that fails stops the others wherever they are: what they ran depends on timing.
        const branchRuns = runs === 'no' ? 'no' : blockFails(b) ? 'maybe' : runs;
        for (const branch of b.branches) walk(branch, branchRuns);
        return;
      }
      case 'choice': {
        const taken = b.pick % b.branches.length;
        expected.set(names.get(b)!, {
          type: 'router',
          runs,
          traced: false,
          status: 'SUCCEEDED',
          attempts: 1,
          fatal: false,
        });
        b.branches.forEach((branch, i) => {
          walk(branch, i === taken ? runs : 'no');
        });
        return;
      }
    }
  }
}

const LEAF_PREFIX: Record<Leaf['kind'], string> = {
  sync: 'sync',
  async: 'async',
  script: 'script',
  parallel: 'each',
  callback: 'notify',
};

function leafNode(
  name: string,
  leaf: Leaf,
  next: string,
  input: Record<string, unknown>,
  asyncItems: boolean,
): NodeObject {
  switch (leaf.kind) {
    case 'sync':
      return {
        type: 'sync',
        operator: 'test/outcome',
        input: { failures: leaf.failures, ms: leaf.ms },
        retry: { maxAttempts: leaf.maxAttempts },
        next,
      };
    case 'async':
      return {
        type: 'async',
        via: leaf.via,
        operator: 'test/outcome',
        input: { failures: leaf.failures, ms: leaf.ms },
        retry: { maxAttempts: leaf.maxAttempts },
        timeout: 60,
        next,
      };
    case 'script':
      return {
        type: 'script',
        language: 'javascript',
        source: leaf.fails ? "throw new Error('planned failure');" : 'return { ok: ctx.task.id.length > 0 };',
        next,
      };
    case 'parallel': {
      input[name] = leaf.items;
      const item = asyncItems ? leaf.item : 'sync';
      return {
        type: 'parallel',
        items: `$.input.${name}`,
        node: {
          type: item,
          ...(item === 'async' ? { via: 'lambda', timeout: 60 } : {}),
          operator: 'test/outcome',
          input: { failures: '$.item' },
          retry: { maxAttempts: leaf.maxAttempts },
        },
        ...(leaf.tolerated > 0 ? { toleratedFailurePercentage: leaf.tolerated } : {}),
        ...(leaf.maxConcurrency === undefined ? {} : { maxConcurrency: leaf.maxConcurrency }),
        ...(leaf.mode === 'distributed' ? { mode: 'distributed' } : {}),
        next,
      };
    }
    case 'callback':
      return {
        type: 'callback',
        target: { kind: 'eventbridge', detailType: 'Planned' },
        payload: { taskId: '$.task.id' },
        next,
      };
  }
}

function leafFails(leaf: Leaf): boolean {
  switch (leaf.kind) {
    case 'sync':
    case 'async':
      return leaf.failures >= leaf.maxAttempts;
    case 'script':
      return leaf.fails;
    case 'parallel': {
      const failed = leaf.items.filter((f) => f >= leaf.maxAttempts).length;
      return (failed / leaf.items.length) * 100 > leaf.tolerated;
    }
    case 'callback':
      return false;
  }
}

/** Whether the block, run to its end, fails with nothing to handle the failure. */
export function blockFails(b: PlannedBlock): boolean {
  switch (b.kind) {
    case 'leaf':
      return leafFails(b.leaf) && (b.onError === undefined || blockFails(b.onError));
    case 'seq':
      return b.items.some(blockFails);
    case 'fork':
      return b.branches.some(blockFails);
    case 'choice':
      return blockFails(b.branches[b.pick % b.branches.length]!);
  }
}

function leafExpectation(leaf: Leaf, runs: Runs, fatal: boolean): NodeExpectation {
  const status = leafFails(leaf) ? 'FAILED' : 'SUCCEEDED';
  switch (leaf.kind) {
    case 'sync':
    case 'async':
      return {
        type: leaf.kind,
        runs,
        traced: true,
        resource: leaf.kind === 'async' && leaf.via === 'batch' ? 'gpu' : 'cpu',
        status,
        attempts: Math.min(leaf.failures + 1, leaf.maxAttempts),
        fatal,
      };
    case 'script':
      return { type: 'script', runs, traced: true, resource: 'cpu', status, attempts: 1, fatal };
    case 'parallel': {
      const segments = leaf.items.map((f) => ({
        status: f >= leaf.maxAttempts ? ('FAILED' as const) : ('SUCCEEDED' as const),
        attempts: Math.min(f + 1, leaf.maxAttempts),
      }));
      // Without tolerance the first failed item stops the Map: the others end where they were.
      const allRun = leaf.tolerated > 0 || segments.every((s) => s.status === 'SUCCEEDED');
      return {
        type: 'parallel',
        runs,
        traced: false,
        resource: 'cpu',
        status,
        attempts: 1,
        ...(allRun ? { segments } : {}),
        fatal,
      };
    }
    case 'callback':
      return { type: 'callback', runs, traced: false, status, attempts: 1, fatal: false };
  }
}

/**
 * A random fork/join DAG (mostly not series-parallel, see arbitraryDagShape) of sync nodes with planned
 * failures and retries, no handlers: the task fails iff some node fails; then what runs besides depends
 * on timing, except that nothing after a failed node runs.
 */
export function arbitraryPlannedDagRun(options: { maxNodes?: number } = {}): fc.Arbitrary<PlannedRun> {
  return arbitraryDagShape({ maxNodes: options.maxNodes ?? 10 }).chain((shape) => {
    const k = shape.successors.length;
    const each = <T>(arbitrary: fc.Arbitrary<T>) => fc.array(arbitrary, { minLength: k, maxLength: k });
    return fc
      .record({
        failures: each(fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 1, 2)),
        attempts: each(fc.integer({ min: 1, max: 2 })),
        ms: each(msArbitrary),
      })
      .map((plan) => plannedDagRun(shape, plan));
  });
}

function plannedDagRun(
  shape: DagShape,
  plan: { failures: readonly number[]; attempts: readonly number[]; ms: readonly number[] },
): PlannedRun {
  const workflow = dagShapeToWorkflow(shape, 'planned-dag');
  const k = shape.successors.length;
  const fails = (i: number) => plan.failures[i]! >= plan.attempts[i]!;
  // Everything after a failed node, which waits for it and so never runs.
  const afterFailure = new Set<number>();
  for (let i = 0; i < k; i++)
    if (fails(i) || afterFailure.has(i)) for (const j of shape.successors[i]!) afterFailure.add(j);
  const taskFails = Array.from({ length: k }, (_, i) => i).some(fails);
  const nodes = new Map<string, NodeExpectation>();
  nodes.set('begin', {
    type: 'start',
    runs: 'yes',
    traced: false,
    status: 'SUCCEEDED',
    attempts: 1,
    fatal: false,
  });
  for (let i = 0; i < k; i++) {
    const node = workflow.nodes[`n${i}`]!;
    node.operator = 'test/outcome';
    node.input = { failures: plan.failures[i], ms: plan.ms[i] };
    node.retry = { maxAttempts: plan.attempts[i] };
    delete node.estimate;
    nodes.set(`n${i}`, {
      type: 'sync',
      runs: afterFailure.has(i) ? 'no' : taskFails ? 'maybe' : 'yes',
      traced: true,
      resource: 'cpu',
      status: fails(i) ? 'FAILED' : 'SUCCEEDED',
      attempts: Math.min(plan.failures[i]! + 1, plan.attempts[i]!),
      fatal: true,
    });
  }
  nodes.set('done', {
    type: 'end',
    runs: taskFails ? 'no' : 'yes',
    traced: false,
    status: 'SUCCEEDED',
    attempts: 1,
    fatal: false,
  });
  return { workflow, input: {}, taskStatus: taskFails ? 'FAILED' : 'SUCCEEDED', nodes };
}
