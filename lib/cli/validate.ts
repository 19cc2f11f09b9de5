import { existsSync, statSync } from 'node:fs';
import { diagnosticJson, formatDiagnostic, hasErrors, sortDiagnostics } from '../dag/diagnostics.js';
import { validateWorkflowText } from '../dag/validate.js';
import { findOperatorModule } from '../runtime/operators.js';
import { readTextFile } from './files.js';
import type { CommandIo } from './io.js';
import { parseCommandLine, UsageError } from './usage.js';

/** `dag validate FILE... [--json] [--operators DIR]`: 0 valid (warnings allowed), 1 invalid. */
export async function runValidate(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    json: { type: 'boolean' },
    operators: { type: 'string' },
  });
  if (positionals.length === 0) throw new UsageError('validate needs a workflow FILE');
  const operatorsDir = values.operators;
  if (operatorsDir !== undefined && !(existsSync(operatorsDir) && statSync(operatorsDir).isDirectory())) {
    throw new UsageError(`--operators ${operatorsDir} is not a folder`);
  }
  const operatorExists =
    operatorsDir === undefined
      ? undefined
      : (op: string) => findOperatorModule(operatorsDir, op) !== undefined;

  let allValid = true;
  for (const file of positionals) {
    const result = validateWorkflowText(readTextFile(file), { operatorExists });
    const diagnostics = sortDiagnostics(result.diagnostics);
    const valid = !hasErrors(diagnostics);
    allValid &&= valid;
    if (values.json) {
      const body = { valid, diagnostics: diagnostics.map(diagnosticJson) };
      io.stdout(JSON.stringify(positionals.length > 1 ? { file, ...body } : body));
    } else {
      for (const d of diagnostics) io.stderr(formatDiagnostic(file, d));
      const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
      if (valid)
        io.stdout(`${file}: valid${warnings > 0 ? ` (${warnings} warning${warnings > 1 ? 's' : ''})` : ''}`);
    }
  }
  return allValid ? 0 : 1;
}
