import { dagToDot, dagToMermaid } from '../compiler/explain.js';
import { formatDiagnostic, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import { validateWorkflowText } from '../dag/validate.js';
import { singleFile } from './compile.js';
import { readTextFile } from './files.js';
import type { CommandIo } from './io.js';
import { parseCommandLine, UsageError } from './usage.js';

const FORMATS = ['mermaid', 'dot', 'svg'] as const;

/** `dag graph FILE [--format mermaid|dot|svg]`: a picture of the business DAG. 0, or 1 when invalid. */
export async function runGraph(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { format: { type: 'string' } });
  const format = FORMATS.find((f) => f === (values.format ?? 'mermaid'));
  if (!format) throw new UsageError(`--format takes ${FORMATS.join(', ')}, got '${values.format}'`);
  if (format === 'svg')
    throw new UsageError(
      '--format svg comes with the web view (dag serve); for now use --format mermaid, or --format dot and Graphviz: dag graph FILE --format dot | dot -Tsvg > dag.svg',
    );
  const file = singleFile('graph', positionals);
  const result = validateWorkflowText(readTextFile(file));
  for (const d of sortDiagnostics(result.diagnostics)) io.stderr(formatDiagnostic(file, d));
  if (!result.dag || hasErrors(result.diagnostics)) return 1;
  io.stdout(format === 'dot' ? dagToDot(result.dag) : dagToMermaid(result.dag));
  return 0;
}
