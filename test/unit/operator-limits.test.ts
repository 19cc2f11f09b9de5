// The time limits the embedded engine keeps itself for sync operator Tasks (lib/local/operator-limits.ts)
// and the ASL it hands aws-local-stepfunctions with those timers lifted (engineTimedAsl).
import { describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { operatorTimeLimits } from '../../lib/local/operator-limits.js';
import { engineTimedAsl, TIMER_LIMIT_SECONDS } from '../../lib/local/parked-work.js';

const WORKFLOW = `name: limits
nodes:
  begin: { type: start, next: solo }
  solo: { type: sync, operator: test/echo, timeout: 7, fuse: false, next: a }
  a: { type: sync, operator: test/echo, timeout: 3, next: b }
  b: { type: sync, operator: test/echo, timeout: 4, next: s }
  s: { type: script, language: jsonata, source: "1", next: each }
  each: { type: parallel, items: $.input.items, node: { type: sync, operator: test/echo, timeout: 5 }, next: w }
  w: { type: async, operator: test/echo, via: lambda, timeout: 9, next: done }
  done: { type: end }
`;

type States = Record<string, { TimeoutSeconds?: number; ItemProcessor?: { States: States } }>;

describe('operator time limits on the embedded engine', () => {
  const compiled = compileWorkflowText(WORKFLOW, {});
  const asl = compiled.asl!;
  const states = asl.States as unknown as States;

  it('are those of the Tasks that run one sync operator, items included; not fused chains, scripts or async work', () => {
    expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(Object.fromEntries(operatorTimeLimits(compiled.plan!, asl))).toEqual({ solo: 7, each_item: 5 });
  });

  it('lift exactly those timers (and the waiting ones) out of the library’s way', () => {
    const timed = engineTimedAsl(asl, new Set(operatorTimeLimits(compiled.plan!, asl).keys()));
    const timedStates = timed.States as unknown as States;
    expect(timedStates.solo?.TimeoutSeconds).toBe(TIMER_LIMIT_SECONDS);
    expect(timedStates.each?.ItemProcessor?.States.each_item?.TimeoutSeconds).toBe(TIMER_LIMIT_SECONDS);
    expect(timedStates.w?.TimeoutSeconds).toBe(TIMER_LIMIT_SECONDS);
    // The fused chain of a and b keeps its own timer (their sum and slack), as does the script.
    expect(timedStates.a?.TimeoutSeconds).toBe(states.a?.TimeoutSeconds);
    expect(timedStates.a?.TimeoutSeconds).toBeGreaterThan(7);
    expect(timedStates.s?.TimeoutSeconds).toBe(states.s?.TimeoutSeconds);
    // The compiled definition itself is left as it was.
    expect(states.solo?.TimeoutSeconds).toBe(7);
  });
});
