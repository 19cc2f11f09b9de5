// What the embedded engine records agrees with what ran, on random workflows whose operators fail or
// succeed as planned (test/outcome): forks, routers on input and params, onError, retries, async work,
// scripts, callbacks and parallel nodes with tolerated failures, optimised or not. The expectations
// come from the plan alone (test/support/planned-runs.ts), never from the engine.
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { hasErrors } from '../../lib/dag/diagnostics.js';
import { EmbeddedEngine, type TaskResult } from '../../lib/local/engine.js';
import { BRANCH_FAILED } from '../../lib/runtime/stopped-work.js';
import type { PublicEventRecord, PublicSegmentRecord, TraceRecord } from '../../lib/tracking/records.js';
import { arbitraryPlannedDagRun, arbitraryPlannedRun, type PlannedRun } from '../support/planned-runs.js';

/**
 * Random workflows per property (each run costs ~0.2–0.5 s, most of it the engine building its
 * StateMachine); DAG_PROPERTY_RUNS raises both for a longer soak (400 + 400 passed once).
 */
const RUNS = Number(process.env.DAG_PROPERTY_RUNS ?? 30);
const DAG_RUNS = Number(process.env.DAG_PROPERTY_RUNS ?? 20);
const FINAL = ['SUCCEEDED', 'FAILED'];

/**
 * Bugs this property found (in lib/local/engine.ts unless named), kept out of the generated workflows
 * (false) until they are fixed (true); a fixed one stays listed, so that the property covers its case.
 * - parallelOnError (fixed): a failing parallel node with onError broke the task: the event log gives
 *   StateFailed, StateCaught, then StateExited for the caught Map; the engine recorded the event
 *   FAILED, then SUCCEEDED, which the store refused (StaleWriteError, unhandled); runTask rejected and
 *   the task stayed RUNNING. A failure is now final once not retried, and the caught exit is skipped.
 * - toleranceExceeded (fixed): a parallel node with more failed items than it tolerates failed the
 *   task (ToleratedFailureExceeded) but its event was SUCCEEDED: the event ended when the Map exited,
 *   before the tolerance check after it failed. It now ends with the check (reproduced below).
 * - chainedParamsRouters (fixed, lib/compiler/passes.ts): a router decided by params that led straight
 *   to another one decided by params had no event in an optimised plan: decidedRouters kept the second
 *   router as its target after that router's state was removed too (tested below).
 * - inFlightAfterEnd (fixed; here true means the bug is there): when a fork failed, its other
 *   branches stopped where they were: an operator still running there was RUNNING in the task's result
 *   (reproduced below), async work there WAITING for good, and so was a parallel node there (its Map
 *   never exits). With the bug, the property checks operator nodes once they have settled and lets
 *   such parallel nodes be unfinished. Now the task's end ends such work FAILED with
 *   States.BranchFailed (lib/runtime/stopped-work.ts), and an operator call that was under way only
 *   adds its trace.
 */
const KNOWN_BUGS = {
  parallelOnError: true,
  toleranceExceeded: true,
  chainedParamsRouters: true,
  inFlightAfterEnd: false,
} as const;

let engine: EmbeddedEngine;

beforeAll(async () => {
  engine = await EmbeddedEngine.start({ operatorsDir: 'test/fixtures/operators', retryDelayMs: 0 });
});

afterAll(async () => {
  await engine.close();
});

function compile(yaml: string, optimize = true) {
  const compiled = compileWorkflowText(yaml, { optimize, operatorExists: (op) => engine.catalog.has(op) });
  expect(hasErrors(compiled.diagnostics), JSON.stringify(compiled.diagnostics)).toBe(false);
  return compiled;
}

interface Records {
  readonly taskId: string;
  readonly events: readonly PublicEventRecord[];
  readonly segments: readonly PublicSegmentRecord[];
  readonly traces: readonly TraceRecord[];
}

async function storedRecords(taskId: string): Promise<Records> {
  const [events, segments, traces] = await Promise.all([
    engine.store.getEvents(taskId),
    engine.store.getSegments(taskId),
    engine.store.getTraces(taskId),
  ]);
  return { taskId, events, segments, traces };
}

/**
 * With KNOWN_BUGS.inFlightAfterEnd: the task's records once the work left in flight has ended: no
 * segment, and no event of a node that runs an operator, is RUNNING or WAITING. (A node the engine
 * reports from the event log, such as a parallel node, stays RUNNING for good when a failing fork
 * stops its branch.) Without it: the records as the task's end left them.
 */
