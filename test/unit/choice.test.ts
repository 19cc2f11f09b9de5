import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChoiceRule, conditionToChoiceRule, foldParams } from '../../lib/compiler/choice.js';
import { formatReferencePath, referenceKeyProblem } from '../../lib/compiler/jsonpath.js';
import { parseCondition } from '../../lib/dag/condition.js';
import type { CompareOp, ConditionExpr, ConditionPath, LiteralValue } from '../../lib/dag/condition-ast.js';

// asl-validator ships no types; it also mutates its input, hence structuredClone.
interface AslValidation {
  readonly isValid: boolean;
  readonly errors: readonly unknown[];
}
const validateAsl = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
  options: { checkPaths: boolean; checkArn: boolean },
) => AslValidation;

function condition(source: string): ConditionExpr {
  const result = parseCondition(source);
  if (!result.ok) throw new Error(`'${source}': ${result.error.message}`);
  return result.expr;
}

function rule(source: string): ChoiceRule {
  return conditionToChoiceRule(condition(source));
}

function machineWith(rules: readonly ChoiceRule[]): object {
  return {
    StartAt: 'R',
    States: {
      R: { Type: 'Choice', Choices: rules.map((r) => ({ ...r, Next: 'Yes' })), Default: 'No' },
      Yes: { Type: 'Pass', Result: 'yes', End: true },
      No: { Type: 'Pass', Result: 'no', End: true },
    },
  };
}

function expectValidAsl(rules: readonly ChoiceRule[]): void {
  const result = validateAsl(structuredClone(machineWith(rules)), { checkPaths: true, checkArn: true });
  expect(result.errors).toEqual([]);
  expect(result.isValid).toBe(true);
}

const X = '$.input.x';
const Y = '$.nodes.n.y';
const present = (v: string) => ({ Variable: v, IsPresent: true });
const typed = (v: string, test: string) => ({ Variable: v, [test]: true });
const ALWAYS_TRUE = { Variable: '$', IsPresent: true };
const ALWAYS_FALSE = { Not: ALWAYS_TRUE };

describe('formatReferencePath', () => {
  it.each([
    [['nodes', 'probe', 'durationSec'], '$.nodes.probe.durationSec'],
    [['nodes', 'my-node', 'out'], '$.nodes.my-node.out'],
    [['input', 'list', 0, 12], '$.input.list[0][12]'],
    [['input', 'a b', 'c.d', '', '1st', 'é'], "$.input['a b']['c.d']['']['1st']['é']"],
    [['input', '_x', 'x-'], '$.input._x.x-'],
    [[], '$'],
  ] as const)('%j -> %s', (segments, expected) => {
    expect(formatReferencePath(segments)).toBe(expected);
  });

  it('quotes the names no reader agrees on as Step Functions expects (the validator rejects them)', () => {
    expect(formatReferencePath(['input', "it's", 'a\\b'])).toBe("$.input['it\\'s']['a\\\\b']");
    for (const key of ["it's", 'a\\b', 'a[b', 'a]', 'x;y', '^', '#0', '(a)', '@']) {
      expect(referenceKeyProblem(key)).toMatch(/contains/);
    }
    for (const key of ['my-node', 'a b', 'a.b', '', '*', '$', '~', 'a,b', '"', 'é']) {
      expect(referenceKeyProblem(key)).toBeUndefined();
    }
  });
});

