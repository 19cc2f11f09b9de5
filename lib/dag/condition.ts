// Router conditions (dag-spec §4): a hand-written tokenizer and recursive-descent parser producing
// the AST of condition-ast.ts. A syntax error is data with the 0-based column of the offending
// character or token; parseCondition never throws.
//
//   expr       := or ;  or := and ("or" and)* ;  and := unary ("and" unary)*
//   unary      := "not" unary | "(" expr ")" | "exists" "(" path ")" | comparison | path
//   comparison := operand op operand         (at least one operand a path)
//   path       := root ("." ident | "[" integer "]" | "[" quoted-string "]")*

// The one import from the compiler: a condition must be compilable, and which property names a
// JSONPath reader can follow is the compiler's knowledge.
import { referenceKeyProblem } from '../compiler/jsonpath.js';
import type {
  CompareOp,
  ConditionExpr,
  ConditionLiteral,
  ConditionParseResult,
  ConditionPath,
  LiteralValue,
  PathRoot,
} from './condition-ast.js';
import { didYouMean } from './suggest.js';

const PATH_ROOTS: readonly PathRoot[] = ['input', 'nodes', 'task', 'params', 'errors'];
const ROOT_LIST = 'input, nodes, task, params or errors';
const KEYWORDS: ReadonlySet<string> = new Set([
  'or',
  'and',
  'not',
  'exists',
  'matches',
  'true',
  'false',
  'null',
]);
const WORD_LITERALS: ReadonlyMap<string, LiteralValue> = new Map<string, LiteralValue>([
  ['true', true],
  ['false', false],
  ['null', null],
]);

type SymbolOp = Exclude<CompareOp, 'matches'>;
// Two-character operators first, so that `<=` is not read as `<` then `=`.
const SYMBOL_OPS: readonly SymbolOp[] = ['==', '!=', '<=', '>=', '<', '>'];

/** The operator that keeps a comparison's meaning when its operands swap sides. */
const MIRRORED: Readonly<Record<SymbolOp, SymbolOp>> = {
  '==': '==',
  '!=': '!=',
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
};

/** Common habits from other languages, answered with what to write instead. */
const FOREIGN_CHARACTERS: Readonly<Record<string, string>> = {
  '=': "'=' is not an operator; compare with '=='",
  '!': "'!' is not an operator; negate with 'not'",
  '&': "'&' is not an operator; combine conditions with 'and'",
  '|': "'|' is not an operator; combine conditions with 'or'",
  $: "paths in conditions have no '$.'; write input.x, not $.input.x",
};

const STRING_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  '/': '/',
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
};

interface Span {
  readonly start: number;
  readonly end: number;
}

type Token =
  | (Span & { readonly kind: 'word'; readonly text: string })
  | (Span & { readonly kind: 'string'; readonly value: string })
  | (Span & { readonly kind: 'number'; readonly value: number })
  | (Span & { readonly kind: 'op'; readonly op: SymbolOp })
  | (Span & { readonly kind: 'punct'; readonly char: '(' | ')' | '[' | ']' | '.' })
  | (Span & { readonly kind: 'end' });

type Operand = ConditionPath | ConditionLiteral;

