// A fast reader for the plain subset of YAML 1.2 that workflow files are written in: block maps and
// sequences, single-line scalars, one-line flow collections, `|` / `|-` scripts, comments, and JSON.
// The `yaml` package's document parser builds a node tree with source ranges and costs ~0.5 ms per
// kilobyte; this reader builds only the plain value, over ten times faster. It gives up (returns
// undefined) on anything outside the subset or anything the full parser would report — syntax
// errors, duplicate keys, tags, anchors, multi-line plain or quoted scalars, folded scalars — so the
// caller parses those with the full parser and loses nothing but time. Whatever it accepts, it must
// read exactly as `parseDocument(text, { version: '1.2' }).toJS()` does (core schema); the tests
// compare both on generated documents.

/** Thrown (one shared instance, no stack) when the text leaves the subset. */
class OutsideSubset {}
const OUTSIDE = new OutsideSubset();

function giveUp(): never {
  throw OUTSIDE;
}

/**
 * Control characters, a byte-order mark, CR (CRLF files) and the non-characters: the full parser
 * has rules for them that this reader does not copy. A tab is handled where it appears.
 */
function hasUnsupportedCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 32 ? c !== LF && c !== TAB : (c >= 0x7f && c <= 0x9f) || c === 0xfeff || c >= 0xfffe) return true;
  }
  return false;
}

/**
 * The plain value of `text` when it is a workflow in the subset (a map at the root, block or flow),
 * or undefined when the full parser must read it.
 */
export function parseYamlSubset(text: string): { readonly value: unknown } | undefined {
  if (hasUnsupportedCharacter(text)) return undefined;
  try {
    return { value: new SubsetReader(text).document() };
  } catch (error) {
    if (error === OUTSIDE) return undefined;
    throw error;
  }
}

const LF = 10;
const SPACE = 32;
const TAB = 9;
const HASH = 35;
const COLON = 58;
const COMMA = 44;
const DASH = 45;

/** Characters a plain scalar may not start with (`-` may, before a letter, digit or `.`). */
const INDICATORS = new Set('-?:,[]{}#&*!|>\'"%@`');
/** Plain keys this reader accepts; anything else (`a[b]`, `1`, `true`) goes to the full parser. */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$./ -]*$/;
/** The full parser rejects longer implicit keys; such keys are left to it. */
const MAX_KEY_LENGTH = 1000;

class SubsetReader {
  private pos = 0;
  private readonly length: number;

  constructor(private readonly text: string) {
    this.length = text.length;
  }

  document(): unknown {
    const indent = this.nextContentLine();
    if (indent !== 0) giveUp(); // empty, or indented as a whole
    const first = this.text.charCodeAt(this.pos);
    if (first === 123 /* { */ || first === 91 /* [ */) {
      const value = this.flowNode(true);
      this.flowSpace(true);
      if (this.pos < this.length) giveUp();
      if (Array.isArray(value)) giveUp(); // not a workflow: the full parser's value feeds the diagnostic
      return value;
    }
    const map = this.blockMap(0, {} as Record<string, unknown>);
    if (this.pos < this.length) giveUp();
    return map;
  }

  // ---- lines ----------------------------------------------------------------------------------

  /**
   * Skips empty and comment-only lines; leaves `pos` at the start of the next content line and
   * returns its indentation, or -1 at the end of the text.
   */
  private nextContentLine(): number {
    const { text, length } = this;
    for (;;) {
      if (this.pos >= length) return -1;
      let i = this.pos;
      while (i < length && text.charCodeAt(i) === SPACE) i++;
      const c = text.charCodeAt(i);
      if (c === TAB) giveUp();
      if (i >= length) {
        this.pos = length;
        return -1;
      }
      if (c === LF) {
        this.pos = i + 1;
        continue;
      }
      if (c === HASH) {
        this.skipToNextLine(i);
        continue;
      }
      return i - this.pos;
    }
  }

  private skipToNextLine(from: number): void {
    const eol = this.text.indexOf('\n', from);
    this.pos = eol < 0 ? this.length : eol + 1;
  }

