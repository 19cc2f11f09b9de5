// Wall time of workflows/slice-transcode.yaml on the embedded engine against one plain ffmpeg encode of
// the same file to the same preset: `npx tsx bench/media-bench.ts [--runs 3]`.
// The source is a 40 s 640x360 test clip, so the workflow takes its sliced path (probe, slice into
// 10 s segments, transcode the segments in parallel, merge). The plain encode uses the arguments the
// transcode operator uses (default preset, audio copied as the sliced path does), run once on the whole
// file. Runs alternate (engine, plain, engine, ...) so that a change in the machine's load hits both.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileWorkflowText } from '../lib/compiler/compile.js';
import { EmbeddedEngine, type TaskResult } from '../lib/local/engine.js';
import { ffmpegPath, runFfmpeg } from '../lib/media/ffmpeg.js';
import { DEFAULT_PRESET, PRESETS } from '../lib/media/presets.js';
import { probeMedia } from '../lib/media/probe.js';
import { ensureSampleVideo } from '../lib/media/sample.js';
import { transcodeArgs } from '../lib/media/transcode.js';
import { OBJECT_ROOT_ENV } from '../lib/storage/object-store.js';
import { currentLoad, median, reportSummary } from './summary.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const RUNS = Number(values.runs);
const ROOT = join(import.meta.dirname, '..');
const SAMPLE = { seconds: 40, width: 640, height: 360 };

interface Timed {
  readonly wallMs: number;
  /** CPU time of this process (engine, dynalite, operator code). */
  readonly selfCpuMs: number;
  /** CPU time of the ffmpeg/ffprobe processes that ended meanwhile. */
  readonly childCpuMs: number;
}

/** Children's CPU time so far (cutime + cstime of /proc/self/stat: every reaped child, in ms). */
async function childCpuMs(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17 of the whole.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100;
  return ((Number(fields[13]) + Number(fields[14])) / ticksPerSecond) * 1000;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; timing: Timed }> {
  const children = await childCpuMs();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wallMs = performance.now() - t0;
  const { user, system } = process.cpuUsage(cpu);
  return {
    value,
    timing: { wallMs, selfCpuMs: (user + system) / 1000, childCpuMs: (await childCpuMs()) - children },
  };
}

function nodeTimes(result: TaskResult): Map<string, number> {
  const times = new Map<string, number>();
  for (const event of result.events) {
    if (event.endedAt) times.set(event.node, Date.parse(event.endedAt) - Date.parse(event.startedAt));
  }
  return times;
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);