/** Thrown inside the parser only; parseCondition turns it into a result. */
class UnparsableConditionError extends Error {
  override readonly name = 'UnparsableConditionError';
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

function fail(message: string, column: number): never {
  throw new UnparsableConditionError(message, column);
}

export function parseCondition(source: string): ConditionParseResult {
  try {
    return { ok: true, expr: new ConditionParser(tokenize(source)).parseWhole() };
  } catch (error) {
    if (error instanceof UnparsableConditionError) {
      return { ok: false, error: { message: error.message, column: error.column } };
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

const WORD = /[A-Za-z_][A-Za-z0-9_-]*/y;
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /\s/;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < source.length) {
    const char = source[at]!;
    if (WHITESPACE.test(char)) {
      at++;
      continue;
    }
    const token = readToken(source, at, char);
    tokens.push(token);
    at = token.end;
  }
  tokens.push({ kind: 'end', start: source.length, end: source.length });
  return tokens;
}

function readToken(source: string, start: number, char: string): Token {
  if (char === "'" || char === '"') return readString(source, start, char);
  const number = matchAt(NUMBER, source, start);
  if (number !== undefined) return numberToken(number, start);
  const word = matchAt(WORD, source, start);
  if (word !== undefined) return { kind: 'word', text: word, start, end: start + word.length };
  const op = SYMBOL_OPS.find((candidate) => source.startsWith(candidate, start));
  if (op !== undefined) return { kind: 'op', op, start, end: start + op.length };
  if (char === '(' || char === ')' || char === '[' || char === ']' || char === '.') {
    return { kind: 'punct', char, start, end: start + 1 };
  }
  return fail(FOREIGN_CHARACTERS[char] ?? `unexpected character ${quoteChar(char)}`, start);
}

function matchAt(pattern: RegExp, source: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(source)?.[0];
}

function numberToken(text: string, start: number): Token {
  const value = Number(text);
  if (!Number.isFinite(value)) fail(`the number ${text} is too large; JSON numbers stop near 1e308`, start);
  return { kind: 'number', value, start, end: start + text.length };
}

function readString(source: string, start: number, quote: string): Token {
  let value = '';
  let at = start + 1;
  while (at < source.length) {
    const char = source[at]!;
    if (char === quote) return { kind: 'string', value, start, end: at + 1 };
    if (char !== '\\') {
      value += char;
      at++;
      continue;
    }
    const escaped = readEscape(source, at);
    value += escaped.value;
    at = escaped.end;
  }
  return fail(`unterminated string; close it with ${quote}`, start);
}

function readEscape(source: string, backslash: number): { value: string; end: number } {
  const code = source[backslash + 1];
  if (code === undefined) return fail('unterminated string; a string cannot end with \\', backslash);
  const simple = STRING_ESCAPES[code];
  if (simple !== undefined) return { value: simple, end: backslash + 2 };
  if (code === 'u') {
    const hex = source.slice(backslash + 2, backslash + 6);
    if (/^[0-9A-Fa-f]{4}$/.test(hex)) {
      return { value: String.fromCharCode(Number.parseInt(hex, 16)), end: backslash + 6 };
    }
    return fail('\\u needs four hex digits, as in \\u00e9', backslash);
  }
  return fail(`unknown escape \\${code}; write \\\\ for a backslash`, backslash);
}

function quoteChar(char: string): string {
  return char.trim() === '' || char.charCodeAt(0) < 0x20 ? JSON.stringify(char) : `'${char}'`;
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the condition';
    case 'word':
      return `'${token.text}'`;
    case 'string':
      return `the string ${JSON.stringify(token.value)}`;
    case 'number':
      return `the number ${token.value}`;
    case 'op':
      return `'${token.op}'`;
    case 'punct':
      return `'${token.char}'`;
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

// Deeper nesting than any real condition, shallow enough to stay far from the stack's limit.
const MAX_NESTING = 100;

class ConditionParser {
  private index = 0;
  private nesting = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parseWhole(): ConditionExpr {
    if (this.peek().kind === 'end')
      fail("the condition is empty; write a test such as input.mode == 'whole'", 0);
    const expr = this.parseOr();
    const rest = this.peek();
    if (rest.kind === 'end') return expr;
    if (isPunct(rest, ')')) fail("unmatched ')'; remove it or add a '(' before it", rest.start);
    return fail(`expected 'and', 'or' or the end, found ${describe(rest)}`, rest.start);
  }

  private peek(): Token {
    // The token list always ends with an 'end' token, which is never consumed.
    return this.tokens[this.index]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'end') this.index++;
    return token;
  }

  private atWord(word: string): boolean {
    const token = this.peek();
    return token.kind === 'word' && token.text === word;
  }

  private parseOr(): ConditionExpr {
    const items = [this.parseAnd()];
    while (this.atWord('or')) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  private parseAnd(): ConditionExpr {
    const items = [this.parseUnary()];
    while (this.atWord('and')) {
      this.next();
      items.push(this.parseUnary());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  private parseUnary(): ConditionExpr {
    const token = this.peek();
    if (++this.nesting > MAX_NESTING) {
      fail(`the condition nests deeper than ${MAX_NESTING} levels; simplify it`, token.start);
    }
    try {
      return this.parseUnaryNested(token);
    } finally {
      this.nesting--;
    }
  }

  private parseUnaryNested(token: Token): ConditionExpr {
    if (token.kind === 'word' && token.text === 'not') {
      this.next();
      return { kind: 'not', expr: this.parseUnary() };
    }
    if (token.kind === 'word' && token.text === 'exists') return this.parseExists();
    if (isPunct(token, '(')) {
      this.next();
      const inner = this.parseOr();
      this.expectClosing(token, ')', "or 'and'/'or'");
      return inner;
    }
    return this.parseComparison();
  }

  private parseExists(): ConditionExpr {
    this.next();
    const open = this.peek();
    if (!isPunct(open, '(')) {
      fail(`exists needs parentheses, as in exists(input.x); found ${describe(open)}`, open.start);
    }
    this.next();
    const path = this.parsePath();
    this.expectClosing(open, ')', 'after the path in exists(...)');
    return { kind: 'exists', path };
  }

  /** Takes the closing bracket of `open`, or reports which bracket is left open. */
  private expectClosing(open: Token, close: ')' | ']', context: string): Token {
    const token = this.peek();
    if (isPunct(token, close)) return this.next();
    if (token.kind === 'end') {
      const char = close === ')' ? '(' : '[';
      return fail(`unclosed '${char}'; add a matching '${close}'`, open.start);
    }
    return fail(`expected '${close}' ${context}, found ${describe(token)}`, token.start);
  }

  private parseComparison(): ConditionExpr {
    const left = this.parseOperand();
    const opToken = this.peek();
    const op = operatorOf(opToken);
    if (op === undefined) {
      if (left.kind === 'literal') {
        fail('a literal alone is not a condition; compare it with a path, as in input.x == 5', left.start);
      }
      // A bare path reads as `path == true`; the implied literal takes no room in the source.
      return { kind: 'compare', op: '==', left, right: literalAt(true, left.end, left.end) };
    }
    this.next();
    const right = this.parseOperand();
    return buildComparison(left, op, opToken, right);
  }

  private parseOperand(): Operand {
    const token = this.peek();
    if (token.kind === 'string' || token.kind === 'number') {
      this.next();
      return literalAt(token.value, token.start, token.end);
    }
    if (token.kind === 'word' && WORD_LITERALS.has(token.text)) {
      this.next();
      return literalAt(WORD_LITERALS.get(token.text)!, token.start, token.end);
    }
    if (token.kind === 'word' && !KEYWORDS.has(token.text)) return this.parsePath();
    return fail(`expected a path (${ROOT_LIST}) or a literal, found ${describe(token)}`, token.start);
  }

  private parsePath(): ConditionPath {
    const root = this.peek();
    if (root.kind !== 'word' || KEYWORDS.has(root.text)) {
      return fail(`expected a path starting with ${ROOT_LIST}, found ${describe(root)}`, root.start);
    }
    if (!isPathRoot(root.text)) {
      return fail(
        `unknown path root '${root.text}'; a path starts with ${ROOT_LIST}.${didYouMean(root.text, PATH_ROOTS)}`,
        root.start,
      );
    }
    this.next();
    const segments: (string | number)[] = [];
    let end = root.end;
    for (;;) {
      const token = this.peek();
      if (isPunct(token, '.')) {
        this.next();
        const name = this.parseDotName();
        segments.push(name.text);
        end = name.end;
      } else if (isPunct(token, '[')) {
        this.next();
        segments.push(this.parseBracketKey());
        end = this.expectClosing(token, ']', 'after the index or quoted name').end;
      } else {
        return { kind: 'path', root: root.text, segments, start: root.start, end };
      }
    }
  }

  private parseDotName(): { text: string; end: number } {
    const token = this.next();
    if (token.kind === 'word') return { text: token.text, end: token.end };
    if (token.kind === 'number') {
      return fail(
        "a name after '.' cannot start with a digit; write [0] for an index or ['0a'] for a name",
        token.start,
      );
    }
    return fail(`expected a name after '.', found ${describe(token)}`, token.start);
  }

  private parseBracketKey(): string | number {
    const token = this.next();
    if (token.kind === 'number') {
      if (Number.isSafeInteger(token.value) && token.value >= 0) return token.value;
      return fail(`an index is a whole number from 0, not ${token.value}`, token.start);
    }
    if (token.kind === 'string') {
      const problem = referenceKeyProblem(token.value);
      if (problem !== undefined) fail(`${problem}; rename the field in the data`, token.start);
      return token.value;
    }
    return fail(`expected an index or a quoted name inside [ ], found ${describe(token)}`, token.start);
  }
}

function isPunct(token: Token, char: string): boolean {
  return token.kind === 'punct' && token.char === char;
}

function isPathRoot(word: string): word is PathRoot {
  return (PATH_ROOTS as readonly string[]).includes(word);
}

function operatorOf(token: Token): CompareOp | undefined {
  if (token.kind === 'op') return token.op;
  return token.kind === 'word' && token.text === 'matches' ? 'matches' : undefined;
}

function literalAt(value: LiteralValue, start: number, end: number): ConditionLiteral {
  return { kind: 'literal', value, start, end };
}

/** Checks the operand kinds against the operator and puts the path on the left. */
function buildComparison(left: Operand, op: CompareOp, opToken: Token, right: Operand): ConditionExpr {
  if (left.kind === 'literal') {
    if (right.kind === 'literal') {
      return fail('both sides are literals; compare a path with a literal, as in input.x == 5', left.start);
    }
    if (op === 'matches') {
      return fail("matches takes the path on the left: input.name matches '*.mp4'", opToken.start);
    }
    return checkedComparison(right, MIRRORED[op], left);
  }
  return checkedComparison(left, op, right);
}

function checkedComparison(left: ConditionPath, op: CompareOp, right: Operand): ConditionExpr {
  if (op === 'matches') {
    if (right.kind !== 'literal' || typeof right.value !== 'string') {
      return fail("matches takes a quoted pattern on the right, as in '*.mp4'", right.start);
    }
    checkPattern(right.value, right.start);
  } else if (right.kind === 'literal' && isOrdering(op) && !isOrderable(right.value)) {
    return fail(`booleans and null allow only == and !=; '${op}' orders numbers and strings`, right.start);
  }
  return { kind: 'compare', op, left, right };
}

/**
 * ASL StringMatches defines `\*` (a literal star) and `\\` (a backslash); Step Functions and the
 * embedded engine may read any other escape differently, so patterns keep to those two.
 */
function checkPattern(value: string, column: number): void {
  for (let at = 0; at < value.length; at++) {
    if (value[at] !== '\\') continue;
    const escaped = value[at + 1];
    if (escaped !== '*' && escaped !== '\\') {
      fail("in a matches pattern \\ escapes only * and \\; write '\\\\*' for a literal star", column);
    }
    at++;
  }
}

function isOrdering(op: CompareOp): boolean {
  return op === '<' || op === '<=' || op === '>' || op === '>=';
}

function isOrderable(value: LiteralValue): boolean {
  return typeof value === 'number' || typeof value === 'string';
}

/** Every path a condition reads, in order. */
export function conditionPaths(expr: ConditionExpr): ConditionPath[] {
  switch (expr.kind) {
    case 'compare':
      return expr.right.kind === 'path' ? [expr.left, expr.right] : [expr.left];
    case 'exists':
      return [expr.path];
    case 'not':
      return conditionPaths(expr.expr);
    case 'and':
    case 'or':
      return expr.items.flatMap(conditionPaths);
    case 'const':
      return [];
  }
}
