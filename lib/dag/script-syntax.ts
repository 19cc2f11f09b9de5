import { Script } from 'node:vm';
import jsonata from 'jsonata';

export type ScriptSyntaxResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string; readonly line?: number; readonly column?: number };

const WRAPPER_FILE = 'dag-script';

/**
 * Checks that a script parses, without running it: javascript is only compiled (never run) by V8 as
 * the body of `function (ctx)`, the same shape the sandbox runs; jsonata is parsed by jsonata.
 */
export function checkScriptSyntax(language: 'jsonata' | 'javascript', source: string): ScriptSyntaxResult {
  return language === 'jsonata' ? checkJsonata(source) : checkJavascript(source);
}

function checkJsonata(source: string): ScriptSyntaxResult {
  try {
    jsonata(source);
    return { ok: true };
  } catch (error) {
    const { message, position } = error as { message?: string; position?: number };
    if (typeof position !== 'number') return { ok: false, message: message ?? String(error) };
    const before = source.slice(0, Math.max(0, position - 1));
    const line = before.split('\n').length;
    const column = position - before.lastIndexOf('\n') - 1;
    return { ok: false, message: message ?? 'syntax error', line, column };
  }
}

function checkJavascript(source: string): ScriptSyntaxResult {
  try {
    // The wrapper's first line holds only the header, so the user's line N is line N + 1 here.
    new Script(`(function (ctx) {\n${source}\n})`, { filename: WRAPPER_FILE });
    return { ok: true };
  } catch (error) {
    const stack = String((error as Error).stack ?? '');
    const match = new RegExp(`${WRAPPER_FILE}:(\\d+)`).exec(stack);
    const line = match ? Math.max(1, Number(match[1]) - 1) : undefined;
    return { ok: false, message: (error as Error).message, ...(line === undefined ? {} : { line }) };
  }
}
