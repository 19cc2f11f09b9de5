// The optimisation may never change behaviour: optimised and unoptimised plans of the same workflow
// give the same events, outputs and statuses on the embedded engine.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { EmbeddedEngine, type TaskResult } from '../../lib/local/engine.js';
import { arbitraryDag, arbitraryStructuredWorkflow, type WorkflowObject } from '../support/arbitrary-dags.js';

/** Random DAGs per property; DAG_PROPERTY_RUNS raises it for a longer soak. */
const RUNS = Number(process.env.DAG_PROPERTY_RUNS ?? 40);

let engine: EmbeddedEngine;

beforeAll(async () => {
  engine = await EmbeddedEngine.start({ operatorsDir: 'test/fixtures/operators', retryDelayMs: 0 });
});

afterAll(async () => {
  await engine.close();
});

/**
 * Every operator becomes the echo operator, which returns its input: outputs then carry the data flow.
 * A node without an input template, in a DAG without routers, reads its predecessors' outputs: what
 * the language guarantees it can see. (The whole `nodes` of its context would also show outputs of unrelated branches that
 * happened to run first, which differs between plans by design.)
 */
function runnable(doc: WorkflowObject): string {
  const copy = structuredClone(doc);
  const routed = Object.values(copy.nodes).some((node) => node.type === 'router');
  const predecessors = new Map<string, string[]>();
  for (const [name, node] of Object.entries(copy.nodes))
    for (const next of [node.next ?? []].flat() as string[])
      predecessors.set(next, [...(predecessors.get(next) ?? []), name]);
  for (const [name, node] of Object.entries(copy.nodes)) {
    if (node.type !== 'sync') continue;
    node.operator = 'test/echo';
    if (node.input === undefined && !routed) {
      const seen = (predecessors.get(name) ?? []).filter((p) => copy.nodes[p]?.type === 'sync');
      node.input = { x: '$.input.x', seen: Object.fromEntries(seen.map((p) => [p, `$.nodes.${p}.echo.x`])) };
    }
  }
  return stringify(copy);
}

/** What must not change: status, output and events (run-specific times and ids left out). */
function behaviour(result: TaskResult) {
  const withoutTimes = (value: unknown): unknown =>
    JSON.parse(
      JSON.stringify(value ?? null, (key, v) =>
        key === 'at' ? undefined : v === result.taskId ? '<task>' : v,
      ),
    );
  return {
    status: result.status,
    output: withoutTimes(result.output),
    events: result.events.map((e) => `${e.node}:${e.type}:${e.status}:${e.attempts}`).sort(),
  };
}

async function bothPlans(text: string, input: unknown) {
  const optimized = compileWorkflowText(text, { optimize: true });
  const plain = compileWorkflowText(text, { optimize: false });
  expect(optimized.asl && plain.asl, JSON.stringify(optimized.diagnostics)).toBeTruthy();
  const [a, b] = [await engine.runTask(optimized, input), await engine.runTask(plain, input)];
  return [behaviour(a), behaviour(b)] as const;
}

describe('optimised and unoptimised plans behave the same', () => {
  it('on random structured workflows with routers and forks', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryStructuredWorkflow(), fc.integer({ min: 0, max: 3 }), async (doc, k) => {
        const [optimized, plain] = await bothPlans(runnable(doc), { x: k, k });
        expect(optimized).toEqual(plain);
        expect(optimized.status).toBe('SUCCEEDED');
      }),
      { numRuns: RUNS },
    );
  }, 600_000);

  it('on random non-series-parallel fork/join DAGs', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryDag({ maxNodes: 8 }), async (doc) => {
        const [optimized, plain] = await bothPlans(runnable(doc), { x: 1 });
        expect(optimized).toEqual(plain);
        expect(optimized.status).toBe('SUCCEEDED');
      }),
      { numRuns: RUNS },
    );
  }, 600_000);
});