  /** After a value on its line: spaces, then a comment (after a space) or the end of the line. */
  private endOfLine(): void {
    const { text } = this;
    const start = this.pos;
    while (text.charCodeAt(this.pos) === SPACE) this.pos++;
    if (this.pos >= this.length) return;
    const c = text.charCodeAt(this.pos);
    if (c === LF) {
      this.pos++;
      return;
    }
    if (c === HASH && this.pos > start) {
      this.skipToNextLine(this.pos);
      return;
    }
    giveUp();
  }

  private isSequenceEntry(at: number): boolean {
    if (this.text.charCodeAt(at) !== DASH) return false;
    const next = this.text.charCodeAt(at + 1);
    return next === SPACE || next === LF || at + 1 >= this.length;
  }

  // ---- block collections ----------------------------------------------------------------------

  /** The entries of a block map at `indent`, from the start of a line, added to `map`. */
  private blockMap(indent: number, map: Record<string, unknown>): Record<string, unknown> {
    for (;;) {
      const at = this.nextContentLine();
      if (at < indent) return map;
      if (at > indent) giveUp();
      this.pos += indent;
      this.mapEntry(map, indent);
    }
  }

  /** One `key: value` of a block map at `indent`, `pos` at the key; ends at the next line. */
  private mapEntry(map: Record<string, unknown>, indent: number): void {
    const key = this.blockKey();
    // Duplicates are the full parser's to report; `__proto__` would set the prototype.
    if (Object.hasOwn(map, key) || key === '__proto__') giveUp();
    while (this.text.charCodeAt(this.pos) === SPACE) this.pos++;
    const c = this.text.charCodeAt(this.pos);
    if (this.pos >= this.length || c === LF || c === HASH) {
      // `key:` alone (a `#` here always follows the space blockKey required)
      this.skipToNextLine(this.pos);
      map[key] = this.valueBelow(indent);
      return;
    }
    map[key] = this.inlineValue(indent);
  }

  /** A key and its colon; `pos` ends past the colon, which a space or the line's end follows. */
  private blockKey(): string {
    const { text } = this;
    const c = text.charCodeAt(this.pos);
    let key: string;
    if (c === 34 /* " */ || c === 39 /* ' */) {
      key = c === 34 ? this.doubleQuoted() : this.singleQuoted();
      if (text.charCodeAt(this.pos) !== COLON) giveUp();
    } else {
      const start = this.pos;
      let i = start;
      for (;;) {
        const ch = text.charCodeAt(i);
        if (i >= this.length || ch === LF) giveUp(); // no colon: not a map entry
        if (ch === COLON) {
          const after = text.charCodeAt(i + 1);
          if (after === SPACE || after === LF || i + 1 >= this.length) break;
        }
        i++;
      }
      key = text.slice(start, i);
      if (!PLAIN_KEY.test(key) || key.endsWith(' ') || !resolvesToString(key)) giveUp();
      this.pos = i;
    }
    if (key.length > MAX_KEY_LENGTH) giveUp();
    this.pos++; // the colon
    const after = text.charCodeAt(this.pos);
    if (!(after === SPACE || after === LF || this.pos >= this.length)) giveUp();
    return key;
  }

  /** The value of a key with nothing after its colon: a nested block, or null. */
  private valueBelow(indent: number): unknown {
    const at = this.nextContentLine();
    if (at < 0) return null;
    if (this.isSequenceEntry(this.pos + at) && at >= indent) return this.blockSequence(at);
    if (at > indent) {
      this.pos += at;
      const map = {} as Record<string, unknown>;
      this.mapEntry(map, at);
      return this.blockMap(at, map);
    }
    return null;
  }

  /** The items of a block sequence whose dashes are at `indent`, from the start of a line. */
  private blockSequence(indent: number): unknown[] {
    const items: unknown[] = [];
    for (;;) {
      const at = this.nextContentLine();
      if (at < indent) return items;
      if (at > indent || !this.isSequenceEntry(this.pos + at)) {
        // Not an item at the sequence's own indentation: a key at the parent map's indentation
        // ends the sequence, anything else is outside the subset.
        if (at === indent) return items;
        giveUp();
      }
      this.pos += at + 1;
      let column = at + 1;
      while (this.text.charCodeAt(this.pos) === SPACE) {
        this.pos++;
        column++;
      }
      const c = this.text.charCodeAt(this.pos);
      if (this.pos >= this.length || c === LF || c === HASH || this.isSequenceEntry(this.pos)) giveUp();
      if (this.startsMapEntry()) {
        const map = {} as Record<string, unknown>;
        this.mapEntry(map, column);
        items.push(this.blockMap(column, map));
      } else items.push(this.inlineValue(column - 1));
    }
  }