describe('conditionToChoiceRule: comparisons with a literal', () => {
  it.each([
    ["input.x == 'a'", 'IsString', { StringEquals: 'a' }],
    ["input.x < 'a'", 'IsString', { StringLessThan: 'a' }],
    ["input.x <= 'a'", 'IsString', { StringLessThanEquals: 'a' }],
    ["input.x > 'a'", 'IsString', { StringGreaterThan: 'a' }],
    ["input.x >= 'a'", 'IsString', { StringGreaterThanEquals: 'a' }],
    ["input.x matches 'a*b\\\\*'", 'IsString', { StringMatches: 'a*b\\*' }],
    ['input.x == 1.5', 'IsNumeric', { NumericEquals: 1.5 }],
    ['input.x < -2', 'IsNumeric', { NumericLessThan: -2 }],
    ['input.x <= 0', 'IsNumeric', { NumericLessThanEquals: 0 }],
    ['input.x > 1e3', 'IsNumeric', { NumericGreaterThan: 1000 }],
    ['input.x >= 7', 'IsNumeric', { NumericGreaterThanEquals: 7 }],
    ['input.x == true', 'IsBoolean', { BooleanEquals: true }],
    ['input.x == false', 'IsBoolean', { BooleanEquals: false }],
    ['input.x != true', 'IsBoolean', { BooleanEquals: false }],
    ['input.x != false', 'IsBoolean', { BooleanEquals: true }],
    ['input.x', 'IsBoolean', { BooleanEquals: true }],
    ['30 < input.x', 'IsNumeric', { NumericGreaterThan: 30 }],
  ])('%s: present, typed, then the test', (source, typeTest, test) => {
    expect(rule(source)).toEqual({ And: [present(X), typed(X, typeTest), { Variable: X, ...test }] });
  });

  it.each([
    ["input.x != 'a'", 'IsString', { StringEquals: 'a' }],
    ['input.x != 3', 'IsNumeric', { NumericEquals: 3 }],
  ])('%s: present, same type, not equal (not the same as not ==)', (source, typeTest, test) => {
    expect(rule(source)).toEqual({
      And: [present(X), typed(X, typeTest), { Not: { Variable: X, ...test } }],
    });
  });

  it('== null is IsPresent then IsNull; != null can never hold', () => {
    expect(rule('input.x == null')).toEqual({ And: [present(X), typed(X, 'IsNull')] });
    expect(rule('input.x != null')).toEqual(ALWAYS_FALSE);
  });

  it('exists is IsPresent alone, so a present null counts', () => {
    expect(rule('exists(input.x)')).toEqual(present(X));
    expect(rule('not exists(input.x)')).toEqual({ Not: present(X) });
  });

  it('writes paths in the form both engines read', () => {
    expect(rule("exists(nodes.my-node.out[0]['a b'])")).toEqual(present("$.nodes.my-node.out[0]['a b']"));
  });
});

describe('conditionToChoiceRule: path against path', () => {
  const branch = (test: string, key: string, negated = false) => {
    const comparison = { Variable: X, [key]: Y };
    return {
      And: [
        present(X),
        typed(X, test),
        present(Y),
        typed(Y, test),
        negated ? { Not: comparison } : comparison,
      ],
    };
  };

  it('== is an Or over the four scalar types, two nulls being equal', () => {
    expect(rule('input.x == nodes.n.y')).toEqual({
      Or: [
        branch('IsString', 'StringEqualsPath'),
        branch('IsNumeric', 'NumericEqualsPath'),
        branch('IsBoolean', 'BooleanEqualsPath'),
        { And: [present(X), typed(X, 'IsNull'), present(Y), typed(Y, 'IsNull')] },
      ],
    });
  });

  it('!= needs the same type and different values', () => {
    expect(rule('input.x != nodes.n.y')).toEqual({
      Or: [
        branch('IsString', 'StringEqualsPath', true),
        branch('IsNumeric', 'NumericEqualsPath', true),
        branch('IsBoolean', 'BooleanEqualsPath', true),
      ],
    });
  });

  it.each([
    ['<', 'LessThanPath'],
    ['<=', 'LessThanEqualsPath'],
    ['>', 'GreaterThanPath'],
    ['>=', 'GreaterThanEqualsPath'],
  ])('%s orders strings and numbers', (op, suffix) => {
    expect(rule(`input.x ${op} nodes.n.y`)).toEqual({
      Or: [branch('IsString', `String${suffix}`), branch('IsNumeric', `Numeric${suffix}`)],
    });
  });
});

