import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { referenceKeyProblem } from '../../lib/compiler/jsonpath.js';
import { conditionPaths, parseCondition } from '../../lib/dag/condition.js';
import type {
  CompareOp,
  ConditionExpr,
  ConditionLiteral,
  ConditionPath,
  LiteralValue,
  PathRoot,
} from '../../lib/dag/condition-ast.js';

// ---------------------------------------------------------------------------------------------
// Expected ASTs are written without positions; `shape` strips them from parsed ones.

type Shape = unknown;

function shape(expr: ConditionExpr): Shape {
  return JSON.parse(
    JSON.stringify(expr, (key, value) => (key === 'start' || key === 'end' ? undefined : value)),
  );
}

function parsed(source: string): ConditionExpr {
  const result = parseCondition(source);
  if (!result.ok) throw new Error(`expected '${source}' to parse: ${result.error.message}`);
  return result.expr;
}

function failure(source: string): { message: string; column: number } {
  const result = parseCondition(source);
  if (result.ok) throw new Error(`expected '${source}' to fail, got ${JSON.stringify(shape(result.expr))}`);
  return result.error;
}

const path = (root: PathRoot, ...segments: (string | number)[]) => ({ kind: 'path', root, segments });
const lit = (value: LiteralValue) => ({ kind: 'literal', value });
const cmp = (left: Shape, op: CompareOp, right: Shape) => ({ kind: 'compare', op, left, right });
const truthy = (left: Shape) => cmp(left, '==', lit(true));
const and = (...items: Shape[]) => ({ kind: 'and', items });
const or = (...items: Shape[]) => ({ kind: 'or', items });
const not = (expr: Shape) => ({ kind: 'not', expr });
const exists = (p: Shape) => ({ kind: 'exists', path: p });

const a = path('input', 'a');
const b = path('input', 'b');
const c = path('input', 'c');