  /** Whether the rest of the line, from `pos`, is a `key: ...` (so a sequence item is a map). */
  private startsMapEntry(): boolean {
    const { text } = this;
    const c = text.charCodeAt(this.pos);
    if (c === 123 /* { */ || c === 91 /* [ */ || c === 124 /* | */) return false;
    const eol = text.indexOf('\n', this.pos);
    const line = text.slice(this.pos, eol < 0 ? this.length : eol);
    if (c === 34 /* " */ || c === 39 /* ' */) {
      // A quoted scalar followed by a colon is a key; the quoted readers find its end.
      const saved = this.pos;
      if (c === 34) this.doubleQuoted();
      else this.singleQuoted();
      const isKey = text.charCodeAt(this.pos) === COLON;
      this.pos = saved;
      return isKey;
    }
    const comment = line.indexOf(' #');
    const content = comment < 0 ? line : line.slice(0, comment);
    return content.includes(': ') || trimSpaces(content).endsWith(':');
  }

  // ---- scalars and flow collections in block context --------------------------------------------

  /** A value after `key: ` or `- ` (in a collection at `indent`); ends at the next line. */
  private inlineValue(indent: number): unknown {
    const c = this.text.charCodeAt(this.pos);
    let value: unknown;
    if (c === 34 /* " */) value = this.doubleQuoted();
    else if (c === 39 /* ' */) value = this.singleQuoted();
    else if (c === 123 /* { */ || c === 91 /* [ */) value = this.flowNode(false);
    else if (c === 124 /* | */) return this.literalBlock(indent);
    else return this.blockPlain();
    this.endOfLine();
    return value;
  }

  /** A one-line plain scalar in block context, resolved by the core schema. */
  private blockPlain(): unknown {
    const { text } = this;
    const start = this.pos;
    if (startsOutsidePlain(text, start)) giveUp();
    const eol = text.indexOf('\n', start);
    const end = eol < 0 ? this.length : eol;
    let line = text.slice(start, end);
    const comment = line.indexOf(' #');
    if (comment >= 0) line = line.slice(0, comment);
    line = trimSpaces(line);
    if (line.includes(': ') || line.endsWith(':') || line.includes('\t')) giveUp();
    this.pos = eol < 0 ? this.length : eol + 1;
    return resolvePlain(line);
  }

  /** `|` or `|-` and its lines, more indented than the collection at `indent`. */
  private literalBlock(indent: number): string {
    const { text, length } = this;
    this.pos++;
    let strip = false;
    if (text.charCodeAt(this.pos) === DASH) {
      strip = true;
      this.pos++;
    }
    // The header: an indentation indicator, `+` or anything else but a comment is left to the parser.
    const headerEnd = this.pos;
    while (text.charCodeAt(this.pos) === SPACE) this.pos++;
    const c = text.charCodeAt(this.pos);
    if (c === HASH && this.pos > headerEnd) this.skipToNextLine(this.pos);
    else if (c === LF) this.pos++;
    else giveUp();
    const lines: string[] = [];
    let contentIndent = -1;
    while (this.pos < length) {
      const start = this.pos;
      let i = start;
      while (text.charCodeAt(i) === SPACE) i++;
      const eol = text.indexOf('\n', i);
      const end = eol < 0 ? length : eol;
      if (i === end) {
        if (i > start) giveUp(); // whitespace-only lines have rules of their own
        lines.push('');
        this.pos = eol < 0 ? length : eol + 1;
        continue;
      }
      const lineIndent = i - start;
      if (contentIndent < 0) {
        if (lineIndent <= indent || lines.length > 0) giveUp(); // empty block, or leading empty lines
        contentIndent = lineIndent;
      }
      if (lineIndent < contentIndent) break;
      lines.push(text.slice(start + contentIndent, end));
      this.pos = eol < 0 ? length : eol + 1;
    }
    if (contentIndent < 0) giveUp();
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    const body = lines.join('\n');
    return strip ? body : `${body}\n`;
  }

