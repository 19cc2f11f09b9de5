import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config/env.js';
import { SCRIPT_SANDBOX_HOOKS, ScriptRunner } from '../../lib/infra/script-runner.js';
import { identityStatements, stackWithTables } from './support.js';

describe('ScriptRunner', () => {
  const { stack, tables } = stackWithTables();
  const bucket = new s3.Bucket(stack, 'Media');
  const runner = new ScriptRunner(stack, 'Scripts', { tables, bucket });
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
          [ENV.OBJECT_ROOT]: {
            'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^Media') }, '/objects']],
          },
        }),
      },
    });
  });

  it('reads and writes payloads under objects/ only', () => {
    const objects = identityStatements(template)
      .map(({ statement }) => statement)
      .filter((statement) => JSON.stringify(statement.Action).includes('s3:'));
    expect(objects.map((statement) => statement.Action)).toEqual([
      ['s3:GetObject', 's3:GetObjectVersion'],
      ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
    ]);
    for (const statement of objects) expect(JSON.stringify(statement.Resource)).toContain('/objects/*');
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
