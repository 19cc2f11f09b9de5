// The polyfill first: aws-local-stepfunctions calls Promise.withResolvers, which Node 20 lacks.
import '../../lib/local/polyfill.js';
import { StateMachine } from 'aws-local-stepfunctions';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChoiceRule, conditionToChoiceRule, foldParams } from '../../lib/compiler/choice.js';
import { conditionPaths, parseCondition } from '../../lib/dag/condition.js';
import type {
  CompareOp,
  ConditionExpr,
  ConditionLiteral,
  ConditionPath,
  LiteralValue,
  PathRoot,
} from '../../lib/dag/condition-ast.js';

// Runs compiled conditions on a real ASL interpreter and checks them against a reference
// evaluator of dag-spec §4 written here, independently of the compiler.

type Context = Record<string, unknown>;

/** A Choice state holding the rule, run once per context: true when the rule's branch is taken. */
async function decide(rule: ChoiceRule, contexts: readonly Context[]): Promise<boolean[]> {
  const machine = new StateMachine(
    {
      StartAt: 'R',
      States: {
        R: { Type: 'Choice', Choices: [{ ...rule, Next: 'Yes' }], Default: 'No' },
        Yes: { Type: 'Pass', Result: 'yes', End: true },
        No: { Type: 'Pass', Result: 'no', End: true },
      },
    } as ConstructorParameters<typeof StateMachine>[0],
    // asl-validator runs on every rule in test/unit/choice.test.ts; here it would only cost time.
    { validationOptions: { noValidate: true } },
  );
  const decisions: boolean[] = [];
  for (const context of contexts) {
    // A Choice that raised States.Runtime would reject here and fail the test.
    const result = await machine.run(context as Parameters<typeof machine.run>[0]).result;
    decisions.push(result === 'yes');
  }
  return decisions;
}

function parsed(source: string): ConditionExpr {
  const result = parseCondition(source);
  if (!result.ok) throw new Error(`'${source}': ${result.error.message}`);
  return result.expr;
}

function contextWith(input: unknown, rest: Partial<Context> = {}): Context {
  return { task: { id: 't-1', workflow: 'wf' }, input, params: {}, nodes: {}, errors: {}, ...rest };
}

// ---------------------------------------------------------------------------------------------
// Reference evaluator: §4 in plain JS, deliberately written apart from lib/compiler/choice.ts.

const MISSING = Symbol('missing');

function lookUp(context: Context, path: ConditionPath): unknown {
  let value: unknown = Object.hasOwn(context, path.root) ? context[path.root] : MISSING;
  for (const segment of path.segments) {
    if (value === MISSING) break;
    if (typeof segment === 'number') {
      value = Array.isArray(value) && segment < value.length ? value[segment] : MISSING;
    } else {
      const object = kindOf(value) === 'object' ? (value as Context) : undefined;
      value = object !== undefined && Object.hasOwn(object, segment) ? object[segment] : MISSING;
    }
  }
  return value;
}