  private doubleQuoted(): string {
    const { text } = this;
    const start = this.pos + 1;
    let i = start;
    let value = '';
    let chunk = start;
    for (;;) {
      if (i >= this.length) giveUp();
      const c = text.charCodeAt(i);
      if (c === 34 /* " */) break;
      if (c === LF) giveUp(); // multi-line quoted scalars fold lines
      if (c === 92 /* \ */) {
        value += text.slice(chunk, i);
        const escaped = text[i + 1];
        const simple = escaped === undefined ? undefined : SIMPLE_ESCAPES[escaped];
        if (simple !== undefined) {
          value += simple;
          i += 2;
        } else if (escaped === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) giveUp();
          value += String.fromCodePoint(Number.parseInt(hex, 16));
          i += 6;
        } else giveUp();
        chunk = i;
        continue;
      }
      i++;
    }
    value += text.slice(chunk, i);
    this.pos = i + 1;
    return value;
  }

  private singleQuoted(): string {
    const { text } = this;
    let i = this.pos + 1;
    let value = '';
    let chunk = i;
    for (;;) {
      if (i >= this.length) giveUp();
      const c = text.charCodeAt(i);
      if (c === LF) giveUp();
      if (c === 39 /* ' */) {
        if (text.charCodeAt(i + 1) !== 39) break;
        value += text.slice(chunk, i + 1);
        i += 2;
        chunk = i;
        continue;
      }
      i++;
    }
    value += text.slice(chunk, i);
    this.pos = i + 1;
    return value;
  }

  // ---- flow collections ------------------------------------------------------------------------

  /**
   * Spaces between flow tokens. Line breaks (and comments) only where the collection is the whole
   * document (JSON): a multi-line flow collection inside a block one has indentation rules.
   */
  private flowSpace(multiline: boolean): void {
    const { text } = this;
    for (;;) {
      const c = text.charCodeAt(this.pos);
      if (c === SPACE) this.pos++;
      else if (c === LF && multiline) this.pos++;
      else if (c === HASH && multiline) {
        // The yaml package rejects a comment at the start of a line inside a flow map.
        if (text.charCodeAt(this.pos - 1) !== SPACE) giveUp();
        this.skipToNextLine(this.pos);
      } else if (c === TAB) giveUp();
      else return;
    }
  }

  private flowNode(multiline: boolean): unknown {
    const c = this.text.charCodeAt(this.pos);
    if (c === 123 /* { */) return this.flowMap(multiline);
    if (c === 91 /* [ */) return this.flowSequence(multiline);
    if (c === 34 /* " */) return this.doubleQuoted();
    if (c === 39 /* ' */) return this.singleQuoted();
    return this.flowPlain();
  }

  private flowMap(multiline: boolean): Record<string, unknown> {
    const { text } = this;
    const map = {} as Record<string, unknown>;
    this.pos++;
    for (;;) {
      this.flowSpace(multiline);
      if (text.charCodeAt(this.pos) === 125 /* } */) {
        this.pos++;
        return map;
      }
      const c = text.charCodeAt(this.pos);
      let key: string;
      const quoted = c === 34 || c === 39;
      if (quoted) key = c === 34 ? this.doubleQuoted() : this.singleQuoted();
      else {
        const start = this.pos;
        while (this.pos < this.length && !FLOW_KEY_END.has(text.charCodeAt(this.pos))) this.pos++;
        key = text.slice(start, this.pos);
        if (!PLAIN_KEY.test(key) || key.endsWith(' ') || !resolvesToString(key)) giveUp();
      }
      if (key.length > MAX_KEY_LENGTH || Object.hasOwn(map, key) || key === '__proto__') giveUp();
      if (text.charCodeAt(this.pos) !== COLON) giveUp();
      this.pos++;
      // After a plain key the colon needs a space (`a:b` is one scalar); after a quoted one, not.
      if (!quoted && text.charCodeAt(this.pos) !== SPACE) giveUp();
      this.flowSpace(multiline);
      const next = text.charCodeAt(this.pos);
      if (next === COMMA || next === 125 /* } */) giveUp(); // an empty value
      map[key] = this.flowNode(multiline);
      this.flowSpace(multiline);
      const after = text.charCodeAt(this.pos);
      if (after === COMMA) this.pos++;
      else if (after !== 125 /* } */) giveUp();
    }
  }

  private flowSequence(multiline: boolean): unknown[] {
    const { text } = this;
    const items: unknown[] = [];
    this.pos++;
    for (;;) {
      this.flowSpace(multiline);
      const c = text.charCodeAt(this.pos);
      if (c === 93 /* ] */) {
        this.pos++;
        return items;
      }
      if (c === COMMA) giveUp(); // an empty entry
      items.push(this.flowNode(multiline));
      this.flowSpace(multiline);
      const after = text.charCodeAt(this.pos);
      if (after === COMMA) this.pos++;
      else if (after !== 93 /* ] */) giveUp(); // includes `[a: b]`, a pair
    }
  }

  /** A plain scalar inside a flow collection: it ends at a flow indicator, `: `, ` #` or the line. */
  private flowPlain(): unknown {
    const { text } = this;
    const start = this.pos;
    if (startsOutsidePlain(text, start)) giveUp();
    let i = start;
    for (;;) {
      if (i >= this.length) break;
      const c = text.charCodeAt(i);
      if (c === LF || FLOW_INDICATORS.has(c)) break;
      if (c === TAB) giveUp();
      if (c === COLON) {
        const after = text.charCodeAt(i + 1);
        if (i + 1 >= this.length || after === SPACE || after === LF || FLOW_INDICATORS.has(after)) break;
      }
      if (c === HASH && text.charCodeAt(i - 1) === SPACE) break;
      i++;
    }
    const value = trimSpaces(text.slice(start, i));
    if (value === '') giveUp();
    this.pos = start + value.length;
    return resolvePlain(value);
  }
}

