// What the benchmarks share: a plain-text table, the machine's load, and the summary that
// `bench/run.ts` collects from each benchmark process (a JSON file named by BENCH_SUMMARY_FILE).
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export const SUMMARY_FILE_ENV = 'BENCH_SUMMARY_FILE';

export interface BenchSummary {
  readonly name: string;
  /** Load averages (1, 5, 15 min) when the benchmark started and ended. */
  readonly load: { readonly before: readonly number[]; readonly after: readonly number[] };
  readonly tables: readonly {
    readonly title: string;
    readonly header: readonly string[];
    readonly rows: readonly string[][];
  }[];
  readonly notes: readonly string[];
}

export function currentLoad(): number[] {
  return loadavg().map((value) => Number(value.toFixed(2)));
}

/** Columns padded to their widest cell; numbers are right-aligned, text left-aligned. */
export function formatTable(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const numeric = (cell: string) => /^[-+]?[\d.,]+( ?[a-z%/×x]+)?$/i.test(cell) && /\d/.test(cell);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (numeric(cell) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/** Prints the summary's tables and, when run by bench/run.ts, hands the summary over. */
export function reportSummary(summary: BenchSummary): void {
  for (const table of summary.tables)
    console.log(`\n${table.title}\n${formatTable(table.header, table.rows)}`);
  for (const note of summary.notes) console.log(note);
  const file = process.env[SUMMARY_FILE_ENV];
  if (file) writeFileSync(file, JSON.stringify(summary, null, 2));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
