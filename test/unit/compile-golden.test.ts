// Golden ASL for every example workflow (and a fixture with what the examples do not show), optimized
// and not: the bytes `dag compile` prints. Regenerate with `npx vitest run test/unit/compile-golden -u`
// and read the diff: it is the compiler's observable output.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import type { AslDefinition } from '../../lib/compiler/emit.js';
import { planToJson } from '../../lib/compiler/explain.js';
import { hasErrors } from '../../lib/dag/diagnostics.js';
import { reportingPlanOf } from '../../lib/runtime/reporting.js';
import { allStateNames, validateAsl } from '../support/asl.js';

const WORKFLOWS = [
  ...readdirSync('workflows')
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join('workflows', f)),
  'test/fixtures/workflows/compiler-features.yaml',
];

function compileText(file: string, optimize: boolean): string {
  const result = compileWorkflowText(readFileSync(file, 'utf8'), { optimize });
  expect(hasErrors(result.diagnostics), JSON.stringify(result.diagnostics)).toBe(false);
  expect(result.asl).toBeDefined();
  return `${JSON.stringify(result.asl, null, 2)}\n`;
}

describe.each(WORKFLOWS)('%s', (file) => {
  const name = basename(file, '.yaml');
  describe.each([
    { optimize: true, golden: `${name}.asl.json` },
    { optimize: false, golden: `${name}.no-optimize.asl.json` },
  ])('optimize: $optimize', ({ optimize, golden }) => {
    it('matches its golden ASL', async () => {
      await expect(compileText(file, optimize)).toMatchFileSnapshot(join('../fixtures/golden', golden));
    });

    it('passes asl-validator with paths and ARNs checked', () => {
      const check = validateAsl(JSON.parse(compileText(file, optimize)));
      expect(check.errors).toBe('');
      expect(check.isValid).toBe(true);
    });

    it('compiles to the same bytes every time', () => {
      expect(compileText(file, optimize)).toBe(compileText(file, optimize));
    });

    it('names every state once, and the plan map lists exactly the emitted states', () => {
      const result = compileWorkflowText(readFileSync(file, 'utf8'), { optimize });
      const names = allStateNames(result.asl as AslDefinition);
      expect(new Set(names).size).toBe(names.length);
      const json = planToJson(result.plan!);
      expect(json.states.map((s) => s.name).sort()).toEqual([...names].sort());
      for (const node of result.dag!.order) {
        const mapped = json.businessNodes.find((b) => b.name === node)!;
        const accounted =
          mapped.states.length > 0 ||
          json.decidedRouters.some((d) => d.router === node) ||
          json.pruned.some((p) => p.node === node);
        expect(accounted, `business node '${node}' has no state`).toBe(true);
      }
    });
  });
});

// dag-spec §2's compilation rules, checked on the outputs above rather than only by eye.
describe('the golden ASL follows dag-spec §2', () => {
  type State = Record<string, unknown> & { Type: string };
  const compiled = (file: string) => compileWorkflowText(readFileSync(file, 'utf8')).asl as AslDefinition;
  const features = compiled('test/fixtures/workflows/compiler-features.yaml');
  const states = features.States as Record<string, State>;

  it('gives a Map item its item, order and the task', () => {
    const map = compiled('workflows/slice-transcode.yaml').States.transcode as State;
    expect(map.ItemSelector).toMatchObject({
      'item.$': '$$.Map.Item.Value',
      'order.$': '$$.Map.Item.Index',
      'task.$': '$.task',
    });
  });

  it('runs async nodes through the dispatch function with a task token and a heartbeat', () => {
    const whole = compiled('workflows/slice-transcode.yaml').States.whole as State;
    expect(whole.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(whole).toMatchObject({ TimeoutSeconds: 3600, HeartbeatSeconds: 120 });
    expect((whole.Parameters as { Payload: Record<string, unknown> }).Payload['taskToken.$']).toBe(
      '$$.Task.Token',
    );
  });

  it('retries maxAttempts - 1 times, every error, with full jitter', () => {
    expect(states.fetch!.Retry).toEqual([
      {
        ErrorEquals: ['States.ALL'],
        MaxAttempts: 3,
        IntervalSeconds: 2,
        BackoffRate: 1.5,
        JitterStrategy: 'FULL',
      },
    ]);
  });

  it('catches onError into a Pass that reshapes {Error, Cause} at $.errors.<node>', () => {
    expect(states.fetch!.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.errors.fetch', Next: 'fetch_error' },
    ]);
    expect(states.fetch_error).toEqual({
      Type: 'Pass',
      Parameters: { 'error.$': '$.errors.fetch.Error', 'cause.$': '$.errors.fetch.Cause' },
      ResultPath: '$.errors.fetch',
      Next: 'recover',
    });
  });

  it('guards every Choice comparison with IsPresent and a type test', () => {
    const route = compiled('workflows/slice-transcode.yaml').States.route as State;
    const text = JSON.stringify(route.Choices);
    for (const path of ['$.nodes.probe.durationSec', '$.input.mode']) {
      expect(text).toContain(JSON.stringify({ Variable: path, IsPresent: true }));
    }
    expect(text).toContain(JSON.stringify({ Variable: '$.nodes.probe.durationSec', IsNumeric: true }));
    expect(text).toContain(JSON.stringify({ Variable: '$.input.mode', IsString: true }));
  });

  it('merges Parallel branches back into one context with States.JsonMerge', () => {
    const fork = compiled('workflows/media-analysis.yaml').States.probe_fork as State;
    expect(fork.ResultSelector).toMatchObject({
      'nodes.$': 'States.JsonMerge($[0].nodes, $[1].nodes, false)',
      'errors.$': 'States.JsonMerge($[0].errors, $[1].errors, false)',
    });
  });

  it('removes a router that params decide, and the branches it does not take', () => {
    expect(states.quality).toBeUndefined();
    expect(states.hd).toBeUndefined();
    expect(states.pro).toBeUndefined();
    expect(states.fetch!.Next).toBe('sd');
    expect(states.orphan).toBeUndefined();
  });
});

