// Every example workflow gives the same status, output and events optimised (barriers, fusion, folded
// ends, ...) and with --no-optimize, on the embedded engine. The media operators are stubs of their
// output shape (test/fixtures/stub-operators): this is about the plan; examples.test.ts runs ffmpeg.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { EmbeddedEngine, type TaskResult } from '../../lib/local/engine.js';

let engine: EmbeddedEngine;

beforeAll(async () => {
  engine = await EmbeddedEngine.start({ operatorsDir: 'test/fixtures/stub-operators', retryDelayMs: 0 });
  // External work (a person's review) answers at once.
  engine.emitWaiting = (item) => {
    void engine.callback({
      id: item.id,
      attempt: item.attempt,
      status: 'SUCCEEDED',
      output: { approved: true, reviewer: 'ana' },
    });
  };
});

afterAll(async () => {
  await engine.close();
});

function behaviour(result: TaskResult) {
  const text = JSON.stringify(result.output ?? null).replaceAll(result.taskId, '<task>');
  return {
    status: result.status,
    output: JSON.parse(text),
    events: result.events.map((e) => `${e.node}:${e.type}:${e.status}:${e.attempts}`).sort(),
    segments: result.segments.map((s) => `${s.order}:${s.status}:${s.attempts}`).sort(),
  };
}

const examples = readdirSync('workflows').filter((f) => /\.ya?ml$/.test(f));

describe('every example behaves the same optimised and not', () => {
  it.each(examples)('%s', async (file) => {
    const text = readFileSync(`workflows/${file}`, 'utf8');
    const input = { source: 'file:///sample.mp4', channel: 'news' };
    const [optimized, plain] = await Promise.all(
      [true, false].map(async (optimize) => {
        const compiled = compileWorkflowText(text, {
          optimize,
          operatorExists: (op) => engine.catalog.has(op),
        });
        expect(compiled.asl, JSON.stringify(compiled.diagnostics)).toBeDefined();
        return engine.runTask(compiled, input);
      }),
    );
    expect(optimized!.status, JSON.stringify(optimized!.error)).toBe('SUCCEEDED');
    expect(behaviour(optimized!)).toEqual(behaviour(plain!));
    expect(optimized!.stats.stateTransitions).toBeLessThanOrEqual(plain!.stats.stateTransitions);
  });
});