async function recordsAfter(planned: PlannedRun, taskId: string): Promise<Records> {
  if (!KNOWN_BUGS.inFlightAfterEnd) return storedRecords(taskId);
  const giveUp = Date.now() + 10_000;
  for (;;) {
    const records = await storedRecords(taskId);
    const working = [...records.events.filter((e) => planned.nodes.get(e.node)?.traced), ...records.segments];
    if (working.every((r) => FINAL.includes(r.status)) || Date.now() > giveUp) return records;
    await sleep(20);
  }
}

/** Work the task's end stopped: its last attempt may still be running, or have ended either way. */
function wasStopped(record: PublicEventRecord | PublicSegmentRecord): boolean {
  return record.status === 'FAILED' && record.error?.error === BRANCH_FAILED;
}

/**
 * The traces of a record's attempts: one per attempt, numbered from 1, and only the last can have
 * succeeded (and then the record did). Work that was stopped may lack its last attempt's trace (the
 * call is still under way), or have it either way.
 */
function checkAttemptTraces(
  record: PublicEventRecord | PublicSegmentRecord,
  traces: readonly TraceRecord[],
  what: string,
): void {
  const attempts = sortedAttempts(traces);
  const stopped = wasStopped(record);
  const expected = range(record.attempts);
  if (stopped && attempts.length < record.attempts) expected.pop();
  expect(attempts, `traces of ${what}`).toEqual(expected);
  for (const trace of traces) {
    if (stopped && trace.attempt === record.attempts) continue;
    expect(trace.status, `trace ${trace.attempt} of ${what}`).toBe(
      trace.attempt === record.attempts ? record.status : 'FAILED',
    );
  }
}

/** Every check of the property on one task's records. */
function checkRecords(planned: PlannedRun, records: Records): void {
  const { taskId } = records;

  // One event per node that ran, each final, under its business node's id.
  const nodes = records.events.map((e) => e.node);
  expect(new Set(nodes).size, `duplicate events: ${nodes.join(', ')}`).toBe(nodes.length);
  for (const event of records.events) {
    const expected = planned.nodes.get(event.node);
    expect(expected, `event of '${event.node}', which is not a node`).toBeDefined();
    expect(event.eventId).toBe(`${taskId}_${event.node}`);
    expect(event.type).toBe(expected!.type);
    if (KNOWN_BUGS.inFlightAfterEnd && expected!.runs === 'maybe' && !expected!.traced) continue;
    expect(FINAL, `event '${event.node}' is ${event.status} after the task ended`).toContain(event.status);
    expect(event.endedAt, `event '${event.node}' has no end`).toBeDefined();
  }
  const eventIds = new Set(records.events.map((e) => e.eventId));
  for (const segment of records.segments) {
    expect(eventIds.has(segment.eventId), `segment ${segment.segmentId} of no event`).toBe(true);
    expect(segment.segmentId).toBe(`${segment.eventId}_${segment.order}`);
    expect(FINAL, `segment ${segment.segmentId} is ${segment.status}`).toContain(segment.status);
  }
  const segmentIds = new Set(records.segments.map((s) => s.segmentId));
  for (const trace of records.traces) {
    // A trace of a node with no event is an event lost.
    expect(eventIds.has(trace.eventId), `trace of ${trace.eventId}, which has no event`).toBe(true);
    if (trace.segmentId !== undefined)
      expect(segmentIds.has(trace.segmentId), `trace of ${trace.segmentId}, which has no segment`).toBe(true);
  }

  for (const [node, expected] of planned.nodes) {
    const event = records.events.find((e) => e.node === node);
    const eventId = `${taskId}_${node}`;
    const traces = records.traces.filter((t) => t.eventId === eventId);
    const segments = records.segments.filter((s) => s.eventId === eventId);
    if (expected.runs === 'no') {
      expect(event, `'${node}' is on a path not taken but has an event`).toBeUndefined();
      expect(traces, `'${node}' is on a path not taken but has traces`).toEqual([]);
      continue;
    }
    if (expected.runs === 'yes') {
      expect(event, `'${node}' ran but has no event`).toBeDefined();
      expect(event!.status, `status of '${node}'`).toBe(expected.status);
      expect(event!.attempts, `attempts of '${node}'`).toBe(expected.attempts);
    }
    if (!event) {
      expect(traces, `'${node}' has traces but no event`).toEqual([]);
      continue;
    }
    if (!FINAL.includes(event.status)) continue; // a known bug, let through above
    for (const trace of traces) expect(trace.resource, `resource of '${node}'`).toBe(expected.resource);
    if (expected.traced) {
      checkAttemptTraces(event, traces, `'${node}'`);
    } else if (expected.type === 'parallel') {
      expect(event.attempts).toBe(1);
      expect(traces.every((t) => t.segmentId !== undefined)).toBe(true);
      for (const segment of segments)
        checkAttemptTraces(
          segment,
          traces.filter((t) => t.segmentId === segment.segmentId),
          segment.segmentId,
        );
      if (expected.runs === 'yes' && expected.segments) {
        const byOrder = [...segments].sort((a, b) => a.order - b.order);
        expect(byOrder.map((s) => s.order)).toEqual(range(expected.segments.length).map((n) => n - 1));
        expect(
          byOrder.map((s) => ({ status: s.status, attempts: s.attempts })),
          `segments of '${node}'`,
        ).toEqual(expected.segments);
      }
    } else {
      expect(traces, `'${node}' runs no operator but has traces`).toEqual([]);
      expect(event.attempts).toBe(1);
    }
  }

  if (planned.taskStatus === 'FAILED') {
    const fatal = records.events.filter(
      (e) => e.status === 'FAILED' && !wasStopped(e) && planned.nodes.get(e.node)?.fatal,
    );
    expect(fatal.length, 'the task failed but no unhandled failure is recorded').toBeGreaterThan(0);
  }
}

