// Compiler properties over random workflows: non-series-parallel fork/join DAGs and structured
// workflows with routers. Each run checks what is cheap at once; asl-validator (70–400 ms a call)
// checks the collected definitions in batches at the end of each property.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type CompileResult, compileWorkflowText } from '../../lib/compiler/compile.js';
import type { AslDefinition } from '../../lib/compiler/emit.js';
import { planEstimates, planToJson, planToMermaid, planToText } from '../../lib/compiler/explain.js';
import { hasErrors } from '../../lib/dag/diagnostics.js';
import { arbitraryDag, arbitraryStructuredWorkflow, type WorkflowObject } from '../support/arbitrary-dags.js';
import { allStateNames, validateAslBatch } from '../support/asl.js';

const RUNS = 100;
const TIMEOUT_MS = 60_000;
/** Step Functions' limit on a state name. */
const MAX_STATE_NAME = 80;

interface Compiled {
  readonly yaml: string;
  readonly optimize: boolean;
  readonly asl: AslDefinition;
}

function compileOrFail(yaml: string, optimize: boolean): CompileResult & { asl: AslDefinition } {
  const result = compileWorkflowText(yaml, { optimize });
  expect(hasErrors(result.diagnostics), JSON.stringify(result.diagnostics)).toBe(false);
  expect(result.asl).toBeDefined();
  return result as CompileResult & { asl: AslDefinition };
}

/** The per-run checks; returns what asl-validator should see. */
function checkCompiles(doc: WorkflowObject): Compiled[] {
  const yaml = stringify(doc);
  return [true, false].map((optimize) => {
    const result = compileOrFail(yaml, optimize);

    const names = allStateNames(result.asl);
    expect(new Set(names).size, `duplicate state names: ${names.join(', ')}`).toBe(names.length);
    for (const name of names) expect(name.length).toBeLessThanOrEqual(MAX_STATE_NAME);

    const json = planToJson(result.plan!);
    expect(json.states.map((s) => s.name).sort()).toEqual([...names].sort());
    const stateNames = new Set(names);
    for (const node of result.dag!.order) {
      const mapped = json.businessNodes.find((b) => b.name === node);
      expect(mapped, `business node '${node}' is not in the plan map`).toBeDefined();
      // No params decide anything here, so every node that can run has a state of its own.
      expect(mapped!.states.length, `business node '${node}' maps to no state`).toBeGreaterThan(0);
      for (const state of mapped!.states) expect(stateNames.has(state)).toBe(true);
    }

    // The nesting can only add waiting: the plan is never faster than the business DAG allows.
    const estimates = planEstimates(result.plan!);
    expect(estimates.makespan).toBeGreaterThanOrEqual(estimates.criticalPath - 1e-9);
    expect(planToText(result.plan!, { explain: true })).toContain('execution plan');
    expect(planToMermaid(result.plan!).startsWith('flowchart TD\n')).toBe(true);

    const again = compileOrFail(yaml, optimize);
    expect(JSON.stringify(again.asl)).toBe(JSON.stringify(result.asl));
    expect(JSON.stringify(planToJson(again.plan!))).toBe(JSON.stringify(json));
    return { yaml, optimize, asl: result.asl };
  });
}

function expectAllValid(compiled: readonly Compiled[]): void {
  const invalid = validateAslBatch(compiled.map((c) => c.asl as unknown as Record<string, unknown>));
  const first = invalid[0];
  if (first) {
    const c = compiled[first.index]!;
    expect.fail(
      `${invalid.length} definition(s) rejected by asl-validator; the first (optimize: ${c.optimize}):\n${first.errors}\n--- workflow ---\n${c.yaml}`,
    );
  }
}

describe('compiler properties', () => {
  it(
    'compiles random fork/join DAGs (mostly not series-parallel) to valid, deterministic ASL',
    () => {
      const compiled: Compiled[] = [];
      fc.assert(
        fc.property(arbitraryDag({ maxNodes: 14 }), (doc) => {
          compiled.push(...checkCompiles(doc));
        }),
        { numRuns: RUNS },
      );
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it(
    'compiles random structured workflows with routers and forks to valid, deterministic ASL',
    () => {
      const compiled: Compiled[] = [];
      fc.assert(
        fc.property(arbitraryStructuredWorkflow(), (doc) => {
          compiled.push(...checkCompiles(doc));
        }),
        { numRuns: RUNS },
      );
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it(
    'batched validation still finds the one definition asl-validator rejects',
    () => {
      const good = { StartAt: 'a', States: { a: { Type: 'Pass', Next: 'b' }, b: { Type: 'Succeed' } } };
      const bad = { StartAt: 'a', States: { a: { Type: 'Pass', Next: 'missing' } } };
      const invalid = validateAslBatch([good, good, bad, good]);
      expect(invalid.map((i) => i.index)).toEqual([2]);
      expect(invalid[0]!.errors).toContain('missing');
    },
    TIMEOUT_MS,
  );
});
