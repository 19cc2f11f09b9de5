import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A wrong command line: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A file that cannot be read or written: exit 2. */
export class CliIoError extends Error {
  override name = 'CliIoError';
}

export const USAGE = `Usage: dag <command> [options]

Commands:
  validate FILE... [--json] [--operators DIR]      check workflow files
  compile FILE [--no-optimize] [--plan fastest|cheapest] [--param k=v] [-o OUT]
  plan FILE [--explain] [--format text|mermaid|json] [--no-optimize] [--plan P] [--param k=v]
  graph FILE [--format mermaid|dot|svg]
  run FILE [--input JSON|@file] [--operators DIR] [--param k=v] [--json] [--report out.html]
  serve [--port 8080] [--data DIR] [--operators DIR]

Exit codes: 0 success, 1 invalid workflow or failed task, 2 usage or I/O error.`;

export type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs, with its errors turned into UsageError. */
export function parseCommandLine<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `--param k=v`: v is parsed as JSON when it is JSON, else taken as a string (dag-spec §8). */
export function parseParams(values: readonly string[] | undefined): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const entry of values ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes k=v, got '${entry}'`);
    const raw = entry.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the spec says take it as a string.
    }
    params[entry.slice(0, eq)] = value;
  }
  return params;
}
