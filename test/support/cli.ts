// Runs the real `dag` bin as a user would after `npm ci`, for the CLI integration tests.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function dag(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run('node', ['bin/dag.js', ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'dag-cli-'));
}

export function tempFile(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

/** A workflow whose `work` node names the misspelt next node `dnoe` (line 4, column 52). */
export const BROKEN_WORKFLOW = `name: broken
nodes:
  begin: { type: start, next: work }
  work: { type: sync, operator: media/probe, next: dnoe }
  done: { type: end }
`;
