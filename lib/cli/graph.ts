import { dagToDot, dagToMermaid } from '../compiler/explain.js';
import { formatDiagnostic, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import { validateWorkflowText } from '../dag/validate.js';
import { layoutBusinessDag } from '../web/graph-layout.js';
import { renderGraphSvg } from '../web/graph-svg.js';
import { singleFile } from './compile.js';
import { readTextFile } from './files.js';
import type { CommandIo } from './io.js';
import { parseCommandLine, UsageError } from './usage.js';

const FORMATS = ['mermaid', 'dot', 'svg'] as const;

/**
 * `dag graph FILE [--format mermaid|dot|svg]`: a picture of the business DAG (svg: laid out by elkjs, the
 * same drawing as the web view's). 0, or 1 when invalid.
 */
export async function runGraph(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { format: { type: 'string' } });
  const format = FORMATS.find((f) => f === (values.format ?? 'mermaid'));
  if (!format) throw new UsageError(`--format takes ${FORMATS.join(', ')}, got '${values.format}'`);
  const file = singleFile('graph', positionals);
  const result = validateWorkflowText(readTextFile(file));
  for (const d of sortDiagnostics(result.diagnostics)) io.stderr(formatDiagnostic(file, d));
  if (!result.dag || hasErrors(result.diagnostics)) return 1;
  if (format === 'svg') io.stdout(renderGraphSvg(await layoutBusinessDag(result.dag)));
  else io.stdout(format === 'dot' ? dagToDot(result.dag) : dagToMermaid(result.dag));
  return 0;
}