function sortedAttempts(traces: readonly TraceRecord[]): number[] {
  return traces.map((t) => t.attempt).sort((a, b) => a - b);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** The result of the run itself (what `dag run --json` prints): the task, and every certain node final. */
function checkResult(planned: PlannedRun, result: TaskResult): void {
  expect(result.status).toBe(planned.taskStatus);
  expect(result.error !== undefined).toBe(planned.taskStatus === 'FAILED');
  for (const event of result.events) {
    if (KNOWN_BUGS.inFlightAfterEnd && planned.nodes.get(event.node)?.runs === 'maybe') continue;
    expect(FINAL, `event '${event.node}' is ${event.status} when the task ended`).toContain(event.status);
  }
  if (KNOWN_BUGS.inFlightAfterEnd) return;
  for (const segment of result.segments)
    expect(FINAL, `segment ${segment.segmentId} is ${segment.status} when the task ended`).toContain(
      segment.status,
    );
}

describe('embedded engine records', () => {
  it('agree with the run on random workflows with planned failures', async () => {
    const planned = arbitraryPlannedRun({
      parallelOnError: KNOWN_BUGS.parallelOnError,
      toleranceExceeded: KNOWN_BUGS.toleranceExceeded,
      chainedParamsRouters: KNOWN_BUGS.chainedParamsRouters,
    });
    await fc.assert(
      fc.asyncProperty(planned, fc.boolean(), async (run, optimize) => {
        const result = await engine.runTask(compile(stringify(run.workflow), optimize), run.input);
        checkResult(run, result);
        checkRecords(run, await recordsAfter(run, result.taskId));
        expect((await engine.store.getTask(result.taskId))?.status).toBe(result.status);
      }),
      { numRuns: RUNS },
    );
  }, 600_000);

  it('agree with the run on random non-series-parallel DAGs with planned failures', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryPlannedDagRun(), fc.boolean(), async (run, optimize) => {
        const result = await engine.runTask(compile(stringify(run.workflow), optimize), run.input);
        checkResult(run, result);
        checkRecords(run, await recordsAfter(run, result.taskId));
      }),
      { numRuns: DAG_RUNS },
    );
  }, 600_000);

  // Reproductions of bugs in KNOWN_BUGS: `it.fails` passes while the bug is there.
  // Found by this property too (async items all ran as segment 0: the item binding read the order
  // outside the dispatch Payload); fixed by itemOrderOf, and generated since.
  it('a parallel node of async items runs each item as its own segment', async () => {
    const result = await engine.runTask(
      compile(`name: async-items
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    node:
      type: async
      via: lambda
      operator: test/outcome
      timeout: 60
      retry: { maxAttempts: 2 }
      input: { failures: $.item }
    next: done
  done: { type: end }
`),
      { items: [0, 1, 0] },
    );
    expect(result.status).toBe('SUCCEEDED');
    const segments = [...result.segments].sort((a, b) => a.order - b.order);
    // Attempts count per item: the second item's retry is its attempt 2, the others' first is 1.
    expect(segments.map((s) => [s.order, s.status, s.attempts])).toEqual([
      [0, 'SUCCEEDED', 1],
      [1, 'SUCCEEDED', 2],
      [2, 'SUCCEEDED', 1],
    ]);
  });

  it('a parallel node over its tolerated failures is FAILED', async () => {
    const result = await engine.runTask(
      compile(`name: tolerance-exceeded
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    toleratedFailurePercentage: 25
    node: { type: sync, operator: test/outcome, input: { failures: $.item } }
    next: done
  done: { type: end }
`),
      { items: [0, 1] },
    );
    expect(result.error?.error).toBe('ToleratedFailureExceeded');
    expect(result.events.find((e) => e.node === 'each')?.status).toBe('FAILED');
  });

  it.each([true, false])(
    'a failing parallel node with onError is FAILED and its handler runs (optimize: %s)',
    async (optimize) => {
      const result = await engine.runTask(
        compile(
          `name: parallel-on-error
nodes:
  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.items
    node: { type: sync, operator: test/outcome, input: { failures: $.item } }
    onError: recover
    next: done
  recover: { type: sync, operator: test/outcome, next: done }
  done: { type: end }
`,
          optimize,
        ),
        { items: [1] },
      );
      expect(result.status).toBe('SUCCEEDED');
      const each = (await engine.store.getEvents(result.taskId)).find((e) => e.node === 'each');
      expect(each).toMatchObject({ status: 'FAILED', error: { error: 'Planned' } });
      expect(result.events.find((e) => e.node === 'recover')?.status).toBe('SUCCEEDED');
      expect(result.events.find((e) => e.node === 'done')?.status).toBe('SUCCEEDED');
    },
  );

  // A router decided by params has its event (dag-spec §5), recorded when the state it leads to is
  // entered: whatever else the passes remove or fold around it.
  describe('a router decided by params has its event', () => {
    it('when it leads straight to another decided router', async () => {
      const result = await engine.runTask(
        compile(`name: chained-routers
params: { a: true, b: true }
nodes:
  begin: { type: start, next: first }
  first: { type: router, routes: [{ when: params.a, next: second }], default: other }
  second: { type: router, routes: [{ when: params.b, next: work }], default: spare }
  work: { type: sync, operator: test/outcome, next: done }
  spare: { type: sync, operator: test/outcome, next: done }
  other: { type: sync, operator: test/outcome, next: done }
  done: { type: end }
`),
        {},
      );
      expect(result.events.map((e) => e.node).sort()).toEqual(['begin', 'done', 'first', 'second', 'work']);
    });

    it('when it leads straight to an end', async () => {
      const result = await engine.runTask(
        compile(`name: decided-to-end
params: { a: true }
nodes:
  begin: { type: start, next: work }
  work: { type: sync, operator: test/outcome, next: pick }
  pick: { type: router, routes: [{ when: params.a, next: done }], default: other }
  other: { type: sync, operator: test/outcome, next: done }
  done: { type: end }
`),
        {},
      );
      expect(result.events.map((e) => e.node).sort()).toEqual(['begin', 'done', 'pick', 'work']);
    });

    it('only when it ran, where what it leads to is also reached another way', async () => {
      const compiled = compile(`name: decided-shared
params: { a: true }
nodes:
  begin: { type: start, next: q }
  q: { type: router, routes: [{ when: input.go == true, next: r }], default: n }
  r: { type: router, routes: [{ when: params.a, next: n }], default: m }
  m: { type: sync, operator: test/outcome, next: n }
  n: { type: sync, operator: test/outcome, next: done }
  done: { type: end }
`);
      const routed = await engine.runTask(compiled, { go: true });
      expect(routed.events.map((e) => e.node).sort()).toEqual(['begin', 'done', 'n', 'q', 'r']);
      const straight = await engine.runTask(compiled, { go: false });
      expect(straight.events.map((e) => e.node).sort()).toEqual(['begin', 'done', 'n', 'q']);
    });
  });

  it('a failed fork stops its other branches: their work ends FAILED, States.BranchFailed, for good', async () => {
    const result = await engine.runTask(
      compile(`name: fork-fails
nodes:
  begin: { type: start, next: [quick, slow] }
  quick: { type: sync, operator: test/outcome, input: { failures: 1 }, next: done }
  slow: { type: sync, operator: test/outcome, input: { ms: 300 }, next: done }
  done: { type: end }
`),
      {},
    );
    expect(result.status).toBe('FAILED');
    expect(result.events.find((e) => e.node === 'quick')?.status).toBe('FAILED');
    for (const event of result.events)
      expect(FINAL, `${event.node} is ${event.status}`).toContain(event.status);
    const slowOf = async () => (await engine.store.getEvents(result.taskId)).find((e) => e.node === 'slow');
    const stopped = { status: 'FAILED', attempts: 1, error: { error: BRANCH_FAILED } };
    expect(await slowOf()).toMatchObject(stopped);
    // Its operator call was under way: it runs to its end (its trace says how), and changes nothing.
    for (;;) {
      const traces = await engine.store.getTraces(result.taskId);
      if (traces.some((t) => t.eventId === `${result.taskId}_slow`)) break;
      await sleep(20);
    }
    expect(await slowOf()).toMatchObject(stopped);
  });
});
