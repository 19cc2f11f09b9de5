import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkScriptSyntax,
  closeScriptWorkers,
  runScript,
  ScriptError,
  type ScriptLanguage,
  ScriptMemoryLimitError,
  ScriptSyntaxError,
  ScriptTimeoutError,
} from '../../lib/runtime/script.js';

const MiB = 1024 * 1024;
// Time limits are asserted loosely: the host is a shared CI machine, and only "stopped, not hung"
// matters here. The sandbox's first start-up (a node process) is not part of any limit.
const SLACK_MS = 2000;
const SLOW_TEST_MS = 30_000;

const context = {
  task: { id: '0190f0c4-task', workflow: 'slice-transcode' },
  input: { x: 21, s: 'hello', tags: ['a', 'b'] },
  params: { thumbnails: false },
  nodes: { probe: { durationSec: 42 } },
};

function run(language: ScriptLanguage, source: string, timeoutMs = 2000, memoryLimitBytes?: number) {
  return runScript({
    language,
    source,
    context,
    timeoutMs,
    ...(memoryLimitBytes ? { memoryLimitBytes } : {}),
  });
}

afterAll(() => closeScriptWorkers());

describe('runScript: jsonata', () => {
  it('evaluates the expression against the context', async () => {
    const source = '{ "double": input.x * 2, "task": task.id, "long": nodes.probe.durationSec > 30 }';
    await expect(run('jsonata', source)).resolves.toEqual({ double: 42, task: context.task.id, long: true });
  });

  it('turns no result into null', async () => {
    await expect(run('jsonata', 'input.missing')).resolves.toBeNull();
  });

  it('reports $error() with the author message', async () => {
    await expect(run('jsonata', '$error("bad input")')).rejects.toThrow(ScriptError);
    await expect(run('jsonata', '$error("bad input")')).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringContaining('bad input'),
    });
  });

  it('reports a type error with its position', async () => {
    await expect(run('jsonata', '(\n  1 + "a"\n)')).rejects.toMatchObject({ name: 'ScriptError', line: 2 });
  });

  it('refuses a function as the result', async () => {
    await expect(run('jsonata', 'function($v) { $v }')).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringMatching(/not JSON: a function/),
    });
  });

  it('reports a syntax error with line and column', async () => {
    const failure = run('jsonata', '{\n  "a": 1 +\n}');
    await expect(failure).rejects.toThrow(ScriptSyntaxError);
    await expect(failure).rejects.toMatchObject({ name: 'ScriptSyntaxError', line: 3, column: 1 });
  });

  it(
    'stops an expression that evaluates for too long (jsonata own step limit)',
    async () => {
      const source = '$count($map([1..10000000], function($v) { $v * 2 }))';
      const started = performance.now();
      const failure = run('jsonata', source, 500);
      await expect(failure).rejects.toThrow(ScriptTimeoutError);
      await expect(failure).rejects.toMatchObject({ name: 'ScriptTimeout' });
      expect(performance.now() - started).toBeLessThan(500 + SLACK_MS);
    },
    SLOW_TEST_MS,
  );

  it(
    'stops a built-in that never yields (catastrophic regex) by killing its process',
    async () => {
      const started = performance.now();
      const failure = run('jsonata', '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)', 500);
      await expect(failure).rejects.toMatchObject({ name: 'ScriptTimeout' });
      expect(performance.now() - started).toBeLessThan(500 + SLACK_MS);
      await expect(run('jsonata', 'input.x')).resolves.toBe(21);
    },
    SLOW_TEST_MS,
  );

  it(
    'stops a memory bomb, and the host and the runner survive',
    async () => {
      const bomb = '$reduce([1..200], function($acc, $v) { $append($acc, [1..1000000]) }, [])';
      await expect(run('jsonata', bomb, 20_000, 16 * MiB)).rejects.toThrow(ScriptMemoryLimitError);
      await expect(run('jsonata', 'input.s', 2000, 16 * MiB)).resolves.toBe('hello');
    },
    SLOW_TEST_MS,
  );
});