async function main(): Promise<void> {
  const loadBefore = currentLoad();
  const sampleDir = join(tmpdir(), 'media-dag-bench');
  const sample = await ensureSampleVideo(
    join(sampleDir, `sample-${SAMPLE.seconds}s-${SAMPLE.width}x${SAMPLE.height}.mp4`),
    SAMPLE,
  );
  const work = await mkdtemp(join(tmpdir(), 'media-dag-bench-run-'));
  const objects = join(work, 'objects');
  process.env[OBJECT_ROOT_ENV] = `file://${objects}`;
  const engine = await EmbeddedEngine.start({ operatorsDir: join(ROOT, 'functions', 'operators') });
  try {
    const yaml = await readFile(join(ROOT, 'workflows', 'slice-transcode.yaml'), 'utf8');
    const compiled = compileWorkflowText(yaml, { operatorExists: (op) => engine.catalog.has(op) });
    if (!compiled.asl)
      throw new Error(`slice-transcode does not compile: ${JSON.stringify(compiled.diagnostics)}`);

    const runEngine = async () => {
      const result = await engine.runTask(compiled, { source: sample });
      if (result.status !== 'SUCCEEDED')
        throw new Error(`slice-transcode ${result.status}: ${JSON.stringify(result.error)}`);
      await rm(objects, { recursive: true, force: true });
      return result;
    };
    const plainOutput = join(work, 'plain.mp4');
    const plainArgs = transcodeArgs(sample, plainOutput, DEFAULT_PRESET, {
      keepTimestamps: false,
      audio: 'copy',
    });
    const runPlain = () => runFfmpeg(plainArgs);

    // The first task loads the operator modules (tsx compiles them); it is reported, not counted.
    const cold = await timed(runEngine);
    console.log(`engine cold run: ${seconds(cold.timing.wallMs)} s`);
    const engineRuns: { result: TaskResult; timing: Timed }[] = [];
    const plainRuns: Timed[] = [];
    for (let i = 0; i < RUNS; i++) {
      const e = await timed(runEngine);
      engineRuns.push({ result: e.value, timing: e.timing });
      console.log(`engine run ${i + 1}: ${seconds(e.timing.wallMs)} s`);
      const p = await timed(runPlain);
      plainRuns.push(p.timing);
      console.log(`plain  run ${i + 1}: ${seconds(p.timing.wallMs)} s`);
    }
    const plainInfo = await probeMedia(plainOutput);
    const last = engineRuns.at(-1)!.result;
    const merged = (last.output as { merge: { durationSec: number } }).merge;

    const row = (label: string, runs: readonly Timed[]) => [
      label,
      ...runs.map((r) => seconds(r.wallMs)),
      seconds(median(runs.map((r) => r.wallMs))),
      seconds(median(runs.map((r) => r.selfCpuMs))),
      seconds(median(runs.map((r) => r.childCpuMs))),
    ];
    const engineTimings = engineRuns.map((r) => r.timing);
    const ratio = median(engineTimings.map((r) => r.wallMs)) / median(plainRuns.map((r) => r.wallMs));
    // Per-node times of the run whose wall time is the median.
    const byWall = [...engineRuns].sort((a, b) => a.timing.wallMs - b.timing.wallMs);
    const middle = byWall[Math.floor(byWall.length / 2)]!;
    const nodes = nodeTimes(middle.result);
    const segmentTraces = middle.result.traces
      .filter((t) => t.segmentId !== undefined)
      .map((t) => t.durationMs);
    const preset = PRESETS[DEFAULT_PRESET];

    reportSummary({
      name: 'media',
      load: { before: loadBefore, after: currentLoad() },
      tables: [
        {
          title: `${SAMPLE.seconds} s ${SAMPLE.width}x${SAMPLE.height} clip -> preset ${DEFAULT_PRESET} (libx264 veryfast crf ${preset.crf}, maxrate ${preset.maxrateKbps}k), ${RUNS} runs each`,
          header: [
            'pipeline',
            ...engineRuns.map((_, i) => `run ${i + 1} s`),
            'median s',
            'node cpu s',
            'ffmpeg cpu s',
          ],
          rows: [row('slice-transcode (engine)', engineTimings), row('one ffmpeg encode', plainRuns)],
        },
        {
          title: `slice-transcode, the median run (${seconds(middle.timing.wallMs)} s): time per node from its event`,
          header: ['node', 'seconds'],
          rows: [...nodes.entries()].filter(([, ms]) => ms >= 0).map(([node, ms]) => [node, seconds(ms)]),
        },
      ],
      notes: [
        `engine / plain (median wall): ${ratio.toFixed(2)}x; engine cold run ${seconds(cold.timing.wallMs)} s (not counted)`,
        `segments: ${segmentTraces.length}, each transcode ${segmentTraces.map((ms) => seconds(ms)).join(', ')} s (run 8 at a time at most)`,
        `output duration: merged ${merged.durationSec.toFixed(2)} s, plain ${plainInfo.durationSec.toFixed(2)} s`,
        `ffmpeg: ${ffmpegPath}`,
        `plain command: ffmpeg -hide_banner -nostdin -y -loglevel error ${plainArgs.join(' ')}`,
      ],
    });
  } finally {
    await engine.close();
    delete process.env[OBJECT_ROOT_ENV];
    await rm(work, { recursive: true, force: true });
  }
}

await main();
