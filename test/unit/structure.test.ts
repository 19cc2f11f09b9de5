// nestAndDag: any AND-DAG -> nested sequence/parallel tree (what ASL's Parallel states can express).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AndDag, type NestTree, nestAndDag, nestMakespan } from '../../lib/compiler/structure.js';
import { andDag, criticalPath, predecessorsOf, shapeToAndDag, show, unitsOf } from '../support/and-dags.js';
import { arbitraryDagShape } from '../support/arbitrary-dags.js';

const EPSILON = 1e-9;

/** Start and finish of every unit when the tree runs: a sequence one after another, a par together. */
function schedule(
  tree: NestTree,
  weight: (id: string) => number,
): Map<string, { start: number; finish: number }> {
  const times = new Map<string, { start: number; finish: number }>();
  const run = (t: NestTree, at: number): number => {
    switch (t.kind) {
      case 'unit': {
        const finish = at + weight(t.id);
        times.set(t.id, { start: at, finish });
        return finish;
      }
      case 'seq':
        return t.items.reduce((time, item) => run(item, time), at);
      case 'par':
        return t.branches.reduce((latest, branch) => Math.max(latest, run(branch, at)), at);
    }
  };
  run(tree, 0);
  return times;
}

/** Levels by longest path (in edges) from the sources; each level waits for the previous one whole. */
function levelScheduleMakespan(dag: AndDag): number {
  const predecessors = predecessorsOf(dag);
  const level = new Map<string, number>();
  for (const id of dag.order)
    level.set(id, Math.max(-1, ...predecessors.get(id)!.map((p) => level.get(p)!)) + 1);
  const longest = new Map<number, number>();
  for (const id of dag.order)
    longest.set(level.get(id)!, Math.max(longest.get(level.get(id)!) ?? 0, dag.weight(id)));
  return [...longest.values()].reduce((sum, w) => sum + w, 0);
}

describe('nestAndDag on hand-made graphs', () => {
  it('keeps a chain a sequence', () => {
    const tree = nestAndDag(andDag({ a: ['b'], b: ['c'], c: [] }));
    expect(show(tree)).toBe('seq(a, b, c)');
  });

  it('nests a diamond as a Parallel between its fork and join', () => {
    const tree = nestAndDag(andDag({ s: ['a', 'b'], a: ['e'], b: ['e'], e: [] }));
    expect(show(tree)).toBe('seq(s, par(a, b), e)');
  });

  it('runs two independent chains side by side', () => {
    const tree = nestAndDag(andDag({ a: ['b'], b: [], c: ['d'], d: [] }));
    expect(show(tree)).toBe('par(seq(a, b), seq(c, d))');
  });

  it('keeps the critical path of the non-series-parallel s->[a,b]; a->[c,d]; b->d; [c,d]->e', () => {
    // No nesting is exact here: d needs a and b, c needs only a. Running b after a costs nothing
    // (b + d = 500 <= c = 500), while waiting for both a and b before c and d would cost 900.
    const weights = { s: 0, a: 100, b: 400, c: 500, d: 100, e: 0 };
    const dag = andDag({ s: ['a', 'b'], a: ['c', 'd'], b: ['d'], c: ['e'], d: ['e'], e: [] }, weights);
    const tree = nestAndDag(dag);
    expect(show(tree)).toBe('seq(s, a, par(seq(b, d), c), e)');
    expect(criticalPath(dag)).toBe(600);
    expect(nestMakespan(tree, dag.weight)).toBe(600);
    expect(levelScheduleMakespan(dag)).toBe(900);
  });

  it('nests the media-analysis fork region at its critical path', () => {
    const weights = { keyframes: 0.1, loudness: 0.4, thumbnails: 0.5, highlights: 0.1 };
    const dag = andDag(
      { keyframes: ['thumbnails', 'highlights'], loudness: ['highlights'], thumbnails: [], highlights: [] },
      weights,
    );
    const tree = nestAndDag(dag);
    expect(show(tree)).toBe('seq(keyframes, par(seq(loudness, highlights), thumbnails))');
    expect(nestMakespan(tree, dag.weight)).toBeCloseTo(0.6, 9);
    expect(criticalPath(dag)).toBeCloseTo(0.6, 9);
  });
});

describe('nestAndDag properties', () => {
  const shapes = fc.oneof(
    arbitraryDagShape({ maxNodes: 12 }),
    arbitraryDagShape({ minNodes: 20, maxNodes: 48 }),
  );

  it('places every unit exactly once', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const dag = shapeToAndDag(shape);
        expect(unitsOf(nestAndDag(dag)).sort()).toEqual([...dag.order].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('starts every unit after all its predecessors have finished', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const dag = shapeToAndDag(shape);
        const times = schedule(nestAndDag(dag), dag.weight);
        for (const from of dag.order)
          for (const to of dag.successors.get(from) ?? [])
            expect(times.get(to)!.start, `${from} -> ${to}`).toBeGreaterThanOrEqual(
              times.get(from)!.finish - EPSILON,
            );
      }),
      { numRuns: 300 },
    );
  });

  it('is never faster than the critical path nor slower than the level-by-level schedule', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const dag = shapeToAndDag(shape);
        const makespan = nestMakespan(nestAndDag(dag), dag.weight);
        expect(makespan).toBeGreaterThanOrEqual(criticalPath(dag) - EPSILON);
        expect(makespan).toBeLessThanOrEqual(levelScheduleMakespan(dag) + EPSILON);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps series-parallel graphs (forks that join) at their critical path', () => {
    // A random series-parallel graph: chains and diamonds composed, from a random binary recipe.
    const recipe: fc.Arbitrary<SpRecipe> = fc.letrec<{ sp: SpRecipe }>((tie) => ({
      sp: fc.oneof(
        { depthSize: 'small' },
        fc.integer({ min: 1, max: 500 }).map((w) => ({ kind: 'unit' as const, w })),
        fc.tuple(tie('sp'), tie('sp')).map(([a, b]) => ({ kind: 'seq' as const, a, b })),
        fc.tuple(tie('sp'), tie('sp')).map(([a, b]) => ({ kind: 'par' as const, a, b })),
      ),
    })).sp;
    fc.assert(
      fc.property(recipe, (sp) => {
        const dag = spToAndDag(sp);
        expect(nestMakespan(nestAndDag(dag), dag.weight)).toBeCloseTo(criticalPath(dag), 9);
      }),
      { numRuns: 200 },
    );
  });
});

type SpRecipe =
  | { readonly kind: 'unit'; readonly w: number }
  | { readonly kind: 'seq' | 'par'; readonly a: SpRecipe; readonly b: SpRecipe };

/** Builds the graph of a recipe: seq joins every sink of a to every source of b; par puts them side by side. */
function spToAndDag(sp: SpRecipe): AndDag {
  const successors = new Map<string, string[]>();
  const weights = new Map<string, number>();
  const order: string[] = [];
  const build = (r: SpRecipe): { sources: string[]; sinks: string[] } => {
    if (r.kind === 'unit') {
      const id = `u${order.length}`;
      order.push(id);
      successors.set(id, []);
      weights.set(id, r.w);
      return { sources: [id], sinks: [id] };
    }
    const a = build(r.a);
    const b = build(r.b);
    if (r.kind === 'par') return { sources: [...a.sources, ...b.sources], sinks: [...a.sinks, ...b.sinks] };
    for (const sink of a.sinks) successors.get(sink)!.push(...b.sources);
    return { sources: a.sources, sinks: b.sinks };
  };
  build(sp);
  return { order, successors, weight: (id) => weights.get(id)! };
}
