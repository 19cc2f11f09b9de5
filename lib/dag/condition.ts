// Router conditions (dag-spec §4): a tokenizer and a recursive-descent parser into the typed AST of
// condition-ast.ts. Never throws: a syntax error is data with the 0-based column of the fault.
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

const ROOTS: readonly PathRoot[] = ['input', 'nodes', 'task', 'params', 'errors'];
const KEYWORDS = new Set(['and', 'or', 'not', 'exists', 'matches', 'true', 'false', 'null']);
const OPERATORS: readonly CompareOp[] = ['==', '!=', '<=', '>=', '<', '>'];
const FLIPPED: Record<CompareOp, CompareOp> = {
  '==': '==',
  '!=': '!=',
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
  matches: 'matches',
};

type Token =
  | { kind: 'ident'; text: string; start: number; end: number }
  | { kind: 'number'; value: number; start: number; end: number }
  | { kind: 'string'; value: string; start: number; end: number }
  | { kind: 'op'; text: CompareOp; start: number; end: number }
  | { kind: 'punct'; text: '(' | ')' | '[' | ']' | '.'; start: number; end: number }
  | { kind: 'eof'; start: number; end: number };

class ConditionError extends Error {
  override name = 'ConditionError';
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

export function parseCondition(source: string): ConditionParseResult {
  try {
    const parser = new Parser(tokenize(source));
    if (parser.peek().kind === 'eof')
      throw new ConditionError("the condition is empty; write one such as input.mode == 'whole'", 0);
    const expr = parser.expression();
    const rest = parser.peek();
    if (rest.kind !== 'eof')
      throw new ConditionError(
        `unexpected ${describe(rest)} after a complete condition; join conditions with 'and' or 'or'`,
        rest.start,
      );
    return { ok: true, expr };
  } catch (error) {
    if (error instanceof ConditionError)
      return { ok: false, error: { message: error.message, column: error.column } };
    throw error;
  }
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      while (i < source.length && source[i] !== c) {
        if (source[i] === '\\' && i + 1 < source.length) {
          const escaped = source[i + 1]!;
          value += escaped === 'n' ? '\n' : escaped === 't' ? '\t' : escaped;
          i += 2;
        } else value += source[i++];
      }
      if (i >= source.length) throw new ConditionError(`unterminated string; close it with ${c}`, start);
      i++;
      tokens.push({ kind: 'string', value, start, end: i });
      continue;
    }
    const number = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
    if (number && (c !== '-' || !previousIsOperand(tokens))) {
      i += number[0].length;
      tokens.push({ kind: 'number', value: Number(number[0]), start, end: i });
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(source.slice(i));
    if (ident) {
      i += ident[0].length;
      tokens.push({ kind: 'ident', text: ident[0], start, end: i });
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op) {
      const after = source[i + op.length];
      if ((op === '==' || op === '!=') && after === '=')
        throw new ConditionError(`'${op}=' is not an operator; use ${op}`, i);
      if ((op === '<' || op === '>') && after === op)
        throw new ConditionError(`'${op}${op}' is not an operator; use ${op} or ${op}=`, i);
      i += op.length;
      tokens.push({ kind: 'op', text: op, start, end: i });
      continue;
    }
    if (c === '=') throw new ConditionError("'=' is not an operator; compare with ==", i);
    if ('()[].'.includes(c)) {
      i++;
      tokens.push({ kind: 'punct', text: c as '(' | ')' | '[' | ']' | '.', start, end: i });
      continue;
    }
    throw new ConditionError(`unexpected character '${c}'`, i);
  }
  tokens.push({ kind: 'eof', start: source.length, end: source.length });
  return tokens;
}