describe('parseCondition: grammar', () => {
  it('parses the example of the spec', () => {
    expect(shape(parsed("nodes.probe.durationSec > 30 and not (input.mode == 'whole')"))).toEqual(
      and(
        cmp(path('nodes', 'probe', 'durationSec'), '>', lit(30)),
        not(cmp(path('input', 'mode'), '==', lit('whole'))),
      ),
    );
  });

  it.each([
    ['input.a or input.b and input.c', or(truthy(a), and(truthy(b), truthy(c)))],
    ['input.a and input.b or input.c', or(and(truthy(a), truthy(b)), truthy(c))],
    ['not input.a and input.b', and(not(truthy(a)), truthy(b))],
    ['not input.a or input.b', or(not(truthy(a)), truthy(b))],
    ['not (input.a or input.b)', not(or(truthy(a), truthy(b)))],
    ['(input.a or input.b) and input.c', and(or(truthy(a), truthy(b)), truthy(c))],
    ['input.a and (input.b and input.c)', and(truthy(a), and(truthy(b), truthy(c)))],
    ['input.a or input.b or input.c', or(truthy(a), truthy(b), truthy(c))],
    ['not not input.a', not(not(truthy(a)))],
    ['((input.a))', truthy(a)],
    ['not(input.a)', not(truthy(a))],
  ])('precedence and grouping: %s', (source, expected) => {
    expect(shape(parsed(source))).toEqual(expected);
  });

  it.each(['==', '!=', '<', '<=', '>', '>='] as const)(
    'operator %s with numbers, strings and paths',
    (op) => {
      expect(shape(parsed(`input.a ${op} 3`))).toEqual(cmp(a, op, lit(3)));
      expect(shape(parsed(`input.a ${op} 'x'`))).toEqual(cmp(a, op, lit('x')));
      expect(shape(parsed(`input.a ${op} input.b`))).toEqual(cmp(a, op, b));
      expect(shape(parsed(`input.a${op}3`))).toEqual(cmp(a, op, lit(3)));
    },
  );

  it('matches takes a pattern', () => {
    expect(shape(parsed("input.a matches '*.mp4'"))).toEqual(cmp(a, 'matches', lit('*.mp4')));
    expect(shape(parsed("input.a matches 'a\\\\*b'"))).toEqual(cmp(a, 'matches', lit('a\\*b')));
  });

  it.each([
    ["'single'", 'single'],
    ['"double"', 'double'],
    ["''", ''],
    ["'it\\'s'", "it's"],
    ['"say \\"hi\\""', 'say "hi"'],
    ["'\"'", '"'],
    ['"\'"', "'"],
    ["'a\\\\b'", 'a\\b'],
    ["'tab\\tnew\\nline\\r'", 'tab\tnew\nline\r'],
    ["'\\u00e9\\/'", 'é/'],
    ["'  spaced  '", '  spaced  '],
    ['0', 0],
    ['42', 42],
    ['-7', -7],
    ['2.5', 2.5],
    ['-0.25', -0.25],
    ['1e3', 1000],
    ['1E-2', 0.01],
    ['-1.5e+3', -1500],
    ['true', true],
    ['false', false],
    ['null', null],
  ] as const)('literal %s', (source, value) => {
    expect(shape(parsed(`input.a == ${source}`))).toEqual(cmp(a, '==', lit(value)));
  });

  it.each([
    ['input', path('input')],
    ['nodes.my-node.out', path('nodes', 'my-node', 'out')],
    ['nodes.a--b-', path('nodes', 'a--b-')],
    ['input._x9', path('input', '_x9')],
    ['input.list[0][12]', path('input', 'list', 0, 12)],
    ["input['with space']", path('input', 'with space')],
    ['input["double"]', path('input', 'double')],
    ["input['']", path('input', '')],
    ["input['a.b'].c", path('input', 'a.b', 'c')],
    ["input['0']", path('input', '0')],
    [
      'nodes.not.and.or.exists.matches.true.null',
      path('nodes', 'not', 'and', 'or', 'exists', 'matches', 'true', 'null'),
    ],
    ['task.id', path('task', 'id')],
    ['params.mode', path('params', 'mode')],
    ['errors.probe.error', path('errors', 'probe', 'error')],
    ['input . a [ 0 ]', path('input', 'a', 0)],
  ])('path %s', (source, expected) => {
    expect(shape(parsed(`exists(${source})`))).toEqual(exists(expected));
  });

  it('a dash inside a name is part of it, a dash before a digit after a space is a sign', () => {
    expect(shape(parsed('input.x-1 == 2'))).toEqual(cmp(path('input', 'x-1'), '==', lit(2)));
    expect(shape(parsed('input.x == -1'))).toEqual(cmp(path('input', 'x'), '==', lit(-1)));
    expect(shape(parsed('input.x==-1'))).toEqual(cmp(path('input', 'x'), '==', lit(-1)));
  });

  it.each([
    ['5 < input.a', '>'],
    ['5 <= input.a', '>='],
    ['5 > input.a', '<'],
    ['5 >= input.a', '<='],
    ['5 == input.a', '=='],
    ['5 != input.a', '!='],
  ] as const)('puts the path on the left: %s', (source, op) => {
    expect(shape(parsed(source))).toEqual(cmp(a, op, lit(5)));
  });

  it('flips literals of every kind', () => {
    expect(shape(parsed("'x' < input.a"))).toEqual(cmp(a, '>', lit('x')));
    expect(shape(parsed('null == input.a'))).toEqual(cmp(a, '==', lit(null)));
    expect(shape(parsed('false != input.a'))).toEqual(cmp(a, '!=', lit(false)));
  });

  it('reads a bare path as path == true, and exists with or without a space', () => {
    expect(shape(parsed('params.thumbnails'))).toEqual(truthy(path('params', 'thumbnails')));
    expect(shape(parsed('exists (input.a)'))).toEqual(exists(a));
    expect(shape(parsed('not exists(input.a) and input.b'))).toEqual(and(not(exists(a)), truthy(b)));
  });

  it('keeps source positions', () => {
    const expr = parsed("  5 < nodes.p['q'] and input.a");
    expect(expr).toEqual({
      kind: 'and',
      items: [
        {
          kind: 'compare',
          op: '>',
          left: { kind: 'path', root: 'nodes', segments: ['p', 'q'], start: 6, end: 18 },
          right: { kind: 'literal', value: 5, start: 2, end: 3 },
        },
        {
          kind: 'compare',
          op: '==',
          left: { kind: 'path', root: 'input', segments: ['a'], start: 23, end: 30 },
          // The implied `true` of a bare path takes no room: it sits at the path's end.
          right: { kind: 'literal', value: true, start: 30, end: 30 },
        },
      ],
    });
  });

  it('accepts any whitespace between tokens, a newline included (YAML folds long lines)', () => {
    expect(shape(parsed('input.a\n  and\tinput.b'))).toEqual(and(truthy(a), truthy(b)));
  });
});