describe('conditionToChoiceRule: and, or, not, constants', () => {
  const ruleA = {
    And: [present('$.input.a'), typed('$.input.a', 'IsNumeric'), { Variable: '$.input.a', NumericEquals: 1 }],
  };
  const ruleB = {
    And: [present('$.input.b'), typed('$.input.b', 'IsNumeric'), { Variable: '$.input.b', NumericEquals: 2 }],
  };

  it('splices nested Ands in order, guards first', () => {
    expect(rule('input.a == 1 and input.b == 2')).toEqual({ And: [...ruleA.And, ...ruleB.And] });
    expect(rule('(input.a == 1 and input.b == 2) and exists(input.c)')).toEqual({
      And: [...ruleA.And, ...ruleB.And, present('$.input.c')],
    });
  });

  it('keeps an Or of guarded Ands, and splices nested Ors', () => {
    expect(rule('input.a == 1 or input.b == 2')).toEqual({ Or: [ruleA, ruleB] });
    expect(rule('input.a == 1 or (input.b == 2 or exists(input.c))')).toEqual({
      Or: [ruleA, ruleB, present('$.input.c')],
    });
  });

  it('negates with Not and drops double negations', () => {
    expect(rule('not input.a == 1')).toEqual({ Not: ruleA });
    expect(rule('not not input.a == 1')).toEqual(ruleA);
  });

  it('expresses constants on the state input, which is always present', () => {
    expect(conditionToChoiceRule({ kind: 'const', value: true })).toEqual(ALWAYS_TRUE);
    expect(conditionToChoiceRule({ kind: 'const', value: false })).toEqual(ALWAYS_FALSE);
  });

  it('simplifies constants and comparisons that can never hold', () => {
    const a = condition('input.a == 1');
    expect(conditionToChoiceRule({ kind: 'and', items: [{ kind: 'const', value: true }, a] })).toEqual(ruleA);
    expect(conditionToChoiceRule({ kind: 'or', items: [{ kind: 'const', value: true }, a] })).toEqual(
      ALWAYS_TRUE,
    );
    expect(rule('input.x != null or input.a == 1')).toEqual(ruleA);
    expect(rule('input.x != null and input.a == 1')).toEqual(ALWAYS_FALSE);
    expect(rule('not input.x != null')).toEqual(ALWAYS_TRUE);
  });

  it('is a projection: the AST is untouched and no two rules share objects', () => {
    const expr = deepFreeze(condition("input.a == 1 or not (input.x != nodes.n.y and input.s matches 'a*')"));
    const first = conditionToChoiceRule(expr);
    const second = conditionToChoiceRule(expr);
    expect(second).toEqual(first);
    const constantRule = conditionToChoiceRule({ kind: 'const', value: false }) as { Not: object };
    expect(constantRule.Not).not.toBe(
      (conditionToChoiceRule({ kind: 'const', value: false }) as { Not: object }).Not,
    );
  });
});

