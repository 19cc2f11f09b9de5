// fast-check generators of valid workflows, shared by the validator, compiler and engine properties.
import fc from 'fast-check';

export type NodeObject = Record<string, unknown> & { type: string; next?: unknown; routes?: unknown };
export interface WorkflowObject {
  name: string;
  nodes: Record<string, NodeObject>;
  [key: string]: unknown;
}

export interface DagShape {
  /** successors[i]: indexes (> i) of node i's successors; empty means it goes to the end. */
  readonly successors: readonly (readonly number[])[];
  readonly estimates: readonly number[];
}

/**
 * A random DAG of n sync nodes in topological order n0..n(k-1): every node has a predecessor (so all
 * are reachable) and goes on to later nodes or to the end. Mostly not series-parallel.
 */
export function arbitraryDagShape(
  options: { minNodes?: number; maxNodes?: number } = {},
): fc.Arbitrary<DagShape> {
  const { minNodes = 1, maxNodes = 12 } = options;
  return fc
    .integer({ min: minNodes, max: maxNodes })
    .chain((k) =>
      fc.record({
        picks: fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: k, maxLength: k }),
        parents: fc.array(fc.nat(), { minLength: k, maxLength: k }),
        estimates: fc.array(fc.integer({ min: 1, max: 500 }), { minLength: k, maxLength: k }),
      }),
    )
    .map(({ picks, parents, estimates }) => {
      const k = picks.length;
      const successors = picks.map((list, i) => {
        const later = k - i - 1;
        return later === 0 ? [] : [...new Set(list.map((p) => i + 1 + (p % later)))].sort((a, b) => a - b);
      });
      for (let j = 1; j < k; j++) {
        if (!successors.some((s) => s.includes(j))) {
          const parent = parents[j]! % j;
          successors[parent] = [...successors[parent]!, j].sort((a, b) => a - b);
        }
      }
      return { successors, estimates: estimates.map((e) => e / 1000) };
    });
}

export function dagShapeToWorkflow(shape: DagShape, name = 'random-dag'): WorkflowObject {
  const nodes: Record<string, NodeObject> = { begin: { type: 'start', next: 'n0' } };
  shape.successors.forEach((targets, i) => {
    const next =
      targets.length === 0 ? 'done' : targets.length === 1 ? `n${targets[0]}` : targets.map((t) => `n${t}`);
    nodes[`n${i}`] = { type: 'sync', operator: `test/n${i}`, estimate: shape.estimates[i], next };
  });
  nodes.done = { type: 'end' };
  return { name, nodes };
}

export function arbitraryDag(
  options: { minNodes?: number; maxNodes?: number } = {},
): fc.Arbitrary<WorkflowObject> {
  return arbitraryDagShape(options).map((shape) => dagShapeToWorkflow(shape));
}

type Block =
  | { readonly kind: 'op' }
  | { readonly kind: 'seq'; readonly items: readonly Block[] }
  | { readonly kind: 'fork'; readonly branches: readonly Block[] }
  | { readonly kind: 'choice'; readonly branches: readonly Block[] };

const blockArbitrary: fc.Arbitrary<Block> = fc.letrec<{ block: Block }>((tie) => ({
  block: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Block>({ kind: 'op' }),
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
      branches: fc.array(tie('block'), { minLength: 2, maxLength: 3 }),
    }),
  ),
})).block;

/**
 * A random structured workflow: sequences, forks that join, and routers whose routes meet again.
 */
export function arbitraryStructuredWorkflow(
  options: { minRouters?: number } = {},
): fc.Arbitrary<WorkflowObject> {
  return blockArbitrary
    .map((block) => blockToWorkflow(block))
    .filter(
      (doc) =>
        Object.values(doc.nodes).filter((n) => n.type === 'router').length >= (options.minRouters ?? 0),
    );
}

function blockToWorkflow(block: Block): WorkflowObject {
  const nodes: Record<string, NodeObject> = {};
  let counter = 0;
  const fresh = (prefix: string) => `${prefix}${counter++}`;

  /** Emits the block so that it continues to `next`; returns its entry node. */
  const emit = (b: Block, next: string): string => {
    switch (b.kind) {
      case 'op': {
        const name = fresh('op');
        nodes[name] = {
          type: 'sync',
          operator: `test/${name}`,
          input: { x: '$.input.x', task: '$.task.id' },
          next,
        };
        return name;
      }
      case 'seq': {
        // Back to front, so each item knows its successor.
        let entry = next;
        for (let i = b.items.length - 1; i >= 0; i--) entry = emit(b.items[i]!, entry);
        return entry;
      }
      case 'fork': {
        const fork = fresh('fork');
        const entries = b.branches.map((branch) => emit(branch, next));
        nodes[fork] = { type: 'sync', operator: `test/${fork}`, next: entries };
        return fork;
      }
      case 'choice': {
        const router = fresh('route');
        const entries = b.branches.map((branch) => emit(branch, next));
        nodes[router] = {
          type: 'router',
          routes: entries.slice(0, -1).map((to, i) => ({ when: `input.k == ${i}`, next: to })),
          default: entries[entries.length - 1],
        };
        return router;
      }
    }
  };

  const entry = emit(block, 'done');
  return {
    name: 'structured',
    nodes: { begin: { type: 'start', next: entry }, ...nodes, done: { type: 'end' } },
  };
}
