import { readFileSync } from 'node:fs';
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