function previousIsOperand(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return (
    last !== undefined &&
    (last.kind === 'ident' ||
      last.kind === 'number' ||
      last.kind === 'string' ||
      (last.kind === 'punct' && (last.text === ')' || last.text === ']')))
  );
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'eof':
      return 'end of condition';
    case 'ident':
      return `'${token.text}'`;
    case 'number':
      return `number ${token.value}`;
    case 'string':
      return `string '${token.value}'`;
    default:
      return `'${token.text}'`;
  }
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.index]!;
  }

  private take(): Token {
    return this.tokens[this.index++]!;
  }

  private isWord(word: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === word;
  }

  private isPunct(text: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === text;
  }

  private expect(text: string, hint: string): Token {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === text) return this.take();
    throw new ConditionError(`expected '${text}' ${hint}, found ${describe(t)}`, t.start);
  }

  expression(): ConditionExpr {
    const items = [this.conjunction()];
    while (this.isWord('or')) {
      this.take();
      items.push(this.conjunction());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  private conjunction(): ConditionExpr {
    const items = [this.unary()];
    while (this.isWord('and')) {
      this.take();
      items.push(this.unary());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  private unary(): ConditionExpr {
    if (this.isWord('not')) {
      this.take();
      return { kind: 'not', expr: this.unary() };
    }
    if (this.isPunct('(')) {
      this.take();
      const inner = this.expression();
      this.expect(')', 'to close the parenthesis');
      return inner;
    }
    if (this.isWord('exists')) {
      this.take();
      this.expect('(', 'after exists, as in exists(input.x)');
      const path = this.path();
      this.expect(')', 'to close exists(');
      return { kind: 'exists', path };
    }
    return this.comparison();
  }

  private comparison(): ConditionExpr {
    const left = this.operand();
    const t = this.peek();
    const op: CompareOp | undefined =
      t.kind === 'op' ? t.text : this.isWord('matches') ? 'matches' : undefined;
    if (op === undefined) {
      if (left.kind === 'literal')
        throw new ConditionError(
          `a literal alone is not a condition; compare it with a path such as input.x`,
          left.start,
        );
      return {
        kind: 'compare',
        op: '==',
        left,
        right: { kind: 'literal', value: true, start: left.start, end: left.end },
      };
    }
    const opToken = this.take();
    const right = this.operand();
    return makeComparison(left, op, right, opToken.start);
  }

  private operand(): ConditionPath | ConditionLiteral {
    const t = this.peek();
    if (t.kind === 'number') {
      this.take();
      return literal(t.value, t);
    }
    if (t.kind === 'string') {
      this.take();
      return literal(t.value, t);
    }
    if (t.kind === 'ident' && (t.text === 'true' || t.text === 'false' || t.text === 'null')) {
      this.take();
      return literal(t.text === 'null' ? null : t.text === 'true', t);
    }
    if (t.kind === 'ident' && !KEYWORDS.has(t.text)) return this.path();
    throw new ConditionError(
      `expected a path (${ROOTS.join(', ')}...) or a literal, found ${describe(t)}`,
      t.start,
    );
  }

  private path(): ConditionPath {
    const root = this.peek();
    if (root.kind !== 'ident' || KEYWORDS.has(root.text)) {
      throw new ConditionError(
        `expected a path starting with ${ROOTS.join(', ')}, found ${describe(root)}`,
        root.start,
      );
    }
    if (!(ROOTS as readonly string[]).includes(root.text)) {
      throw new ConditionError(
        `unknown '${root.text}': a path starts with ${ROOTS.join(', ')}.${didYouMean(root.text, ROOTS)}`,
        root.start,
      );
    }
    this.take();
    const segments: (string | number)[] = [];
    let end = root.end;
    for (;;) {
      if (this.isPunct('.')) {
        this.take();
        const name = this.peek();
        if (name.kind !== 'ident')
          throw new ConditionError(`expected a name after '.', found ${describe(name)}`, name.start);
        this.take();
        segments.push(name.text);
        end = name.end;
      } else if (this.isPunct('[')) {
        this.take();
        const key = this.peek();
        if (key.kind === 'number' && Number.isInteger(key.value) && key.value >= 0) segments.push(key.value);
        else if (key.kind === 'string') segments.push(key.value);
        else
          throw new ConditionError(
            `expected an index or a quoted name inside [ ], found ${describe(key)}`,
            key.start,
          );
        this.take();
        end = this.expect(']', 'to close the index').end;
      } else break;
    }
    return { kind: 'path', root: root.text as PathRoot, segments, start: root.start, end };
  }
}

function literal(value: LiteralValue, t: Token): ConditionLiteral {
  return { kind: 'literal', value, start: t.start, end: t.end };
}

function makeComparison(
  left: ConditionPath | ConditionLiteral,
  op: CompareOp,
  right: ConditionPath | ConditionLiteral,
  at: number,
): ConditionExpr {
  if (left.kind === 'literal' && right.kind === 'literal') {
    throw new ConditionError(
      'comparing two literals is always the same; compare a path with a literal',
      left.start,
    );
  }
  let path: ConditionPath;
  let other: ConditionPath | ConditionLiteral;
  let normalized = op;
  if (left.kind === 'literal') {
    if (op === 'matches')
      throw new ConditionError(
        "matches takes the path on the left and a pattern on the right: input.name matches '*.mp4'",
        at,
      );
    path = right as ConditionPath;
    other = left;
    normalized = FLIPPED[op];
  } else {
    path = left;
    other = right;
  }
  if (normalized === 'matches' && (other.kind !== 'literal' || typeof other.value !== 'string')) {
    throw new ConditionError("matches needs a quoted pattern on the right, such as '*.mp4'", other.start);
  }
  if (
    other.kind === 'literal' &&
    (typeof other.value === 'boolean' || other.value === null) &&
    normalized !== '==' &&
    normalized !== '!='
  ) {
    throw new ConditionError(`booleans and null allow only == and !=, not ${op}`, at);
  }
  return { kind: 'compare', op: normalized, left: path, right: other };
}