const FLOW_INDICATORS = new Set([COMMA, 91, 93, 123, 125]);
/** Where a plain key in a flow map ends: its colon, or something this reader does not accept. */
const FLOW_KEY_END = new Set([COLON, COMMA, 91, 93, 123, 125, LF, HASH, TAB]);

function startsOutsidePlain(text: string, at: number): boolean {
  const first = text[at];
  if (first === undefined || !INDICATORS.has(first)) return false;
  // `-1`, `-.5`, `-x` are plain scalars; `- ` is a sequence entry and `-,` one in a flow collection.
  return first !== '-' || !/[A-Za-z0-9.]/.test(text[at + 1] ?? '');
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

// The core schema's tags in the order the `yaml` package tries them (null, bool, int 0o / dec / 0x,
// float), with the same tests and the same conversions.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;
const SURELY_STRING_START = /^[A-EG-MO-SU-Za-eg-mo-su-z$/]/;
function resolvePlain(text: string): unknown {
  // Most scalars are names and paths: one starting with a letter other than those of null, true,
  // false (any case), or with `$` or `/`, matches no tag test.
  if (SURELY_STRING_START.test(text)) return text;
  if (NULL.test(text)) return null;
  if (BOOL.test(text)) return text[0] === 't' || text[0] === 'T';
  if (INT_OCT.test(text)) return Number.parseInt(text.substring(2), 8);
  if (INT.test(text)) return Number.parseInt(text, 10);
  if (INT_HEX.test(text)) return Number.parseInt(text.substring(2), 16);
  if (FLOAT_NAN.test(text)) {
    if (text.slice(-3).toLowerCase() === 'nan') return Number.NaN;
    return text[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (FLOAT_EXP.test(text) || FLOAT.test(text)) return Number.parseFloat(text);
  return text;
}

function resolvesToString(text: string): boolean {
  return typeof resolvePlain(text) === 'string';
}

/** Trailing spaces only: other white space (a no-break space, say) is content in YAML. */
function trimSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === SPACE) end--;
  return end === text.length ? text : text.slice(0, end);
}
