// Per-call latency of the script runner: `npx tsx bench/script-bench.ts [calls]`.
// Measures the sandbox's first start, then trivial scripts one after another (so each number is one
// round trip through a warm sandbox process), then the recovery after a time-limit kill.
import { closeScriptWorkers, runScript, type ScriptLanguage } from '../lib/runtime/script.js';

const CALLS = Number(process.argv[2] ?? 200);
const TIMEOUT_MS = 2000;
const context = {
  task: { id: 'bench', workflow: 'bench' },
  input: { x: 21, s: 'hello' },
  params: {},
  nodes: { probe: { durationSec: 42 } },
};
const trivial: Record<ScriptLanguage, string> = {
  jsonata: '{ "double": input.x * 2 }',
  javascript: 'return { double: ctx.input.x * 2 };',
};

async function timeOne(language: ScriptLanguage, source: string, timeoutMs = TIMEOUT_MS): Promise<number> {
  const started = performance.now();
  await runScript({ language, source, context, timeoutMs }).catch(() => undefined);
  return performance.now() - started;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(language: ScriptLanguage): Promise<string> {
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) samples.push(await timeOne(language, trivial[language]));
  samples.sort((a, b) => a - b);
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  return `${language.padEnd(10)} p50 ${ms(percentile(samples, 50))}  p99 ${ms(percentile(samples, 99))}  max ${ms(samples.at(-1) ?? Number.NaN)}`;
}

async function main(): Promise<void> {
  console.log(
    `first call (starts a sandbox process): ${(await timeOne('jsonata', trivial.jsonata)).toFixed(1)} ms`,
  );
  console.log(`${CALLS} sequential calls each:`);
  console.log(await measure('jsonata'));
  console.log(await measure('javascript'));

  // QuickJS's own interrupt stops this one inside the sandbox process, which then stays in the pool.
  const interrupted = await timeOne('javascript', 'while (true) {}', 500);
  console.log(`interrupted at a 500 ms limit after ${interrupted.toFixed(0)} ms`);
  // A loop of slow built-in calls escapes QuickJS's interrupt polling, so this one is a hard kill.
  const killed = await timeOne('javascript', 'const s = "x".repeat(2e6); while (true) s.split("");', 500);
  console.log(`hard-killed at a 500 ms limit after ${killed.toFixed(0)} ms`);
  console.log(`next call after the kill: ${(await timeOne('javascript', trivial.javascript)).toFixed(1)} ms`);
  await closeScriptWorkers();
}

await main();