describe('parseCondition: errors carry a message and the 0-based column of the fault', () => {
  it.each([
    ['', 0, /empty/],
    ['   ', 0, /empty/],
    ['input.a ==', 10, /expected a path .* or a literal, found the end/],
    ['input.a == == 1', 11, /expected a path .* or a literal, found '=='/],
    ['input.a and', 11, /found the end/],
    ['input.a and or input.b', 12, /found 'or'/],
    ['input.a input.b', 8, /expected 'and', 'or' or the end, found 'input'/],
    ['input.a == 1 2', 13, /found the number 2/],
    ["input.a == 'abc", 11, /unterminated string; close it with '/],
    ['input.a == "abc', 11, /unterminated string; close it with "/],
    ["input.a == 'abc\\", 15, /unterminated string/],
    ["input.a == 'a\\qb'", 13, /unknown escape \\q/],
    ["input.a == '\\u12'", 12, /four hex digits/],
    ['foo.bar == 1', 0, /unknown path root 'foo'; a path starts with input, nodes, task, params or errors/],
    ['input.a == inptu.b', 11, /Did you mean 'input'\?/],
    ['node.x', 0, /Did you mean 'nodes'\?/],
    ['1 == 2', 0, /both sides are literals/],
    ["'a' == 'b'", 0, /both sides are literals/],
    ['input.a < true', 10, /booleans and null allow only == and !=/],
    ['input.a >= null', 11, /booleans and null allow only == and !=/],
    ['false > input.a', 0, /booleans and null allow only == and !=/],
    ["'x' matches input.a", 4, /matches takes the path on the left/],
    ['input.a matches input.b', 16, /matches takes a quoted pattern/],
    ['input.a matches 5', 16, /matches takes a quoted pattern/],
    ['input.a matches null', 16, /matches takes a quoted pattern/],
    ["input.a matches 'a\\\\b'", 16, /escapes only \* and \\/],
    ["input.a matches 'a\\\\'", 16, /escapes only \* and \\/],
    ['(input.a == 1', 0, /unclosed '\('; add a matching '\)'/],
    ['((input.a) or input.b', 0, /unclosed '\('/],
    ['(input.a input.b)', 9, /expected '\)' or 'and'\/'or', found 'input'/],
    ['input.a == 1)', 12, /unmatched '\)'/],
    ['input.a)', 7, /unmatched '\)'/],
    ['exists(input.a', 6, /unclosed '\('/],
    ['exists input.a', 7, /exists needs parentheses/],
    ['exists(1)', 7, /expected a path starting with input/],
    ['exists(input.a == 1)', 15, /expected '\)' after the path in exists/],
    ['input.list[0', 10, /unclosed '\['; add a matching '\]'/],
    ['input.list[-1]', 11, /an index is a whole number from 0, not -1/],
    ['input.list[1.5]', 11, /an index is a whole number/],
    ['input.list[a]', 11, /expected an index or a quoted name inside \[ \]/],
    ["input['a[b']", 6, /contains '\['.*rename the field/],
    ["input['it\\'s']", 6, /contains '''/],
    ['input.', 6, /expected a name after '\.'/],
    ['input.1st', 6, /cannot start with a digit/],
    ['input..a', 6, /expected a name after '\.', found '\.'/],
    ['input.a = 1', 8, /'=' is not an operator; compare with '=='/],
    ['input.a === 1', 10, /'=' is not an operator/],
    ['input.a && input.b', 8, /combine conditions with 'and'/],
    ['input.a || input.b', 8, /combine conditions with 'or'/],
    ['!input.a', 0, /negate with 'not'/],
    ['$.input.a == 1', 0, /no '\$\.'; write input\.x/],
    ['input.a == 1e999', 11, /too large/],
    ['input.a == -', 11, /unexpected character '-'/],
    ['input.a # comment', 8, /unexpected character '#'/],
    ['true', 0, /a literal alone is not a condition/],
    ['not', 3, /found the end/],
    ['and input.a', 0, /found 'and'/],
    ['input.a == and', 11, /found 'and'/],
    ['matches', 0, /found 'matches'/],
  ])('%j -> column %i', (source, column, message) => {
    const error = failure(source);
    expect(error.message).toMatch(message);
    expect(error.column).toBe(column);
  });

  it('refuses deep nesting instead of overflowing the stack', () => {
    expect(failure(`${'('.repeat(5000)}input.a${')'.repeat(5000)}`)).toEqual({
      message: expect.stringMatching(/nests deeper than 100 levels/),
      column: 100,
    });
    expect(failure(`${'not '.repeat(5000)}input.a`).column).toBe(400);
    expect(shape(parsed(`${'('.repeat(99)}input.a${')'.repeat(99)}`))).toEqual(truthy(a));
  });

  it('keeps messages short and free of stack traces', () => {
    for (const source of ['', 'input.a ==', "'x", 'foo.x', '(input.a']) {
      const { message } = failure(source);
      expect(message.length).toBeLessThan(120);
      expect(message).not.toMatch(/\n|at .*\.ts/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Properties: print a random AST as text, parse it back, get the same AST (positions aside).

const IDENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const arbitraryName = fc.oneof(
  fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,7}$/),
  fc.constantFrom('and', 'or', 'not', 'exists', 'matches', 'true', 'null', 'my-node', 'x-1'),
  fc.string({ unit: 'grapheme', maxLength: 6 }).filter((key) => referenceKeyProblem(key) === undefined),
);
const arbitrarySegment = fc.oneof(arbitraryName, fc.nat({ max: 999 }));
const arbitraryPath: fc.Arbitrary<ConditionPath> = fc
  .record({
    root: fc.constantFrom<PathRoot>('input', 'nodes', 'task', 'params', 'errors'),
    segments: fc.array(arbitrarySegment, { maxLength: 4 }),
  })
  .map(({ root, segments }) => ({ kind: 'path', root, segments, start: 0, end: 0 }));

const arbitraryString = fc.string({ unit: 'binary', maxLength: 8 });
const arbitraryNumber = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
);
const literalOf = (value: fc.Arbitrary<LiteralValue>): fc.Arbitrary<ConditionLiteral> =>
  value.map((v) => ({ kind: 'literal', value: v, start: 0, end: 0 }));
// `*` runs, escaped stars and escaped backslashes: the escapes a matches pattern allows.
const arbitraryPattern = fc
  .array(
    fc.oneof(
      fc.constantFrom('*', '\\*', '\\\\'),
      fc.string({ maxLength: 3 }).map((s) => s.replace(/\\/g, '')),
    ),
  )
  .map((parts) => parts.join(''));

const arbitraryCompare: fc.Arbitrary<ConditionExpr> = fc.oneof(
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constantFrom<CompareOp>('==', '!='),
    left: arbitraryPath,
    right: fc.oneof(
      literalOf(fc.oneof(arbitraryString, arbitraryNumber, fc.boolean(), fc.constant(null))),
      arbitraryPath,
    ),
  }),
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constantFrom<CompareOp>('<', '<=', '>', '>='),
    left: arbitraryPath,
    right: fc.oneof(literalOf(fc.oneof(arbitraryString, arbitraryNumber)), arbitraryPath),
  }),
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constant<CompareOp>('matches'),
    left: arbitraryPath,
    right: literalOf(arbitraryPattern),
  }),
  arbitraryPath.map((p) => ({ kind: 'exists' as const, path: p })),
);

const { expr: arbitraryCondition } = fc.letrec<{ expr: ConditionExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbitraryCompare,
    tie('expr').map((expr) => ({ kind: 'not' as const, expr })),
    fc.array(tie('expr'), { minLength: 2, maxLength: 3 }).map((items) => ({ kind: 'and' as const, items })),
    fc.array(tie('expr'), { minLength: 2, maxLength: 3 }).map((items) => ({ kind: 'or' as const, items })),
  ),
}));

/** Choices a printer can make without changing the AST: quotes, flips, bare paths. */
interface PrintStyle {
  readonly flip: boolean;
  readonly doubleQuotes: boolean;
  readonly bracketNames: boolean;
  readonly bare: boolean;
}
const arbitraryStyle: fc.Arbitrary<PrintStyle> = fc.record({
  flip: fc.boolean(),
  doubleQuotes: fc.boolean(),
  bracketNames: fc.boolean(),
  bare: fc.boolean(),
});

const MIRROR: Record<CompareOp, CompareOp> = {
  '==': '==',
  '!=': '!=',
  '<': '>',
  '<=': '>=',
  '>': '<',
  '>=': '<=',
  matches: 'matches',
};

function quote(text: string, style: PrintStyle): string {
  const q = style.doubleQuotes ? '"' : "'";
  const body = [...text]
    .map((ch) => (ch === '\\' || ch === q ? `\\${ch}` : ch === '\n' ? '\\n' : ch))
    .join('');
  return `${q}${body}${q}`;
}

function printPath(p: ConditionPath, style: PrintStyle): string {
  const segments = p.segments.map((segment) => {
    if (typeof segment === 'number') return `[${segment}]`;
    return IDENT.test(segment) && !style.bracketNames ? `.${segment}` : `[${quote(segment, style)}]`;
  });
  return `${p.root}${segments.join('')}`;
}

function printLiteral(l: ConditionLiteral, style: PrintStyle): string {
  return typeof l.value === 'string' ? quote(l.value, style) : String(l.value);
}

function printCondition(expr: ConditionExpr, style: PrintStyle): string {
  const group = (e: ConditionExpr) =>
    e.kind === 'and' || e.kind === 'or' ? `(${printCondition(e, style)})` : printCondition(e, style);
  switch (expr.kind) {
    case 'const':
      throw new Error('constants have no syntax');
    case 'exists':
      return `exists(${printPath(expr.path, style)})`;
    case 'not':
      return `not ${group(expr.expr)}`;
    case 'and':
      return expr.items.map(group).join(' and ');
    case 'or':
      return expr.items.map(group).join(' or ');
    case 'compare': {
      const left = printPath(expr.left, style);
      if (expr.right.kind === 'path') return `${left} ${expr.op} ${printPath(expr.right, style)}`;
      if (style.bare && expr.op === '==' && expr.right.value === true) return left;
      const right = printLiteral(expr.right, style);
      if (style.flip && expr.op !== 'matches') return `${right} ${MIRROR[expr.op]} ${left}`;
      return `${left} ${expr.op} ${right}`;
    }
  }
}

describe('parseCondition: properties', () => {
  it('parses the printed form of any condition back to the same AST', () => {
    fc.assert(
      fc.property(arbitraryCondition, arbitraryStyle, (expr, style) => {
        const text = printCondition(expr, style);
        const result = parseCondition(text);
        if (!result.ok) throw new Error(`${text}: ${result.error.message} at ${result.error.column}`);
        expect(shape(result.expr)).toEqual(shape(expr));
      }),
      { numRuns: 1000 },
    );
  });

  const tokenSoup = fc
    .array(
      fc.constantFrom(
        'input',
        'nodes',
        'foo',
        '.',
        'x',
        'a-b',
        '[',
        ']',
        '0',
        '-1',
        '2.5e3',
        "'s'",
        '"d',
        "'",
        '\\',
        '==',
        '!=',
        '<',
        '>=',
        '=',
        '!',
        'and',
        'or',
        'not',
        'exists',
        'matches',
        'true',
        'null',
        '(',
        ')',
        '$',
        ' ',
        '\n',
      ),
      { maxLength: 14 },
    )
    .map((parts) => parts.join(''));

  it('never throws, and points errors inside the source', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), tokenSoup), (source) => {
        const result = parseCondition(source);
        if (!result.ok) {
          expect(result.error.column).toBeGreaterThanOrEqual(0);
          expect(result.error.column).toBeLessThanOrEqual(source.length);
          expect(result.error.message).not.toBe('');
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('puts every position of a parsed path inside the source, on the path text', () => {
    fc.assert(
      fc.property(arbitraryCondition, arbitraryStyle, (expr, style) => {
        const text = printCondition(expr, style);
        const result = parseCondition(text);
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        for (const p of conditionPaths(result.expr)) {
          expect(text.slice(p.start, p.end).startsWith(p.root)).toBe(true);
          expect(p.end).toBeLessThanOrEqual(text.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