describe('foldParams', () => {
  const params = {
    mode: 'fast',
    n: 3,
    flag: true,
    nothing: null,
    list: [1, 'two'],
    nested: { name: 'clip.mp4', 'my-key': 5 },
  };
  const fold = (source: string) => foldParams(condition(source), params);

  it.each([
    ["params.mode == 'fast'", true],
    ["params.mode != 'fast'", false],
    ["params.mode != 'slow'", true],
    ["params.mode < 'g'", true],
    ['params.n > 5', false],
    ['params.n >= 3', true],
    ["params.n == '3'", false],
    ["params.n != '3'", false],
    ['params.missing == 1', false],
    ['params.missing != 1', false],
    ['exists(params.missing)', false],
    ['exists(params.nothing)', true],
    ['params.nothing == null', true],
    ['params.nothing != null', false],
    ['params.nothing == false', false],
    ['params.flag', true],
    ['params.mode', false],
    ['params.flag != true', false],
    ['params.list[1] == "two"', true],
    ['params.list[2] == "two"', false],
    ['params.list[0] < params.n', true],
    ['params.list == params.list', false],
    ['params.nested.name matches "*.mp4"', true],
    ['params.nested.name matches "*.MP4"', false],
    ['params.nested["my-key"] == 5', true],
    ['params.nested.name.x == 1', false],
    ['params.mode == params.mode', true],
    ['params.nothing == params.nothing', true],
    ['params.nothing != params.nothing', false],
    ['not params.flag', false],
    ['params.flag and params.n == 3', true],
    ['params.n == 1 or params.n == 3', true],
    ['not (params.n == 1 or exists(params.zzz))', true],
  ])('%s -> %s', (source, value) => {
    expect(fold(source)).toEqual({ kind: 'const', value });
  });

  it('keeps what depends on the run and simplifies around it', () => {
    const runtime = condition('input.x == 1');
    const same = (source: string) => expect(shapeOf(fold(source))).toEqual(shapeOf(runtime));
    same('params.flag and input.x == 1');
    same('params.n == 4 or input.x == 1');
    same('input.x == 1 and not params.nothing != null');
    expect(fold('params.flag or input.x == 1')).toEqual({ kind: 'const', value: true });
    expect(fold('params.n == 4 and input.x == 1')).toEqual({ kind: 'const', value: false });
    expect(shapeOf(fold('not (params.flag and input.x == 1)'))).toEqual({
      kind: 'not',
      expr: shapeOf(runtime),
    });
  });

  it('leaves comparisons with paths outside params alone, positions included', () => {
    for (const source of [
      'params.mode == input.mode',
      'input.x > params.n',
      'exists(input.x)',
      'nodes.a.b',
    ]) {
      const expr = condition(source);
      expect(foldParams(expr, params)).toBe(expr);
    }
    const expr = condition('input.a == 1 and input.b == 2');
    expect(foldParams(expr, params)).toEqual(expr);
  });

  it('treats inherited properties as missing', () => {
    expect(foldParams(condition('exists(params.toString)'), {})).toEqual({ kind: 'const', value: false });
    expect(foldParams(condition('exists(params.list.length)'), { list: [] })).toEqual({
      kind: 'const',
      value: false,
    });
  });
});

