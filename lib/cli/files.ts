import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliIoError } from './usage.js';

export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new CliIoError(`cannot read ${path}: ${reason}`);
  }
}

export const OPERATOR_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;

/** The module file of operator `a/b` under an operators folder, if there is one (dag-spec §8). */
export function findOperatorModule(operatorsDir: string, operator: string): string | undefined {
  for (const extension of OPERATOR_EXTENSIONS) {
    const candidate = join(operatorsDir, `${operator}${extension}`);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