describe('runScript: javascript', () => {
  it('runs the body with the context as ctx', async () => {
    const source = 'return { len: ctx.input.s.length, workflow: ctx.task.workflow, tags: ctx.input.tags };';
    await expect(run('javascript', source)).resolves.toEqual({
      len: 5,
      workflow: 'slice-transcode',
      tags: ['a', 'b'],
    });
  });

  it('turns undefined into null', async () => {
    await expect(run('javascript', 'const unused = 1;')).resolves.toBeNull();
  });

  it('gives the script a copy: mutating ctx does not touch the host context', async () => {
    await expect(run('javascript', 'ctx.input.x = 0; return ctx.input.x;')).resolves.toBe(0);
    expect(context.input.x).toBe(21);
  });

  it('starts every call from a fresh global scope', async () => {
    await run('javascript', 'globalThis.leaked = 1; return null;');
    await expect(run('javascript', 'return typeof globalThis.leaked;')).resolves.toBe('undefined');
  });

  it('exposes nothing of the host', async () => {
    const source = `return [typeof process, typeof require, typeof fetch, typeof setTimeout,
      typeof globalThis.process, typeof module, typeof console, typeof WebAssembly];`;
    await expect(run('javascript', source)).resolves.toEqual(Array(8).fill('undefined'));
    await expect(run('javascript', 'return typeof Date.now();')).resolves.toBe('number');
  });

  it('cannot import modules', async () => {
    await expect(run('javascript', "return import('fs');")).rejects.toMatchObject({ name: 'ScriptError' });
    await expect(run('javascript', "return require('fs');")).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringContaining('require'),
    });
  });

  it("passes a thrown error's message and line to the host", async () => {
    const failure = run('javascript', 'const x = ctx.input.x;\nthrow new Error("bad input " + x);');
    await expect(failure).rejects.toThrow(ScriptError);
    await expect(failure).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringMatching(/^bad input 21 \(line 2/),
      line: 2,
    });
  });

  it('names the error type of a runtime error and reports a thrown value', async () => {
    await expect(run('javascript', 'return ctx.nodes.missing.field;')).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringMatching(/^TypeError: /),
    });
    await expect(run('javascript', 'throw { code: 7 };')).rejects.toMatchObject({
      message: 'The script threw {"code":7}',
    });
  });

  it('reports a syntax error with line and column in the author source', async () => {
    await expect(run('javascript', 'let x = ;')).rejects.toMatchObject({
      name: 'ScriptSyntaxError',
      line: 1,
      column: 9,
    });
    await expect(run('javascript', 'const a = 1;\nreturn a +;')).rejects.toThrow(ScriptSyntaxError);
    await expect(run('javascript', 'const a = 1;\nreturn a +;')).rejects.toMatchObject({ line: 2 });
  });

  it('treats code that closes the function body early as running code, still in the sandbox', async () => {
    const source = '}); throw new Error("outside"); (function () {';
    await expect(run('javascript', source)).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringMatching(/^outside/),
    });
  });

  it.each([
    ['a function', 'return () => 1;', /a function at the top level/],
    ['a nested symbol', 'return { ok: true, s: Symbol("x") };', /a symbol at key "s"/],
    ['a cycle', 'const a = {}; a.self = a; return a;', /circular/],
    ['a BigInt', 'return 10n;', /BigInt/],
  ])('refuses %s as the result', async (_what, source, message) => {
    await expect(run('javascript', source)).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringMatching(message),
    });
  });

  it('settles a returned Promise: resolved, rejected, never settling', async () => {
    await expect(
      run('javascript', 'return (async () => { await null; return ctx.input.x + 1; })();'),
    ).resolves.toBe(22);
    await expect(run('javascript', 'return Promise.reject(new RangeError("no"));')).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringMatching(/^RangeError: no/),
    });
    await expect(run('javascript', 'return new Promise(() => {});')).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringContaining('never settles'),
    });
  });

  it('ends a runaway recursion as a ScriptError', async () => {
    await expect(run('javascript', 'function f() { return f() + 1; }\nreturn f();')).rejects.toMatchObject({
      name: 'ScriptError',
      message: expect.stringContaining('stack overflow'),
    });
  });

  it(
    'stops while(true){} at the time limit',
    async () => {
      const started = performance.now();
      const failure = run('javascript', 'while (true) {}', 500);
      await expect(failure).rejects.toThrow(ScriptTimeoutError);
      await expect(failure).rejects.toMatchObject({ name: 'ScriptTimeout', timeoutMs: 500 });
      expect(performance.now() - started).toBeLessThan(500 + SLACK_MS);
    },
    SLOW_TEST_MS,
  );

  it(
    'stops a loop of slow built-in calls, which QuickJS interrupts too rarely, by killing its process',
    async () => {
      const started = performance.now();
      const source = 'const s = "x".repeat(2e6);\nwhile (true) s.split("");';
      await expect(run('javascript', source, 500)).rejects.toMatchObject({ name: 'ScriptTimeout' });
      expect(performance.now() - started).toBeLessThan(500 + SLACK_MS);
    },
    SLOW_TEST_MS,
  );

  it(
    'works again right after a timeout (the pool replaces the killed process)',
    async () => {
      await expect(
        run('javascript', 'const s = "x".repeat(2e6); while (true) s.split("");', 300),
      ).rejects.toThrow(ScriptTimeoutError);
      await expect(run('javascript', 'return ctx.input.x;')).resolves.toBe(21);
      await expect(run('jsonata', 'input.x')).resolves.toBe(21);
    },
    SLOW_TEST_MS,
  );

  it(
    'stops a memory bomb with ScriptMemoryLimit, and the host and the runner survive',
    async () => {
      const bomb = 'let a = [];\nwhile (true) a.push(new Array(1e6).fill(1));';
      const failure = run('javascript', bomb, 20_000, 16 * MiB);
      await expect(failure).rejects.toThrow(ScriptMemoryLimitError);
      await expect(failure).rejects.toMatchObject({ name: 'ScriptMemoryLimit', memoryLimitBytes: 16 * MiB });
      await expect(run('javascript', 'return ctx.input.s;', 2000, 16 * MiB)).resolves.toBe('hello');
    },
    SLOW_TEST_MS,
  );

  it(
    'runs concurrent scripts each with its own result',
    async () => {
      const calls = Array.from({ length: 12 }, (_, i) =>
        i % 2 === 0 ? run('javascript', `return ctx.input.x + ${i};`) : run('jsonata', `input.x + ${i}`),
      );
      await expect(Promise.all(calls)).resolves.toEqual(Array.from({ length: 12 }, (_, i) => 21 + i));
    },
    SLOW_TEST_MS,
  );
});

