// The graph algorithms the validator and the planner share, against plain reference versions: the
// fast ones must give the same answers, ties and insertion order included.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  commonPostDominator,
  immediatePostDominators,
  nearestCommonPostDominator,
  postDominatorDepths,
  reachableFrom,
  reachesInOrder,
  reverseAdjacency,
  topologicalOrder,
  VIRTUAL_EXIT,
} from '../../lib/dag/graph.js';

interface Graph {
  /** The nodes in a shuffled order (tie-breaks follow it). */
  readonly nodes: string[];
  readonly successors: Map<string, string[]>;
}

/** A random DAG (edges go from lower to higher index), listed in a shuffled order, with some edges to unknown nodes. */
const arbitraryGraph: fc.Arbitrary<Graph> = fc
  .record({
    size: fc.integer({ min: 1, max: 25 }),
    edges: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 60 }),
    swaps: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 25 }),
  })
  .map(({ size, edges, swaps }) => {
    const names = Array.from({ length: size }, (_, i) => `v${i}`);
    const successors = new Map(names.map((n) => [n, [] as string[]]));
    for (const [a, b] of edges) {
      const [i, j] = [a % size, b % size];
      if (i === j) successors.get(names[i]!)!.push(`ghost${i}`);
      else successors.get(names[Math.min(i, j)]!)!.push(names[Math.max(i, j)]!);
    }
    const nodes = [...names];
    for (const [a, b] of swaps) {
      const [i, j] = [a % size, b % size];
      [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
    }
    return { nodes, successors };
  });

/** Kahn's algorithm written plainly: ready nodes in the given order, first in first out. */
function referenceTopologicalOrder(nodes: readonly string[], successors: Map<string, string[]>): string[] {
  const indegree = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const n of nodes)
    for (const s of successors.get(n) ?? []) if (indegree.has(s)) indegree.set(s, indegree.get(s)! + 1);
  const ready = nodes.filter((n) => indegree.get(n) === 0);
  for (let i = 0; i < ready.length; i++) {
    for (const s of successors.get(ready[i]!) ?? []) {
      if (!indegree.has(s)) continue;
      indegree.set(s, indegree.get(s)! - 1);
      if (indegree.get(s) === 0) ready.push(s);
    }
  }
  return ready;
}

/**
 * Immediate post-dominators by definition: pdom(n) = {n} ∪ ⋂ pdom(successors) (a sink goes to the
 * virtual exit); the immediate one is the member whose own set is pdom(n) without n.
 */
function referencePostDominators(
  order: readonly string[],
  successors: Map<string, string[]>,
): Map<string, string> {
  const pdom = new Map<string, Set<string>>([[VIRTUAL_EXIT, new Set([VIRTUAL_EXIT])]]);
  for (const n of [...order].reverse()) {
    const targets = successors.get(n) ?? [];
    const sets =
      targets.length === 0
        ? [pdom.get(VIRTUAL_EXIT)!]
        : targets.filter((t) => pdom.has(t)).map((t) => pdom.get(t)!);
    // Edges that leave the order (or reach only such nodes) are not followed.
    if (sets.length === 0) continue;
    const common = new Set([...sets[0]!].filter((d) => sets.every((s) => s.has(d))));
    pdom.set(n, new Set([n, ...common]));
  }
  const ipdom = new Map<string, string>([[VIRTUAL_EXIT, VIRTUAL_EXIT]]);
  for (const n of [...order].reverse()) {
    const set = pdom.get(n);
    if (!set) continue;
    const strict = [...set].filter((d) => d !== n);
    const closest = strict.find((d) => pdom.get(d)!.size === strict.length);
    if (closest !== undefined) ipdom.set(n, closest);
  }
  return ipdom;
}

describe('graph algorithms', () => {
  it('topologicalOrder is Kahn’s order with ties in the given order', () => {
    fc.assert(
      fc.property(arbitraryGraph, ({ nodes, successors }) => {
        expect(topologicalOrder(nodes, successors)).toEqual(referenceTopologicalOrder(nodes, successors));
        const some = nodes.filter((_, i) => i % 3 !== 1);
        expect(topologicalOrder(some, successors)).toEqual(referenceTopologicalOrder(some, successors));
      }),
      { numRuns: 500 },
    );
  });

  it('immediatePostDominators matches the definition, on whole and partial orders', () => {
    fc.assert(
      fc.property(arbitraryGraph, ({ nodes, successors }) => {
        const order = topologicalOrder(nodes, successors);
        const ipdom = immediatePostDominators(order, successors);
        expect(new Map([...ipdom].sort())).toEqual(
          new Map([...referencePostDominators(order, successors)].sort()),
        );
        const partial = topologicalOrder(
          nodes.filter((_, i) => i % 4 !== 2),
          successors,
        );
        const partialIpdom = immediatePostDominators(partial, successors);
        expect(new Map([...partialIpdom].sort())).toEqual(
          new Map([...referencePostDominators(partial, successors)].sort()),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('nearestCommonPostDominator answers as commonPostDominator does', () => {
    fc.assert(
      fc.property(
        arbitraryGraph,
        fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), { maxLength: 10 }),
        ({ nodes, successors }, picks) => {
          const order = topologicalOrder(nodes, successors);
          const ipdom = immediatePostDominators(order, successors);
          const depths = postDominatorDepths(order, ipdom);
          for (const pick of picks) {
            const targets = pick.map((p) => order[p % order.length]!);
            expect(nearestCommonPostDominator(targets, ipdom, depths)).toBe(
              commonPostDominator(targets, ipdom),
            );
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reachesInOrder answers as a full reachability walk does', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(arbitraryGraph, ({ nodes, successors }) => {
        const order = topologicalOrder(nodes, successors);
        const position = new Map(order.map((n, i) => [n, i]));
        const predecessors = reverseAdjacency(nodes, successors);
        for (const from of order) {
          const reachable = reachableFrom([from], successors);
          for (const to of order) {
            expect(reachesInOrder(from, to, predecessors, position)).toBe(reachable.has(to));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
