// References inside templates (§3): `$` or `$.a.b[0]['c-d']` — reference paths only (names and
// integer indexes), no filters, wildcards or `..`.
import type { PathSegment } from './parse.js';

export type ReferenceParseResult =
  | { readonly ok: true; readonly segments: readonly PathSegment[] }
  | { readonly ok: false; readonly message: string; readonly offset: number };

/** A template string is a reference when it is exactly `$` or begins with `$.`. */
export function isReference(value: unknown): value is string {
  return typeof value === 'string' && (value === '$' || value.startsWith('$.'));
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*/;

export function parseReference(text: string): ReferenceParseResult {
  if (!text.startsWith('$')) return { ok: false, message: 'a reference starts with $', offset: 0 };
  const segments: PathSegment[] = [];
  let i = 1;
  while (i < text.length) {
    const rest = text.slice(i);
    if (rest.startsWith('..')) return { ok: false, message: "'..' (deep scan) is not allowed", offset: i };
    if (rest.startsWith('.')) {
      const ident = IDENT.exec(rest.slice(1));
      if (!ident) return { ok: false, message: 'expected a property name after "."', offset: i + 1 };
      segments.push(ident[0]);
      i += 1 + ident[0].length;
      continue;
    }
    if (rest.startsWith('[')) {
      const index = /^\[(\d+)\]/.exec(rest);
      if (index) {
        segments.push(Number(index[1]));
        i += index[0].length;
        continue;
      }
      const quoted = /^\[(?:'([^'\\]*)'|"([^"\\]*)")\]/.exec(rest);
      if (quoted) {
        segments.push(quoted[1] ?? quoted[2] ?? '');
        i += quoted[0].length;
        continue;
      }
      return {
        ok: false,
        message:
          "only [integer] indexes and ['name'] are allowed in brackets (no filters, wildcards or slices)",
        offset: i,
      };
    }
    return { ok: false, message: `unexpected '${rest[0]}'`, offset: i };
  }
  return { ok: true, segments };
}

export interface TemplateReference {
  readonly text: string;
  /** Where the string sits inside the template value. */
  readonly at: readonly PathSegment[];
}

/** Every reference string in a template, with where it is. */
export function collectReferences(template: unknown, at: readonly PathSegment[] = []): TemplateReference[] {
  if (isReference(template)) return [{ text: template, at }];
  if (Array.isArray(template)) return template.flatMap((item, i) => collectReferences(item, [...at, i]));
  if (template !== null && typeof template === 'object') {
    return Object.entries(template).flatMap(([key, value]) => collectReferences(value, [...at, key]));
  }
  return [];
}
