import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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

/**
 * Loads operator modules from the catalog folder once each. TypeScript modules load because the CLI
 * runs under tsx's loader and tests under vitest.
 */
export class OperatorCatalog {
  private readonly loaded = new Map<string, Promise<OperatorHandler>>();

  constructor(readonly folder: string) {}

  has(operator: string): boolean {
    return findOperatorModule(this.folder, operator) !== undefined;
  }

  load(operator: string): Promise<OperatorHandler> {
    let handler = this.loaded.get(operator);
    if (!handler) {
      handler = this.import(operator);
      this.loaded.set(operator, handler);
    }
    return handler;
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
