// AND-DAGs (every unit runs, each after all its predecessors) for the nesting and barrier tests: made
// by hand or from a random shape, shown compactly, and their critical path computed independently of
// the planner's own code.
import type { AndDag, NestTree } from '../../lib/compiler/structure.js';
import type { DagShape } from './arbitrary-dags.js';

export function andDag(edges: Record<string, string[]>, weights: Record<string, number> = {}): AndDag {
  const order = Object.keys(edges);
  return {
    order,
    successors: new Map(order.map((id) => [id, edges[id]!])),
    weight: (id) => weights[id] ?? 1,
  };
}

export function shapeToAndDag(shape: DagShape): AndDag {
  const order = shape.successors.map((_, i) => `n${i}`);
  return {
    order,
    successors: new Map(shape.successors.map((targets, i) => [`n${i}`, targets.map((t) => `n${t}`)])),
    weight: (id) => shape.estimates[Number(id.slice(1))]!,
  };
}

/** A compact form for assertions: `a`, `seq(a, b)`, `par(a, b)`. */
export function show(tree: NestTree): string {
  if (tree.kind === 'unit') return tree.id;
  const parts = (tree.kind === 'seq' ? tree.items : tree.branches).map(show);
  return `${tree.kind}(${parts.join(', ')})`;
}

export function unitsOf(tree: NestTree): string[] {
  if (tree.kind === 'unit') return [tree.id];
  return (tree.kind === 'seq' ? tree.items : tree.branches).flatMap(unitsOf);
}

export function predecessorsOf(dag: AndDag): Map<string, string[]> {
  const predecessors = new Map<string, string[]>(dag.order.map((id) => [id, []]));
  for (const id of dag.order)
    for (const next of dag.successors.get(id) ?? []) predecessors.get(next)!.push(id);
  return predecessors;
}

/** The longest weighted path: the best any schedule can do. */
export function criticalPath(dag: AndDag): number {
  const predecessors = predecessorsOf(dag);
  const finish = new Map<string, number>();
  for (const id of dag.order) {
    const start = Math.max(0, ...predecessors.get(id)!.map((p) => finish.get(p)!));
    finish.set(id, start + dag.weight(id));
  }
  return Math.max(0, ...finish.values());
}