describe('asl-validator accepts every emitted rule', () => {
  it('for each operator, literal kind and path shape', () => {
    const sources = [
      "input.x == 'a'",
      "input.x != 'a'",
      "input.x < 'a'",
      'input.x <= 1',
      'input.x > -1.5',
      'input.x >= 1e300',
      'input.x == true',
      'input.x != false',
      'input.x == null',
      'input.x != null',
      "input.x matches '*.mp4'",
      "input.x matches 'a\\\\*b\\\\\\\\'",
      'exists(input.x)',
      'input.x',
      'input.x == nodes.n.y',
      'input.x != nodes.n.y',
      'input.x < nodes.n.y',
      'input.x >= nodes.n.y',
      "nodes.my-node['a b'][3].c-d == task.id",
      "input['x.y'] == errors.probe.error",
      'not (input.a == 1 or input.b == 2) and not not exists(params.p)',
    ];
    const constants = [true, false].map((value) => conditionToChoiceRule({ kind: 'const', value }));
    expectValidAsl([...sources.map(rule), ...constants]);
  });

  // asl-validator compiles its schemas on every call (~0.3 s), so each run validates one machine
  // holding many rules; a failure names the rule by its index in Choices.
  it('for random conditions', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.array(arbitraryCondition, { minLength: 40, maxLength: 60 }), (conditions) => {
        expectValidAsl(conditions.map(conditionToChoiceRule));
      }),
      { numRuns: 8 },
    );
  });

  it('guards every typed test: IsPresent and the type test of each path come first in its And', () => {
    fc.assert(
      fc.property(arbitraryCondition, (expr) => {
        assertGuarded(conditionToChoiceRule(expr), []);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers

function shapeOf(expr: ConditionExpr): unknown {
  return JSON.parse(
    JSON.stringify(expr, (key, value) => (key === 'start' || key === 'end' ? undefined : value)),
  );
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const TYPE_TESTS = new Set(['IsString', 'IsNumeric', 'IsBoolean', 'IsNull']);
const TYPED_TEST_TYPE: Record<string, string> = {
  String: 'IsString',
  Numeric: 'IsNumeric',
  Boolean: 'IsBoolean',
};

/**
 * Walks a rule; `before` holds the rules that precede it inside the enclosing Ands (which Step
 * Functions evaluates first). A typed test must find IsPresent and its type test there, for its
 * Variable and for the path it compares with.
 */
function assertGuarded(r: ChoiceRule, before: readonly ChoiceRule[]): void {
  if (Array.isArray(r.And)) {
    const items = r.And as ChoiceRule[];
    items.forEach((item, i) => {
      assertGuarded(item, [...before, ...items.slice(0, i)]);
    });
    return;
  }
  if (Array.isArray(r.Or)) {
    for (const item of r.Or as ChoiceRule[]) assertGuarded(item, before);
    return;
  }
  if (r.Not !== undefined) {
    assertGuarded(r.Not as ChoiceRule, before);
    return;
  }
  const test = Object.keys(r).find((key) => key !== 'Variable');
  if (test === undefined || test === 'IsPresent') return;
  const variable = r.Variable as string;
  const isGuard = (v: string, key: string) => before.some((g) => g.Variable === v && g[key] === true);
  expect(isGuard(variable, 'IsPresent'), `${test} on ${variable} without IsPresent`).toBe(true);
  if (TYPE_TESTS.has(test)) return;
  const typeTest = TYPED_TEST_TYPE[/^(String|Numeric|Boolean)/.exec(test)?.[1] ?? ''];
  expect(typeTest, `unknown test ${test}`).toBeDefined();
  expect(isGuard(variable, typeTest!), `${test} on ${variable} without ${typeTest}`).toBe(true);
  if (test.endsWith('Path')) {
    const other = r[test] as string;
    expect(isGuard(other, 'IsPresent') && isGuard(other, typeTest!), `${test} on unguarded ${other}`).toBe(
      true,
    );
  }
}

// Random conditions over a few paths (dashes and quoted names included) and every literal kind.
const arbitraryPath: fc.Arbitrary<ConditionPath> = fc
  .constantFrom<[ConditionPath['root'], (string | number)[]]>(
    ['input', ['x']],
    ['input', ['list', 0]],
    ['nodes', ['my-node', 'out']],
    ['nodes', ['n', 'a b']],
    ['params', ['p']],
    ['errors', ['probe', 'error']],
  )
  .map(([root, segments]) => ({ kind: 'path', root, segments, start: 0, end: 0 }));
const arbitraryLiteral = fc
  .oneof(
    fc.string({ maxLength: 4 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  )
  .map((value: LiteralValue) => ({ kind: 'literal' as const, value, start: 0, end: 0 }));
const arbitraryCompare = fc.oneof(
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constantFrom<CompareOp>('==', '!=', '<', '<=', '>', '>='),
    left: arbitraryPath,
    right: fc.oneof(arbitraryLiteral, arbitraryPath),
  }),
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constant<CompareOp>('matches'),
    left: arbitraryPath,
    right: fc
      .string({ maxLength: 4 })
      .map((value) => ({ kind: 'literal' as const, value, start: 0, end: 0 })),
  }),
  arbitraryPath.map((path) => ({ kind: 'exists' as const, path })),
  fc.boolean().map((value) => ({ kind: 'const' as const, value })),
);
const { expr: arbitraryCondition } = fc.letrec<{ expr: ConditionExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbitraryCompare,
    tie('expr').map((expr) => ({ kind: 'not' as const, expr })),
    fc.array(tie('expr'), { minLength: 1, maxLength: 3 }).map((items) => ({ kind: 'and' as const, items })),
    fc.array(tie('expr'), { minLength: 1, maxLength: 3 }).map((items) => ({ kind: 'or' as const, items })),
  ),
}));