function kindOf(value: unknown): string {
  if (value === MISSING) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** `*` is any run of characters, `\*` a star, `\\` a backslash: matched by backtracking. */
function wildcardMatches(text: string, pattern: string): boolean {
  const tokens: { star: boolean; char: string }[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\' && i + 1 < pattern.length) tokens.push({ star: false, char: pattern[++i]! });
    else tokens.push({ star: pattern[i] === '*', char: pattern[i]! });
  }
  const memo = new Map<string, boolean>();
  const from = (t: number, p: number): boolean => {
    const key = `${t},${p}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const token = tokens[p];
    if (token === undefined) result = t === text.length;
    else if (token.star) result = from(t, p + 1) || (t < text.length && from(t + 1, p));
    else result = t < text.length && text[t] === token.char && from(t + 1, p + 1);
    memo.set(key, result);
    return result;
  };
  return from(0, 0);
}

function compares(op: CompareOp, left: unknown, right: unknown): boolean {
  const kind = kindOf(left);
  if (kind !== kindOf(right) || !['string', 'number', 'boolean', 'null'].includes(kind)) return false;
  if (op === '==') return left === right;
  if (op === '!=') return left !== right;
  if (op === 'matches') return kind === 'string' && wildcardMatches(left as string, right as string);
  if (kind !== 'string' && kind !== 'number') return false;
  // Typed as numbers for the compiler only: JS orders strings by UTF-16 code units, as Java does.
  const [a, b] = [left as number, right as number];
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}

function evaluate(expr: ConditionExpr, context: Context): boolean {
  switch (expr.kind) {
    case 'const':
      return expr.value;
    case 'exists':
      return lookUp(context, expr.path) !== MISSING;
    case 'not':
      return !evaluate(expr.expr, context);
    case 'and':
      return expr.items.every((item) => evaluate(item, context));
    case 'or':
      return expr.items.some((item) => evaluate(item, context));
    case 'compare': {
      const right = expr.right.kind === 'path' ? lookUp(context, expr.right) : expr.right.value;
      return compares(expr.op, lookUp(context, expr.left), right);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hand-written cases: the engine and the reference must both give the expected answer.

type Case = readonly [input: unknown, expected: boolean];

const CASES: readonly (readonly [string, readonly Case[]])[] = [
  [
    "input.x == 'a'",
    [
      [{ x: 'a' }, true],
      [{ x: 'b' }, false],
      [{}, false],
      [{ x: 1 }, false],
      [{ x: null }, false],
      [{ x: ['a'] }, false],
      ['a', false],
      [null, false],
    ],
  ],
  [
    "input.x != 'a'",
    [
      [{ x: 'b' }, true],
      [{ x: 'a' }, false],
      [{}, false],
      [{ x: 1 }, false],
      [{ x: null }, false],
    ],
  ],
  [
    "not input.x == 'a'",
    [
      [{ x: 'b' }, true],
      [{}, true],
      [{ x: 1 }, true],
      [{ x: 'a' }, false],
    ],
  ],
  [
    'input.x < 10',
    [
      [{ x: 9.5 }, true],
      [{ x: -1e21 }, true],
      [{ x: 10 }, false],
      [{ x: '9' }, false],
      [{ x: true }, false],
      [{}, false],
    ],
  ],
  [
    'input.x <= 10',
    [
      [{ x: 10 }, true],
      [{ x: 11 }, false],
    ],
  ],
  [
    'input.x > 10',
    [
      [{ x: 11 }, true],
      [{ x: 10 }, false],
      [{ x: '11' }, false],
    ],
  ],
  [
    '10 <= input.x',
    [
      [{ x: 10 }, true],
      [{ x: 9 }, false],
    ],
  ],
  [
    "input.x < 'b'",
    [
      [{ x: 'a' }, true],
      [{ x: 'B' }, true],
      [{ x: '' }, true],
      [{ x: 'b' }, false],
      [{ x: 'ba' }, false],
      [{ x: 1 }, false],
      [{ x: null }, false],
    ],
  ],
  [
    "input.x >= 'b'",
    [
      [{ x: 'b' }, true],
      [{ x: 'é' }, true],
      [{ x: 'a' }, false],
    ],
  ],
  [
    'input.x == true',
    [
      [{ x: true }, true],
      [{ x: false }, false],
      [{ x: 'true' }, false],
      [{ x: 1 }, false],
      [{}, false],
    ],
  ],
  [
    'input.x',
    [
      [{ x: true }, true],
      [{ x: 'yes' }, false],
      [{}, false],
    ],
  ],
  [
    'input.x != true',
    [
      [{ x: false }, true],
      [{ x: true }, false],
      [{ x: 'x' }, false],
      [{}, false],
    ],
  ],
  [
    'input.x == null',
    [
      [{ x: null }, true],
      [{}, false],
      [{ x: 0 }, false],
      [{ x: '' }, false],
      [{ x: false }, false],
    ],
  ],
  [
    'input.x != null',
    [
      [{ x: 1 }, false],
      [{ x: null }, false],
      [{}, false],
    ],
  ],
  [
    'exists(input.x)',
    [
      [{ x: null }, true],
      [{ x: false }, true],
      [{ x: {} }, true],
      [{}, false],
      [null, false],
    ],
  ],
  [
    'not exists(input.x.y)',
    [
      [{}, true],
      [{ x: 5 }, true],
      [{ x: { y: null } }, false],
    ],
  ],
  [
    "input.x matches '*.mp4'",
    [
      [{ x: 'a.mp4' }, true],
      [{ x: '.mp4' }, true],
      [{ x: 'a b/c.mp4' }, true],
      [{ x: 'a.mp4.bak' }, false],
      [{ x: 'a.MP4' }, false],
      [{ x: 5 }, false],
      [{}, false],
    ],
  ],
  [
    "input.x matches 'a*b*c'",
    [
      [{ x: 'abc' }, true],
      [{ x: 'aXbYc' }, true],
      [{ x: 'abbbc' }, true],
      [{ x: 'acb' }, false],
    ],
  ],
  [
    "input.x matches 'a\\\\*b\\\\\\\\'",
    [
      [{ x: 'a*b\\' }, true],
      [{ x: 'aXb\\' }, false],
      [{ x: 'a*b' }, false],
    ],
  ],
  [
    "input.x matches '*'",
    [
      [{ x: '' }, true],
      [{ x: 'anything' }, true],
      [{ x: null }, false],
    ],
  ],
  [
    'input.x == input.y',
    [
      [{ x: 1, y: 1 }, true],
      [{ x: 'a', y: 'a' }, true],
      [{ x: true, y: true }, true],
      [{ x: null, y: null }, true],
      [{ x: '1', y: 1 }, false],
      [{ x: 1 }, false],
      [{ y: 1 }, false],
      [{}, false],
      [{ x: [1], y: [1] }, false],
      [{ x: {}, y: {} }, false],
    ],
  ],
  [
    'input.x != input.y',
    [
      [{ x: 1, y: 2 }, true],
      [{ x: 'a', y: 'b' }, true],
      [{ x: true, y: false }, true],
      [{ x: 1, y: '2' }, false],
      [{ x: null, y: null }, false],
      [{ x: null, y: 1 }, false],
      [{ x: 1 }, false],
    ],
  ],
  [
    'input.x < input.y',
    [
      [{ x: 1, y: 2 }, true],
      [{ x: 'a', y: 'b' }, true],
      [{ x: 2, y: 1 }, false],
      [{ x: 1, y: '2' }, false],
      [{ x: false, y: true }, false],
      [{ x: null, y: null }, false],
      [{ y: 2 }, false],
    ],
  ],
  [
    'input.x >= input.y',
    [
      [{ x: 2, y: 2 }, true],
      [{ x: 'b', y: 'a' }, true],
      [{ x: 1, y: 2 }, false],
    ],
  ],
  [
    "(input.a == 1 or input.b == 'x') and not exists(input.c)",
    [
      [{ a: 1 }, true],
      [{ b: 'x' }, true],
      [{ a: 1, c: null }, false],
      [{ a: 2, b: 'y' }, false],
      [{ a: '1', b: 1 }, false],
    ],
  ],
  [
    'input.a == 1 and input.b == 2 or input.c',
    [
      [{ a: 1, b: 2 }, true],
      [{ c: true }, true],
      [{ a: 1, c: 'true' }, false],
    ],
  ],
  [
    'not (input.a > 0 and input.a < 10)',
    [
      [{ a: 5 }, false],
      [{ a: 10 }, true],
      [{ a: '5' }, true],
      [{}, true],
    ],
  ],
  [
    "input['x y'][1].z-w == 'deep'",
    [
      [{ 'x y': [null, { 'z-w': 'deep' }] }, true],
      [{ 'x y': [{ 'z-w': 'deep' }] }, false],
      [{ 'x y': null }, false],
    ],
  ],
  [
    'input[1] == 2',
    [
      [[1, 2], true],
      [[2], false],
    ],
  ],
];

describe('Choice rules on aws-local-stepfunctions', () => {
  it.each(CASES)('%s', async (source, cases) => {
    const expr = parsed(source);
    const contexts = cases.map(([input]) => contextWith(input));
    const expected = cases.map(([, value]) => value);
    expect(contexts.map((context) => evaluate(expr, context))).toEqual(expected);
    expect(await decide(conditionToChoiceRule(expr), contexts)).toEqual(expected);
  });

  it('reads every root, dashed node names and the errors of caught nodes', async () => {
    const expr = parsed(
      "task.id == 't-1' and params.mode == 'fast' and nodes.my-node.out[0] > 0 and exists(errors.probe)",
    );
    const nodes = { 'my-node': { out: [3] } };
    const contexts = [
      contextWith({}, { params: { mode: 'fast' }, nodes, errors: { probe: { error: 'E', cause: 'c' } } }),
      contextWith({}, { params: { mode: 'fast' }, nodes }),
      contextWith({}, { params: { mode: 'slow' }, nodes, errors: { probe: null } }),
      contextWith({}, { params: { mode: 'fast' }, nodes: { 'my-node': { out: [] } }, errors: { probe: 1 } }),
    ];
    expect(contexts.map((context) => evaluate(expr, context))).toEqual([true, false, false, false]);
    expect(await decide(conditionToChoiceRule(expr), contexts)).toEqual([true, false, false, false]);
  });

  it('expresses the constants on any context', async () => {
    const contexts = [contextWith({}), contextWith(null, { nodes: [] })];
    expect(await decide(conditionToChoiceRule({ kind: 'const', value: true }), contexts)).toEqual([
      true,
      true,
    ]);
    expect(await decide(conditionToChoiceRule({ kind: 'const', value: false }), contexts)).toEqual([
      false,
      false,
    ]);
  });
});

describe('aws-local-stepfunctions behaviours the compiler works around or avoids', () => {
  const run = async (rule: ChoiceRule, input: Context) => (await decide(rule, [input]))[0];

  it('reads `IsPresent: false` as always false (Step Functions: true when missing), hence Not', async () => {
    expect(await run({ Variable: '$.x', IsPresent: false }, {})).toBe(false);
    expect(await run({ Not: { Variable: '$.x', IsPresent: true } }, {})).toBe(true);
  });

  it('fails the execution when a typed test reads a missing value, hence the guards', async () => {
    const unguarded = decide({ Variable: '$.x', NumericEquals: 1 }, [{}]);
    await expect(unguarded).rejects.toThrow(/does not point to a value/);
  });

  // The rest are the engine's path reader (jsonpath-plus) and wildcard matcher differing from Step
  // Functions; no Choice rule can tell them apart, so the property below keeps clear of them.
  it('treats ? as a one-character wildcard in StringMatches, and * stops at a line break', async () => {
    expect(await run({ Variable: '$.x', StringMatches: 'a?c' }, { x: 'abc' })).toBe(true);
    expect(await run({ Variable: '$.x', StringMatches: 'a*c' }, { x: 'a\nc' })).toBe(false);
  });

  it('indexes into objects and strings, where Step Functions finds nothing', async () => {
    expect(await run({ Variable: '$.x[1]', IsPresent: true }, { x: { 1: 'one' } })).toBe(true);
    expect(await run({ Variable: '$.x[0]', IsString: true }, { x: 'abc' })).toBe(true);
    expect(await run({ Variable: '$.x.length', IsNumeric: true }, { x: [1, 2] })).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random conditions on random contexts, engine against reference.

const KEYS = ['a', 'b', 'my-node', 'x y'] as const;
// Small pools make equal values, shared prefixes and near misses common. No line breaks, no `?`
// in patterns, no numeric keys in objects: the engine reads those unlike Step Functions (above).
const STRINGS = ['', 'a', 'b', 'ab', 'B', 'a*b', 'a\\b', '10', '9', 'x y', 'é'];
const NUMBERS = [-1, 0, 0.5, 1, 9, 10, 1e21];

const arbitraryScalar = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.constantFrom(...NUMBERS),
  fc.boolean(),
  fc.constant(null),
);

const { value: arbitraryValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbitraryScalar,
    fc.array(tie('value'), { maxLength: 2 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  ),
}));

const arbitraryContext: fc.Arbitrary<Context> = fc.record(
  {
    task: fc.constant({ id: 't-1', workflow: 'wf' }),
    input: arbitraryValue,
    params: fc.dictionary(fc.constantFrom(...KEYS), arbitraryValue, { maxKeys: 3 }),
    nodes: fc.dictionary(fc.constantFrom(...KEYS), arbitraryValue, { maxKeys: 3 }),
    errors: fc.dictionary(fc.constantFrom(...KEYS), arbitraryValue, { maxKeys: 2 }),
  },
  { requiredKeys: ['task', 'input'] },
);

const arbitraryPath: fc.Arbitrary<ConditionPath> = fc
  .record({
    root: fc.constantFrom<PathRoot>('input', 'nodes', 'params', 'errors'),
    segments: fc.array(fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom(0, 1)), { maxLength: 3 }),
  })
  .map(({ root, segments }) => ({ kind: 'path', root, segments, start: 0, end: 0 }));

const literal = (value: LiteralValue): ConditionLiteral => ({ kind: 'literal', value, start: 0, end: 0 });
const arbitraryPattern = fc
  .array(fc.constantFrom('*', 'a', 'b', ' ', 'é', '\\*', '\\\\'), { maxLength: 4 })
  .map((parts) => parts.join(''));

const arbitraryLeaf: fc.Arbitrary<ConditionExpr> = fc.oneof(
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constantFrom<CompareOp>('==', '!='),
    left: arbitraryPath,
    right: fc.oneof(arbitraryScalar.map(literal), arbitraryPath),
  }),
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constantFrom<CompareOp>('<', '<=', '>', '>='),
    left: arbitraryPath,
    right: fc.oneof(
      fc.oneof(fc.constantFrom(...STRINGS), fc.constantFrom(...NUMBERS)).map(literal),
      arbitraryPath,
    ),
  }),
  fc.record({
    kind: fc.constant('compare' as const),
    op: fc.constant<CompareOp>('matches'),
    left: arbitraryPath,
    right: arbitraryPattern.map(literal),
  }),
  arbitraryPath.map((path) => ({ kind: 'exists' as const, path })),
);

const { expr: arbitraryCondition } = fc.letrec<{ expr: ConditionExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbitraryLeaf,
    tie('expr').map((expr) => ({ kind: 'not' as const, expr })),
    fc.array(tie('expr'), { minLength: 2, maxLength: 3 }).map((items) => ({ kind: 'and' as const, items })),
    fc.array(tie('expr'), { minLength: 2, maxLength: 3 }).map((items) => ({ kind: 'or' as const, items })),
  ),
}));

/**
 * jsonpath-plus, the engine's path reader, indexes into strings (`$.s[0]` is the first letter);
 * Step Functions and §4 find nothing there. Contexts where a path does that are left out.
 */
function indexesIntoString(expr: ConditionExpr, context: Context): boolean {
  return conditionPaths(expr).some((path) =>
    path.segments.some(
      (segment, i) =>
        typeof segment === 'number' &&
        typeof lookUp(context, { ...path, segments: path.segments.slice(0, i) }) === 'string',
    ),
  );
}

/** A copy of the context with `value` written at `path`, creating the objects and arrays it needs. */
function withValueAt(context: Context, path: ConditionPath, value: unknown): Context {
  const copy = structuredClone(context);
  const keys: (string | number)[] = [path.root, ...path.segments];
  let holder = copy as Record<string | number, unknown>;
  keys.forEach((key, i) => {
    const next = keys[i + 1];
    if (next === undefined) {
      holder[key] = value;
      return;
    }
    let child = holder[key];
    if (typeof next === 'number') {
      if (!Array.isArray(child)) child = [];
      while ((child as unknown[]).length <= next) (child as unknown[]).push(null);
    } else if (kindOf(child) !== 'object') {
      child = {};
    }
    holder[key] = child;
    holder = child as Record<string | number, unknown>;
  });
  return copy;
}

// Random contexts rarely hold values at the condition's own paths, so most are made to: a random
// context with values written at most of the paths the condition reads, mostly of one type so that
// path-against-path comparisons meet values they can compare.
const VALUE_THEMES: readonly (readonly unknown[])[] = [STRINGS, NUMBERS, [true, false], [null, 'a', 0, true]];

const arbitraryCase = arbitraryCondition.chain((expr) => {
  const paths = conditionPaths(expr);
  const targeted = fc
    .constantFrom(...VALUE_THEMES)
    .chain((theme) =>
      fc.tuple(
        arbitraryContext,
        fc.array(fc.option(fc.constantFrom(...theme), { nil: undefined, freq: 5 }), {
          minLength: paths.length,
          maxLength: paths.length,
        }),
      ),
    )
    .map(([base, values]) =>
      values.reduce<Context>(
        (context, value, i) => (value === undefined ? context : withValueAt(context, paths[i]!, value)),
        base,
      ),
    );
  const contexts = fc.tuple(
    fc.array(arbitraryContext, { maxLength: 2 }),
    fc.array(targeted, { minLength: 4, maxLength: 4 }),
  );
  return fc.tuple(
    fc.constant(expr),
    contexts.map(([random, aimed]) => [...random, ...aimed]),
  );
});

describe('Choice rules against the reference evaluator', () => {
  it('agree on random conditions and contexts, and never fail', { timeout: 60_000 }, async () => {
    let compared = 0;
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(arbitraryCase, async ([expr, all]) => {
        const contexts = all.filter((context) => !indexesIntoString(expr, context));
        const expected = contexts.map((context) => evaluate(expr, context));
        expect(await decide(conditionToChoiceRule(expr), contexts)).toEqual(expected);
        compared += contexts.length;
        taken += expected.filter(Boolean).length;
      }),
      { numRuns: 1000 },
    );
    // Guard against generators that only ever exercise one branch.
    expect(compared).toBeGreaterThan(4000);
    expect(taken / compared).toBeGreaterThan(0.15);
    expect(taken / compared).toBeLessThan(0.85);
  });

  it('agree with foldParams, which leaves no condition on params alone', () => {
    fc.assert(
      fc.property(arbitraryCase, ([expr, contexts]) => {
        for (const generated of contexts) {
          // §3: params is always in the context, {} when the workflow has none.
          const params = (generated.params ?? {}) as Record<string, unknown>;
          const context = { ...generated, params };
          const folded = foldParams(expr, params);
          expect(evaluate(folded, context)).toBe(evaluate(expr, context));
          expect(leavesOf(folded).filter(readsOnlyParams)).toEqual([]);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

function leavesOf(expr: ConditionExpr): ConditionExpr[] {
  if (expr.kind === 'not') return leavesOf(expr.expr);
  if (expr.kind === 'and' || expr.kind === 'or') return expr.items.flatMap(leavesOf);
  return [expr];
}

function readsOnlyParams(leaf: ConditionExpr): boolean {
  const paths = conditionPaths(leaf);
  return paths.length > 0 && paths.every((path) => path.root === 'params');
}
