// Where the project's sources are, for bundling and for what the stack derives from them (the operator
// catalog, the shipped workflows). Synthesis reads these files; nothing here calls AWS.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateWorkflowText } from '../dag/validate.js';
import { OPERATOR_EXTENSIONS } from '../runtime/operators.js';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FUNCTIONS_DIR = join(PROJECT_ROOT, 'functions');
export const OPERATORS_DIR = join(FUNCTIONS_DIR, 'operators');
export const WORKFLOWS_DIR = join(PROJECT_ROOT, 'workflows');
export const LOCK_FILE = join(PROJECT_ROOT, 'package-lock.json');

/** The entry of a Lambda handler: `functions/<name>/handler.ts`. */
export function handlerEntry(name: string): string {
  const entry = join(FUNCTIONS_DIR, name, 'handler.ts');
  if (!existsSync(entry)) throw new Error(`No handler at ${entry}.`);
  return entry;
}

export interface OperatorModule {
  /** `media/probe`. */
  readonly operator: string;
  /** Relative to the project root, with `/`: `functions/operators/media/probe.ts`. */
  readonly path: string;
}

/**
 * The operator catalog: every module in a subfolder of `dir` (`media/probe.ts` is `media/probe`).
 * Files at the top level (types.ts) are shared code, not operators; tests and declarations are skipped.
 */
export function listOperators(dir: string = OPERATORS_DIR): OperatorModule[] {
  const found: OperatorModule[] = [];
  const walk = (folder: string, depth: number) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path, depth + 1);
      else if (depth > 0 && isOperatorFile(entry.name)) {
        const extension = OPERATOR_EXTENSIONS.find((ext) => entry.name.endsWith(ext))!;
        const operator = relative(dir, path).slice(0, -extension.length).split(sep).join('/');
        found.push({ operator, path: relative(PROJECT_ROOT, path).split(sep).join('/') });
      }
    }
  };
  walk(dir, 0);
  return found.sort((a, b) => a.operator.localeCompare(b.operator));
}

function isOperatorFile(name: string): boolean {
  if (name.endsWith('.d.ts') || /\.(test|spec)\.[mc]?[jt]s$/.test(name)) return false;
  return OPERATOR_EXTENSIONS.some((ext) => name.endsWith(ext));
}

export interface ShippedWorkflow {
  /** Relative to the project root: `workflows/slice-transcode.yaml`. */
  readonly file: string;
  readonly source: string;
}

/** The workflows registered at deploy time: `workflows/*.yaml|yml|json`, by file name. */
export function listShippedWorkflows(dir: string = WORKFLOWS_DIR): ShippedWorkflow[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /\.(ya?ml|json)$/.test(name))
    .sort()
    .map((name) => ({
      file: relative(PROJECT_ROOT, join(dir, name)).split(sep).join('/'),
      source: readFileSync(join(dir, name), 'utf8'),
    }));
}

export class ShippedWorkflowInvalidError extends Error {
  constructor(file: string, messages: readonly string[]) {
    super(
      `${file} does not validate, so the stack cannot derive its queues from it:\n${messages.join('\n')}`,
    );
    this.name = 'ShippedWorkflowInvalidError';
  }
}

/** Validates a shipped workflow at synth, so a broken one fails `cdk synth` rather than the deploy. */
export function parseShippedWorkflow(shipped: ShippedWorkflow) {
  const result = validateWorkflowText(shipped.source);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (!result.dag || errors.length > 0)
    throw new ShippedWorkflowInvalidError(
      shipped.file,
      errors.map((d) => `${d.line ?? 1}:${d.column ?? 1}: ${d.code}: ${d.message}`),
    );
  return result.dag.workflow;
}
