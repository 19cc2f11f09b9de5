import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { SCRIPT_SANDBOX_HOOKS, ScriptRunner } from '../../lib/infra/script-runner.js';
import { stackWithTables } from './support.js';

describe('ScriptRunner', () => {
  const { stack, tables } = stackWithTables();
  const runner = new ScriptRunner(stack, 'Scripts', { tables });
  const template = Template.fromStack(stack);

  it('runs scripts through the operator runtime, tracked like operators', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 900,
      Environment: {
        Variables: Match.objectLike({
          [ENV.EVENTS_TABLE]: Match.anyValue(),
          [ENV.SEGMENTS_TABLE]: Match.anyValue(),
          [ENV.TRACES_TABLE]: Match.anyValue(),
        }),
      },
    });
  });

  it('puts the sandbox worker and its WebAssembly next to the handler after bundling', () => {
    expect(runner.function.function.runtime.name).toBe('nodejs22.x');
    const commands = SCRIPT_SANDBOX_HOOKS.afterBundling('/in', '/out');
    expect(commands).toHaveLength(2);
    expect(commands[0]).toContain('"/in/lib/runtime/script-worker.mjs" --bundle');
    expect(commands[0]).toContain('--format=esm');
    expect(commands[0]).toContain('--outfile="/out/script-worker.mjs"');
    expect(commands[1]).toMatch(/^cp ".*emscripten-module\.wasm" "\/out\/emscripten-module\.wasm"$/);
  });
});
