// Runs every benchmark, each in a fresh process one after another, and prints a summary:
// `npx tsx bench/run.ts [--only engine,media,script,operator,load,plan,cost,plan-run,map]`. Results are written up in
// bench/RESULTS.md.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchSummary, currentLoad, formatTable, SUMMARY_FILE_ENV } from './summary.js';

const BENCHES = [
  { name: 'engine', file: 'engine-bench.ts' },
  { name: 'media', file: 'media-bench.ts' },
  { name: 'script', file: 'script-bench.ts' },
  { name: 'operator', file: 'operator-bench.ts' },
  { name: 'load', file: 'load-bench.ts' },
  { name: 'plan', file: 'plan-bench.ts' },
  { name: 'cost', file: 'cost-bench.ts' },
  { name: 'plan-run', file: 'plan-run-bench.ts' },
  { name: 'map', file: 'map-bench.ts' },
] as const;

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const only = values.only?.split(',').map((name) => name.trim());

interface Outcome {
  readonly name: string;
  readonly exitCode: number | null;
  readonly seconds: number;
  readonly summary?: BenchSummary;
}

function runBench(file: string, summaryFile: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    // tsx as a loader of this same Node: no npx lookup per benchmark.
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, file)], {
      stdio: 'inherit',
      env: { ...process.env, [SUMMARY_FILE_ENV]: summaryFile },
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
}

async function main(): Promise<void> {
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  console.log(
    `${new Date().toISOString()}  node ${process.version}  ${availableParallelism()} cpus (${cpus()[0]?.model ?? 'unknown'})  ` +
      `memory ${gib(totalmem())} (${gib(freemem())} free)  load ${currentLoad().join(' ')}`,
  );
  const dir = await mkdtemp(join(tmpdir(), 'media-dag-bench-summary-'));
  const outcomes: Outcome[] = [];
  try {
    for (const bench of BENCHES) {
      if (only && !only.includes(bench.name)) continue;
      if (!existsSync(join(import.meta.dirname, bench.file))) continue;
      console.log(`\n=== ${bench.name} (bench/${bench.file}) ===`);
      const summaryFile = join(dir, `${bench.name}.json`);
      const t0 = performance.now();
      const exitCode = await runBench(bench.file, summaryFile);
      const seconds = (performance.now() - t0) / 1000;
      const summary = existsSync(summaryFile)
        ? (JSON.parse(await readFile(summaryFile, 'utf8')) as BenchSummary)
        : undefined;
      outcomes.push({ name: bench.name, exitCode, seconds, ...(summary ? { summary } : {}) });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  console.log('\n=== summary ===');
  console.log(
    formatTable(
      ['benchmark', 'exit', 'seconds', 'load before', 'load after'],
      outcomes.map((o) => [
        o.name,
        String(o.exitCode),
        o.seconds.toFixed(1),
        o.summary?.load.before.join(' ') ?? '',
        o.summary?.load.after.join(' ') ?? '',
      ]),
    ),
  );
  for (const outcome of outcomes) {
    for (const table of outcome.summary?.tables ?? []) {
      console.log(`\n[${outcome.name}] ${table.title}\n${formatTable(table.header, table.rows)}`);
    }
    for (const note of outcome.summary?.notes ?? []) console.log(`[${outcome.name}] ${note}`);
  }
  if (outcomes.some((o) => o.exitCode !== 0)) process.exitCode = 1;
}

await main();
