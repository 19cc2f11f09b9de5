// planNesting with `fastest`: cross-branch barriers that bring a nesting to the critical path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type NestPlan, planNesting, scheduleNestPlan } from '../../lib/compiler/barriers.js';
import { type AndDag, nestAndDag, nestMakespan } from '../../lib/compiler/structure.js';
import { andDag, criticalPath, shapeToAndDag, show, unitsOf } from '../support/and-dags.js';
import { arbitraryDagShape } from '../support/arbitrary-dags.js';

/** Every DAG edge holds in the schedule: a unit starts only after each predecessor finished. */
function expectDependenciesHeld(dag: AndDag, plan: NestPlan): void {
  const { units } = scheduleNestPlan(plan, dag.weight);
  for (const id of dag.order)
    for (const next of dag.successors.get(id) ?? [])
      expect(units.get(next)!.start, `${id} -> ${next}`).toBeGreaterThanOrEqual(units.get(id)!.finish - 1e-9);
}

describe('planNesting', () => {
  // The N: d needs a and b, c needs only b. No nesting runs both a -> d and b -> c at full speed.
  const n = andDag({ a: ['d'], b: ['c', 'd'], c: [], d: [] }, { a: 400, b: 300, c: 400, d: 100 });

  it('cheapest is the nesting alone, with no barriers', () => {
    const plan = planNesting(n, 'cheapest');
    expect(plan.barriers).toEqual([]);
    expect(show(plan.tree)).toBe(show(nestAndDag(n)));
    expect(nestMakespan(plan.tree, n.weight)).toBe(800);
  });

  it('fastest hoists the unit a cut holds back, with one barrier, to the critical path', () => {
    expect(criticalPath(n)).toBe(700);
    const plan = planNesting(n, 'fastest');
    expect(scheduleNestPlan(plan, n.weight).makespan).toBe(700);
    // The cheapest nesting runs c and d after both a and b; c needs only b, so c goes beside them.
    expect(show(nestAndDag(n))).toBe('seq(par(a, b), par(c, d))');
    expect(plan.barriers).toEqual([{ consumer: 'c', producers: ['b'] }]);
    expect(show(plan.tree)).toBe('par(seq(par(a, b), d), c)');
    expectDependenciesHeld(n, plan);
  });

  it('stops within the slack: a plan close enough keeps its nesting', () => {
    // 800 is within 15% of 700: no barrier is worth it at that slack.
    expect(planNesting(n, 'fastest', { slack: 0.15 }).barriers).toEqual([]);
  });

  it('adds no barrier where the nesting already reaches the critical path', () => {
    // The example: b can run after a at no cost, since c on the other side takes longer.
    const dag = andDag(
      { s: ['a', 'b'], a: ['c', 'd'], b: ['d'], c: ['e'], d: ['e'], e: [] },
      { s: 0, a: 100, b: 400, c: 500, d: 100, e: 0 },
    );
    const plan = planNesting(dag, 'fastest');
    expect(plan.barriers).toEqual([]);
    expect(scheduleNestPlan(plan, dag.weight).makespan).toBe(600);
  });

  it('never adds a barrier to a series-parallel DAG', () => {
    const dag = andDag({ s: ['a', 'b'], a: ['c', 'd'], b: ['e'], c: ['f'], d: ['f'], f: ['e'], e: [] });
    expect(planNesting(dag, 'fastest').barriers).toEqual([]);
  });
});

describe('planNesting properties', () => {
  const shapes = arbitraryDagShape({ minNodes: 2, maxNodes: 40 });
  // Past 200 units the planner hoists every held-back unit of a round at once: cover that path too.
  const large = arbitraryDagShape({ minNodes: 201, maxNodes: 260 });

  it('on large regions too (all held-back units per round): critical path, dependencies kept', () => {
    fc.assert(
      fc.property(large, (shape) => {
        const dag = shapeToAndDag(shape);
        const plan = planNesting(dag, 'fastest', { slack: 0 });
        expect(scheduleNestPlan(plan, dag.weight).makespan).toBeCloseTo(criticalPath(dag), 9);
        expectDependenciesHeld(dag, plan);
      }),
      { numRuns: 15 },
    );
  });

  it('fastest reaches the critical path, keeps every dependency, and runs every unit once', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const dag = shapeToAndDag(shape);
        const plan = planNesting(dag, 'fastest', { slack: 0 });
        expect(unitsOf(plan.tree).sort()).toEqual([...dag.order].sort());
        expect(scheduleNestPlan(plan, dag.weight).makespan).toBeCloseTo(criticalPath(dag), 9);
        const slack = planNesting(dag, 'fastest');
        expect(scheduleNestPlan(slack, dag.weight).makespan).toBeLessThanOrEqual(
          criticalPath(dag) * 1.01 + 1e-9,
        );
        expectDependenciesHeld(dag, slack);
        expectDependenciesHeld(dag, plan);
      }),
      { numRuns: 300 },
    );
  });

  it('barriers join units of different branches, each producer a predecessor of its consumer', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const dag = shapeToAndDag(shape);
        const plan = planNesting(dag, 'fastest');
        for (const { consumer, producers } of plan.barriers) {
          expect(producers.length).toBeGreaterThan(0);
          for (const producer of producers) expect(dag.successors.get(producer)).toContain(consumer);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('fastest is never slower than cheapest, and with equal estimates either way', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const dag = shapeToAndDag(shape);
        const fast = scheduleNestPlan(planNesting(dag, 'fastest'), dag.weight).makespan;
        const cheap = scheduleNestPlan(planNesting(dag, 'cheapest'), dag.weight).makespan;
        expect(fast).toBeLessThanOrEqual(cheap + 1e-9);
        expect(cheap).toBeCloseTo(nestMakespan(nestAndDag(dag), dag.weight), 9);
      }),
      { numRuns: 200 },
    );
  });
});