describe('the plan map (planToJson)', () => {
  it('reports chained decided routers on the state the last one leads to', () => {
    const text = `name: chained-decided
params: { a: true, b: true }
nodes:
  begin: { type: start, next: r1 }
  r1: { type: router, routes: [{ when: params.a, next: r2 }], default: x }
  r2: { type: router, routes: [{ when: params.b, next: y }], default: z }
  x: { type: sync, operator: t/x, next: done }
  y: { type: sync, operator: t/y, next: done }
  z: { type: sync, operator: t/z, next: done }
  done: { type: end }
`;
    const plan = compileWorkflowText(text).plan!;
    // The map by business node says where each router goes; tracking reads the state entered.
    expect(planToJson(plan).decidedRouters).toEqual([
      { router: 'r1', next: 'r2' },
      { router: 'r2', next: 'y' },
    ]);
    expect(reportingPlanOf(plan).decidedRouters).toEqual({ y: ['r1', 'r2'] });
  });

  it('keeps a Pass for a decided router whose next state is also entered another way', () => {
    const text = `name: decided-shared
params: { a: true }
nodes:
  begin: { type: start, next: q }
  q: { type: router, routes: [{ when: input.go == true, next: r }], default: n }
  r: { type: router, routes: [{ when: params.a, next: n }], default: m }
  m: { type: sync, operator: t/m, next: n }
  n: { type: sync, operator: t/n, next: done }
  done: { type: end }
`;
    const result = compileWorkflowText(text);
    expect(result.asl!.States.r).toEqual({ Type: 'Pass', Next: 'n' });
    expect(reportingPlanOf(result.plan!).states.r).toEqual({ node: 'r', type: 'router' });
    const json = planToJson(result.plan!);
    expect(json.decidedRouters).toEqual([]);
    expect(json.pruned).toEqual([{ node: 'm', reason: 'branch-not-taken' }]);
  });

  it('keeps an end that a decided router leads to, whose entry records the router', () => {
    const text = `name: decided-to-end
params: { a: true }
nodes:
  begin: { type: start, next: work }
  work: { type: sync, operator: t/w, next: pick }
  pick: { type: router, routes: [{ when: params.a, next: done }], default: other }
  other: { type: sync, operator: t/o, next: done }
  done: { type: end }
`;
    const result = compileWorkflowText(text);
    expect(result.asl!.States.done).toBeDefined();
    expect(reportingPlanOf(result.plan!).decidedRouters).toEqual({ done: ['pick'] });
  });

  it('records a router as decided only when it runs', () => {
    // r1 rules out the branch holding r2: r2 never runs, so it is pruned, not decided.
    const text = `name: nested-decided
params: { a: false, b: true }
nodes:
  begin: { type: start, next: r1 }
  r1: { type: router, routes: [{ when: params.a, next: r2 }], default: x }
  r2: { type: router, routes: [{ when: params.b, next: y }], default: z }
  x: { type: sync, operator: t/x, next: done }
  y: { type: sync, operator: t/y, next: done }
  z: { type: sync, operator: t/z, next: done }
  done: { type: end }
`;
    const json = planToJson(compileWorkflowText(text).plan!);
    expect(json.decidedRouters).toEqual([{ router: 'r1', next: 'x' }]);
    expect(json.pruned).toEqual([
      { node: 'r2', reason: 'branch-not-taken' },
      { node: 'y', reason: 'branch-not-taken' },
      { node: 'z', reason: 'branch-not-taken' },
    ]);
    expect(json.businessNodes.find((b) => b.name === 'begin')!.states).toEqual(['x']);
    expect(json.passes.find((p) => p.pass === 'prune-decided-routers')!.changes).not.toContainEqual(
      expect.stringContaining("router 'r2'"),
    );
  });
});
