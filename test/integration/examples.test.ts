// Every example workflow end to end on the embedded engine, with the real operators and real ffmpeg.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWorkflowText } from '../../lib/compiler/compile.js';
import { EmbeddedEngine, type WorkItem } from '../../lib/local/engine.js';
import { probeMedia } from '../../lib/media/probe.js';
import { ensureSampleVideo } from '../../lib/media/sample.js';
import { OBJECT_ROOT_ENV } from '../../lib/storage/object-store.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'dag-examples-'));
const longSample = join(dir, 'long.mp4');
const shortSample = join(dir, 'short.mp4');
let engine: EmbeddedEngine;

beforeAll(async () => {
  process.env[OBJECT_ROOT_ENV] = `file://${join(dir, 'objects')}`;
  await Promise.all([
    ensureSampleVideo(longSample, { seconds: 36, width: 320, height: 180 }),
    ensureSampleVideo(shortSample, { seconds: 8, width: 320, height: 180 }),
  ]);
  engine = await EmbeddedEngine.start({ operatorsDir: 'functions/operators' });
}, 120_000);

afterAll(async () => {
  await engine?.close();
  delete process.env[OBJECT_ROOT_ENV];
});

function compileExample(name: string) {
  const compiled = compileWorkflowText(readFileSync(`workflows/${name}.yaml`, 'utf8'), {
    operatorExists: (op) => engine.catalog.has(op),
  });
  expect(compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return compiled;
}

describe('example workflows', () => {
  it('slice-transcode slices a long video, transcodes the slices in parallel and merges them to the same length', async () => {
    const result = await engine.runTask(compileExample('slice-transcode'), { source: longSample });
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    const nodes = result.output as { merge: { uri: string; durationSec: number }; transcode: unknown[] };
    expect(nodes.transcode).toHaveLength(4);
    const merged = await probeMedia(fileURLToPath(nodes.merge.uri));
    expect(Math.abs(merged.durationSec - 36)).toBeLessThanOrEqual(0.2);
    expect(merged.audioCodec).toBeDefined();
    expect(result.segments).toHaveLength(4);
    const ran = result.events.map((e) => e.node).sort();
    expect(ran).toEqual(['begin', 'done', 'merge', 'notify', 'probe', 'route', 'slice', 'transcode']);
    expect(
      engine.bus.events.some(
        (e) =>
          e.detailType === 'Transcode Finished' && (e.detail as { taskId: string }).taskId === result.taskId,
      ),
    ).toBe(true);
  });

  it('slice-transcode sends a short video to the async whole-file transcode through the work queue', async () => {
    const result = await engine.runTask(compileExample('slice-transcode'), { source: shortSample });
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    const ran = result.events.map((e) => e.node);
    expect(ran).toContain('whole');
    expect(ran).not.toContain('slice');
    expect(result.events.find((e) => e.node === 'whole')).toMatchObject({
      type: 'async',
      status: 'SUCCEEDED',
    });
    const whole = (result.output as { whole: { uri: string } }).whole;
    expect(Math.abs((await probeMedia(fileURLToPath(whole.uri))).durationSec - 8)).toBeLessThanOrEqual(0.2);
  });

  it('media-analysis runs its fork/join DAG and reports thumbnails and highlights', async () => {
    const result = await engine.runTask(compileExample('media-analysis'), { source: shortSample });
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    const report = (
      result.output as { report: { thumbnails: string[]; highlights: unknown[]; durationSec: number } }
    ).report;
    expect(report.thumbnails.length).toBeGreaterThan(0);
    expect(report.highlights.length).toBeGreaterThan(0);
    expect(result.events.map((e) => e.node).sort()).toEqual([
      'begin',
      'done',
      'highlights',
      'keyframes',
      'loudness',
      'probe',
      'report',
      'thumbnails',
    ]);
  });

  it.each([
    [true, 'SUCCEEDED'],
    [false, 'FAILED'],
  ])('external-review waits for the reviewer (approved: %s -> %s)', async (approved, status) => {
    const waiting = new Promise<WorkItem>((resolve) => {
      engine.emitWaiting = resolve;
    });
    const task = engine.runTask(compileExample('external-review'), { source: shortSample });
    const item = await waiting;
    engine.emitWaiting = undefined;
    expect(engine.queues.peek('review').some((m) => JSON.parse(m.body).id === item.id)).toBe(true);
    const answer = await engine.callback({
      id: item.id,
      attempt: 1,
      status: 'SUCCEEDED',
      output: { approved, reviewer: 'ana' },
    });
    expect(answer.status).toBe(202);
    const result = await task;
    expect(result.status).toBe(status);
    if (!approved)
      expect(result.error).toEqual({ error: 'Rejected', cause: 'The reviewer rejected the video.' });
  });

  it('moderate-notify classifies with scripts and notifies a queue and the bus', async () => {
    const result = await engine.runTask(compileExample('moderate-notify'), {
      source: shortSample,
      channel: 'news',
    });
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({
      classification: { tier: 'sd', long: false, hasAudio: true },
      summary: { channel: 'news' },
    });
    const message = engine.queues
      .peek('moderation-results')
      .map((m) => JSON.parse(m.body))
      .find((b) => b.taskId === result.taskId);
    expect(message?.classification.tier).toBe('sd');
    expect(
      engine.bus.events.some(
        (e) => e.source === 'media.moderation' && (e.detail as { taskId: string }).taskId === result.taskId,
      ),
    ).toBe(true);
  });
});

describe('dag run --json', () => {
  it('prints the object of dag-spec §8 and exits 0', async () => {
    const { stdout } = await run(
      'node',
      [
        'bin/dag.js',
        'run',
        'workflows/moderate-notify.yaml',
        '--input',
        JSON.stringify({ source: shortSample }),
        '--json',
      ],
      {
        env: { ...process.env, [OBJECT_ROOT_ENV]: `file://${join(dir, 'objects')}` },
      },
    );
    const result = JSON.parse(stdout);
    expect(Object.keys(result).sort()).toEqual([
      'events',
      'output',
      'segments',
      'stats',
      'status',
      'taskId',
      'traces',
      'workflow',
    ]);
    expect(result.status).toBe('SUCCEEDED');
    expect(Object.keys(result.events[0]).sort()).toEqual([
      'attempts',
      'endedAt',
      'eventId',
      'node',
      'startedAt',
      'status',
      'type',
    ]);
    expect(Object.keys(result.traces[0]).sort()).toEqual([
      'attempt',
      'durationMs',
      'endedAt',
      'eventId',
      'resource',
      'startedAt',
      'status',
      'taskId',
      'traceId',
    ]);
    expect(result.stats.stateTransitions).toBeGreaterThan(0);
    expect(stdout).not.toContain('local-');
  });

  it('exits 1 when the task fails', async () => {
    await expect(
      run('node', [
        'bin/dag.js',
        'run',
        'workflows/moderate-notify.yaml',
        '--input',
        '{"source": "/no/such/video.mp4"}',
        '--json',
      ]),
    ).rejects.toMatchObject({
      code: 1,
    });
  });
});
