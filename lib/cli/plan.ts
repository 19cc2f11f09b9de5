import { planToJson, planToMermaid, planToText } from '../compiler/explain.js';
import { COMPILE_OPTIONS, compiled, compileFileForCommand, singleFile } from './compile.js';
import type { CommandIo } from './io.js';
import { parseCommandLine, UsageError } from './usage.js';

const FORMATS = ['text', 'mermaid', 'json'] as const;

/**
 * `dag plan FILE [--explain] [--format text|mermaid|json] [--no-optimize] [--plan P] [--param k=v]`:
 * the business DAG against the execution plan. 0, or 1 for an invalid workflow.
 */
export async function runPlan(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...COMPILE_OPTIONS,
    explain: { type: 'boolean' },
    format: { type: 'string' },
  });
  const format = FORMATS.find((f) => f === (values.format ?? 'text'));
  if (!format) throw new UsageError(`--format takes ${FORMATS.join(', ')}, got '${values.format}'`);
  const file = singleFile('plan', positionals);
  const result = compileFileForCommand(file, values, io);
  if (!compiled(result)) return 1;
  if (format === 'json') io.stdout(JSON.stringify(planToJson(result.plan), null, 2));
  else if (format === 'mermaid') io.stdout(planToMermaid(result.plan));
  else io.stdout(planToText(result.plan, { explain: values.explain === true }));
  return 0;
}