describe('runScript: arguments', () => {
  it('rejects an unknown language and a non-positive time limit before running anything', async () => {
    await expect(
      runScript({ language: 'lua' as ScriptLanguage, source: '', context, timeoutMs: 1 }),
    ).rejects.toThrow(TypeError);
    await expect(runScript({ language: 'jsonata', source: '1', context, timeoutMs: 0 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('checkScriptSyntax', () => {
  it('accepts valid scripts of both languages', () => {
    expect(checkScriptSyntax('jsonata', '{ "double": input.x * 2 }')).toEqual({ ok: true });
    expect(checkScriptSyntax('javascript', 'return { len: ctx.input.s.length };')).toEqual({ ok: true });
  });

  it('reports where a script is broken, without running it', () => {
    expect(checkScriptSyntax('javascript', 'let x = ;')).toMatchObject({ ok: false, line: 1, column: 9 });
    expect(checkScriptSyntax('javascript', 'const a = 1;\nreturn a +;')).toMatchObject({
      ok: false,
      line: 2,
    });
    expect(checkScriptSyntax('jsonata', '{\n  "a": 1 +\n}')).toMatchObject({ ok: false, line: 3, column: 1 });
    // Compiled only: a body that would loop forever is valid syntax and returns at once.
    expect(checkScriptSyntax('javascript', 'while (true) {}')).toEqual({ ok: true });
  });

  it('reports the message', () => {
    const check = checkScriptSyntax('javascript', 'return a b;');
    expect(check.ok).toBe(false);
    expect(check.ok === false && check.message).toMatch(/Unexpected identifier/);
  });
});

describe('properties', () => {
  // Any JSON context reaches the script and comes back unchanged, in both languages. Strings are any
  // UTF-16 (lone surrogates included), since the context crosses two JSON and one UTF-8 boundary.
  const jsonContext = fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue({ stringUnit: 'binary' }));

  it(
    'javascript: `return ctx;` round-trips a random JSON context',
    async () => {
      await fc.assert(
        fc.asyncProperty(jsonContext, async (ctx) => {
          const output = await runScript({
            language: 'javascript',
            source: 'return ctx;',
            context: ctx,
            timeoutMs: 2000,
          });
          expect(output).toEqual(JSON.parse(JSON.stringify(ctx)));
        }),
        { numRuns: 100 },
      );
    },
    SLOW_TEST_MS,
  );

  it(
    'jsonata: `$` round-trips a random JSON context',
    async () => {
      await fc.assert(
        fc.asyncProperty(jsonContext, async (ctx) => {
          const output = await runScript({ language: 'jsonata', source: '$', context: ctx, timeoutMs: 2000 });
          expect(output).toEqual(JSON.parse(JSON.stringify(ctx)));
        }),
        { numRuns: 100 },
      );
    },
    SLOW_TEST_MS,
  );
});
