import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OperatorProcessPool } from './operator-processes.js';

/** What an operator module exports (dag-spec §8). */
export type OperatorHandler = (event: OperatorEvent) => unknown;

export interface OperatorEvent {
  readonly task: { readonly id: string; readonly workflow: string };
  readonly node: { readonly name: string; readonly eventId: string; readonly attempt: number };
  readonly segment?: { readonly id: string; readonly order: number };
  readonly input: unknown;
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

export class OperatorNotFoundError extends Error {
  override name = 'OperatorNotFoundError';
}

export interface OperatorCatalogOptions {
  /** The most operator processes running at once (DEFAULT_MAX_OPERATOR_PROCESSES). */
  readonly maxProcesses?: number;
}

/**
 * The operators of a catalog folder. Two ways to run one:
 * - `run`, as the embedded engine does: every attempt in a pooled child process of its own
 *   (operator-processes.ts), stopped at its time limit; TypeScript modules load there through tsx,
 *   whatever loaders the host itself runs under.
 * - `load`, in this process, for a host that is itself one isolated invocation (the Batch GPU job):
 *   each module once; TypeScript loads because such a host runs under tsx.
 */
export class OperatorCatalog {
  private readonly loaded = new Map<string, Promise<OperatorHandler>>();
  private readonly files = new Map<string, string>();
  private readonly processes: OperatorProcessPool;

  constructor(
    readonly folder: string,
    options: OperatorCatalogOptions = {},
  ) {
    this.processes = new OperatorProcessPool(options.maxProcesses);
  }

  has(operator: string): boolean {
    return findOperatorModule(this.folder, operator) !== undefined;
  }

  /**
   * Runs one attempt of `operator` on `event` and resolves with what its handler returns. Rejects with
   * what the handler threw (its name and message), OperatorTimeoutError (`States.Timeout`) once
   * `timeoutMs` has passed and its process has been killed, or OperatorCrashedError when the process
   * ended first. Loading the module does not count against `timeoutMs`.
   */
  run(operator: string, event: OperatorEvent, timeoutMs: number): Promise<unknown> {
    let file = this.files.get(operator);
    if (!file) {
      file = findOperatorModule(this.folder, operator);
      if (!file)
        return Promise.reject(
          new OperatorNotFoundError(
            `Operator '${operator}' has no module under ${this.folder} (.ts, .mts, .js, .mjs).`,
          ),
        );
      this.files.set(operator, file);
    }
    return this.processes.run(operator, file, event, timeoutMs);
  }

  load(operator: string): Promise<OperatorHandler> {
    let handler = this.loaded.get(operator);
    if (!handler) {
      handler = this.import(operator);
      this.loaded.set(operator, handler);
    }
    return handler;
  }

  /** Stops the catalog's processes; attempts still running never settle (see OperatorProcessPool.run). */
  close(): Promise<void> {
    return this.processes.close();
  }

  private async import(operator: string): Promise<OperatorHandler> {
    const file = findOperatorModule(this.folder, operator);
    if (!file)
      throw new OperatorNotFoundError(
        `Operator '${operator}' has no module under ${this.folder} (.ts, .mts, .js, .mjs).`,
      );
    const module = (await import(pathToFileURL(file).href)) as {
      handler?: unknown;
      default?: { handler?: unknown };
    };
    const handler = module.handler ?? module.default?.handler;
    if (typeof handler !== 'function')
      throw new OperatorNotFoundError(`Operator module ${file} does not export a handler(event) function.`);
    return handler as OperatorHandler;
  }
}
