import { writeFileSync } from 'node:fs';
import { type CompileResult, compileWorkflowText, type PlanStrategy } from '../compiler/compile.js';
import { formatDiagnostic, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import { readTextFile } from './files.js';
import type { CommandIo } from './io.js';
import { CliIoError, type Options, parseCommandLine, parseParams, UsageError } from './usage.js';

/** The options `dag compile`, `dag plan` (and later `dag run`) share. */
export const COMPILE_OPTIONS = {
  'no-optimize': { type: 'boolean' },
  plan: { type: 'string' },
  param: { type: 'string', multiple: true },
} as const satisfies Options;

const STRATEGIES: readonly PlanStrategy[] = ['fastest', 'cheapest'];

export interface CompileCommandValues {
  readonly 'no-optimize'?: boolean;
  readonly plan?: string;
  readonly param?: readonly string[];
}

/** The one FILE a command takes. */
export function singleFile(command: string, positionals: readonly string[]): string {
  if (positionals.length === 0) throw new UsageError(`${command} needs a workflow FILE`);
  if (positionals.length > 1)
    throw new UsageError(
      `${command} takes one workflow FILE, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  return positionals[0]!;
}

export function parseStrategy(value: string | undefined): PlanStrategy {
  if (value === undefined) return 'fastest';
  const strategy = STRATEGIES.find((s) => s === value);
  if (!strategy) throw new UsageError(`--plan takes ${STRATEGIES.join(' or ')}, got '${value}'`);
  return strategy;
}

/**
 * Reads and compiles FILE with the shared options, printing its diagnostics (warnings too) to stderr
 * as `FILE:LINE:COL: severity CODE: message`. Usage errors are thrown before the file is read.
 */
export function compileFileForCommand(
  file: string,
  values: CompileCommandValues,
  io: CommandIo,
): CompileResult {
  const strategy = parseStrategy(values.plan);
  const params = parseParams(values.param);
  const result = compileWorkflowText(readTextFile(file), {
    optimize: values['no-optimize'] !== true,
    strategy,
    params,
  });
  for (const d of sortDiagnostics(result.diagnostics)) io.stderr(formatDiagnostic(file, d));
  return result;
}

/** Whether a compilation gave a plan and ASL with no error. */
export function compiled(
  result: CompileResult,
): result is CompileResult & Required<Pick<CompileResult, 'plan' | 'asl'>> {
  return result.plan !== undefined && result.asl !== undefined && !hasErrors(result.diagnostics);
}

/** `dag compile FILE [--no-optimize] [--plan fastest|cheapest] [--param k=v]... [-o OUT]`: 0, 1 invalid. */
export async function runCompile(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...COMPILE_OPTIONS,
    output: { type: 'string', short: 'o' },
  });
  const file = singleFile('compile', positionals);
  const result = compileFileForCommand(file, values, io);
  if (!compiled(result)) return 1;
  const text = JSON.stringify(result.asl, null, 2);
  if (values.output === undefined) {
    io.stdout(text);
    return 0;
  }
  try {
    writeFileSync(values.output, `${text}\n`);
  } catch (error) {
    throw new CliIoError(`cannot write ${values.output}: ${(error as Error).message}`);
  }
  return 0;
}
