// Router conditions -> ASL Choice rules (JSONPath mode), with dag-spec §4's semantics: a comparison
// holds only when its paths are present and their values have the literal's type (path against
// path: the same scalar type), so a missing or mistyped value makes every operator false and a
// Choice never fails at run time. Each comparison is an And of IsPresent, the type test, then the
// test itself; Step Functions evaluates And left to right and stops at the first false, so the
// typed operator never sees a missing or mistyped value (which would be a States.Runtime error).
//
// Type tests are always written `true` and negated with Not: aws-local-stepfunctions reads
// `IsPresent: false` (and `IsString: false`, ...) as always false, unlike Step Functions.
import type {
  CompareOp,
  ConditionCompare,
  ConditionExists,
  ConditionExpr,
  ConditionPath,
  LiteralValue,
} from '../dag/condition-ast.js';
import { formatReferencePath } from './jsonpath.js';

/** One ASL choice rule, without `Next` (the caller adds it to top-level rules). */
export type ChoiceRule = Readonly<Record<string, unknown>>;

type ScalarType = 'string' | 'number' | 'boolean' | 'null';
type OrderingOp = '<' | '<=' | '>' | '>=';

const TYPE_TEST: Readonly<Record<ScalarType, string>> = {
  string: 'IsString',
  number: 'IsNumeric',
  boolean: 'IsBoolean',
  null: 'IsNull',
};
const OPERATOR_PREFIX = { string: 'String', number: 'Numeric', boolean: 'Boolean' } as const;
const ORDERING_SUFFIX: Readonly<Record<OrderingOp, string>> = {
  '<': 'LessThan',
  '<=': 'LessThanEquals',
  '>': 'GreaterThan',
  '>=': 'GreaterThanEquals',
};
/** Which value types each operator can hold for, path against path. */
const TYPES_FOR_OPERATOR: Readonly<Record<CompareOp, readonly ScalarType[]>> = {
  '==': ['string', 'number', 'boolean', 'null'],
  '!=': ['string', 'number', 'boolean'], // two nulls are always equal
  '<': ['string', 'number'],
  '<=': ['string', 'number'],
  '>': ['string', 'number'],
  '>=': ['string', 'number'],
  matches: [], // the parser allows only a literal pattern
};

// `$` is the state input, which for a router is the context object, so always present (the engine
// would not count a null input): the one test every engine holds true whatever the data.
// The planner normally removes constant routes before emission; these keep emission total.
// Built afresh each time: emitted rules share no objects, so a caller may edit one safely.
function alwaysTrue(): ChoiceRule {
  return { Variable: '$', IsPresent: true };
}

function alwaysFalse(): ChoiceRule {
  return { Not: alwaysTrue() };
}

// ---------------------------------------------------------------------------------------------
// Emission

export function conditionToChoiceRule(expr: ConditionExpr): ChoiceRule {
  return ruleFor(foldConstants(expr, (leaf) => (comparisonNeverHolds(leaf) ? constant(false) : leaf)));
}

function ruleFor(expr: ConditionExpr): ChoiceRule {
  switch (expr.kind) {
    case 'const':
      return expr.value ? alwaysTrue() : alwaysFalse();
    case 'exists':
      // IsPresent alone: a present null counts (§4).
      return isPresent(variableOf(expr.path));
    case 'not':
      return negate(ruleFor(expr.expr));
    case 'and':
      return allOf(expr.items.map(ruleFor));
    case 'or':
      return anyOf(expr.items.map(ruleFor));
    case 'compare':
      return expr.right.kind === 'literal'
        ? compareWithLiteral(expr.op, variableOf(expr.left), expr.right.value)
        : compareWithPath(expr.op, variableOf(expr.left), variableOf(expr.right));
  }
}

function compareWithLiteral(op: CompareOp, variable: string, value: LiteralValue): ChoiceRule {
  const type = scalarTypeOf(value);
  if (type === undefined) return alwaysFalse();
  const guards = guardsFor(variable, type);
  if (type === 'null') return op === '==' ? allOf(guards) : alwaysFalse();
  if (type === 'boolean' && op === '!=') {
    // `x != true` on a boolean is `x == false`: the same test without a Not.
    return allOf([...guards, { Variable: variable, BooleanEquals: !value }]);
  }
  const field = operatorField(op, type);
  if (field === undefined) return alwaysFalse();
  const test = { Variable: variable, [field]: value };
  return allOf([...guards, op === '!=' ? negate(test) : test]);
}

/** An Or over the value types the operator applies to, each branch guarding both sides. */
function compareWithPath(op: CompareOp, left: string, right: string): ChoiceRule {
  const branches = TYPES_FOR_OPERATOR[op].map((type) => {
    const guards = [...guardsFor(left, type), ...guardsFor(right, type)];
    if (type === 'null') return allOf(guards); // only `==` lists null: both null is equal
    // TYPES_FOR_OPERATOR lists only the types that have an operator field.
    const test = { Variable: left, [`${operatorField(op, type)!}Path`]: right };
    return allOf([...guards, op === '!=' ? negate(test) : test]);
  });
  return branches.length === 0 ? alwaysFalse() : anyOf(branches);
}

/** The ASL field testing a value of `type` with `op` (`!=` is a negated Equals), if any. */
function operatorField(op: CompareOp, type: Exclude<ScalarType, 'null'>): string | undefined {
  if (op === '==' || op === '!=') return `${OPERATOR_PREFIX[type]}Equals`;
  if (op === 'matches') return type === 'string' ? 'StringMatches' : undefined;
  return type === 'boolean' ? undefined : `${OPERATOR_PREFIX[type]}${ORDERING_SUFFIX[op]}`;
}

function variableOf(path: ConditionPath): string {
  return formatReferencePath([path.root, ...path.segments]);
}

function isPresent(variable: string): ChoiceRule {
  return { Variable: variable, IsPresent: true };
}

function guardsFor(variable: string, type: ScalarType): ChoiceRule[] {
  return [isPresent(variable), { Variable: variable, [TYPE_TEST[type]]: true }];
}

function negate(rule: ChoiceRule): ChoiceRule {
  const inner = onlyField(rule, 'Not');
  return inner === undefined ? { Not: rule } : (inner as ChoiceRule);
}

/** And of the rules, nested Ands spliced in (order kept: the guards must stay first). */
function allOf(rules: readonly ChoiceRule[]): ChoiceRule {
  return combine('And', rules);
}

function anyOf(rules: readonly ChoiceRule[]): ChoiceRule {
  return combine('Or', rules);
}

function combine(operator: 'And' | 'Or', rules: readonly ChoiceRule[]): ChoiceRule {
  const flat = rules.flatMap((rule) => (onlyField(rule, operator) as ChoiceRule[] | undefined) ?? [rule]);
  return flat.length === 1 ? flat[0]! : { [operator]: flat };
}

/** The value of `field` when it is the rule's only field (a bare And, Or or Not). */
function onlyField(rule: ChoiceRule, field: string): unknown {
  const keys = Object.keys(rule);
  return keys.length === 1 && keys[0] === field ? rule[field] : undefined;
}

/** Comparisons with a literal that no value can satisfy, whatever the context holds. */
function comparisonNeverHolds(leaf: ConditionCompare | ConditionExists): boolean {
  if (leaf.kind !== 'compare' || leaf.right.kind !== 'literal') return false;
  const value = leaf.right.value;
  if (leaf.op === 'matches') return typeof value !== 'string';
  if (leaf.op === '==') return false;
  // A null is only ever equal to null; booleans have no order.
  if (value === null) return true;
  return typeof value === 'boolean' && leaf.op !== '!=';
}

// ---------------------------------------------------------------------------------------------
// Compile-time folding of params

/**
 * Evaluates every comparison and exists whose paths are all under `params` (known at compile
 * time) with the run-time semantics, and simplifies and/or/not over the constants that result.
 */
export function foldParams(expr: ConditionExpr, params: Readonly<Record<string, unknown>>): ConditionExpr {
  return foldConstants(expr, (leaf) => foldParamsLeaf(leaf, params));
}

function foldParamsLeaf(
  leaf: ConditionCompare | ConditionExists,
  params: Readonly<Record<string, unknown>>,
): ConditionExpr {
  const paramAt = (path: ConditionPath): unknown => valueAt(params, path.segments);
  if (leaf.kind === 'exists') {
    return leaf.path.root === 'params' ? constant(paramAt(leaf.path) !== undefined) : leaf;
  }
  const { left, right } = leaf;
  if (left.root !== 'params' || (right.kind === 'path' && right.root !== 'params')) return leaf;
  return constant(
    comparisonHolds(leaf.op, paramAt(left), right.kind === 'path' ? paramAt(right) : right.value),
  );
}

/**
 * Rewrites each comparison/exists with `leaf`, then removes the constants: `x and true` is `x`,
 * `x or true` is true, `not false` is true. An and/or left with one item becomes that item.
 */
function foldConstants(
  expr: ConditionExpr,
  leaf: (expr: ConditionCompare | ConditionExists) => ConditionExpr,
): ConditionExpr {
  switch (expr.kind) {
    case 'const':
      return expr;
    case 'compare':
    case 'exists':
      return leaf(expr);
    case 'not': {
      const inner = foldConstants(expr.expr, leaf);
      return inner.kind === 'const' ? constant(!inner.value) : { kind: 'not', expr: inner };
    }
    case 'and':
    case 'or': {
      // The value that decides the whole: one false decides an and, one true an or.
      const decisive = expr.kind === 'or';
      const items: ConditionExpr[] = [];
      for (const item of expr.items) {
        const folded = foldConstants(item, leaf);
        if (folded.kind !== 'const') items.push(folded);
        else if (folded.value === decisive) return constant(decisive);
      }
      if (items.length === 0) return constant(!decisive);
      return items.length === 1 ? items[0]! : { kind: expr.kind, items };
    }
  }
}

function constant(value: boolean): ConditionExpr {
  return { kind: 'const', value };
}

// ---------------------------------------------------------------------------------------------
// Run-time semantics, for values known at compile time

/** The value at `segments` below `root`, or undefined when missing. Only own properties count. */
function valueAt(root: unknown, segments: readonly (string | number)[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      current = Array.isArray(current) ? current[segment] : undefined;
    } else if (isPlainObject(current) && Object.hasOwn(current, segment)) {
      current = current[segment];
    } else {
      current = undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** §4: both sides present and of one scalar type, then the operator; otherwise false. */
function comparisonHolds(op: CompareOp, left: unknown, right: unknown): boolean {
  const type = scalarTypeOf(left);
  if (type === undefined || type !== scalarTypeOf(right)) return false;
  switch (op) {
    case '==':
      return left === right;
    case '!=':
      return left !== right;
    case 'matches':
      return type === 'string' && matchesWildcards(left as string, right as string);
    default:
      if (type !== 'string' && type !== 'number') return false;
      return isOrdered(op, left as string | number, right as string | number);
  }
}

function isOrdered(op: OrderingOp, left: string | number, right: string | number): boolean {
  switch (op) {
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
  }
}

function scalarTypeOf(value: unknown): ScalarType | undefined {
  if (value === null) return 'null';
  const type = typeof value;
  return type === 'string' || type === 'number' || type === 'boolean' ? type : undefined;
}

/** ASL StringMatches: `*` matches any run of characters, `\*` a star, `\\` a backslash. */
function matchesWildcards(value: string, pattern: string): boolean {
  let source = '';
  for (let at = 0; at < pattern.length; at++) {
    const char = pattern[at]!;
    if (char === '\\' && at + 1 < pattern.length) source += escapeRegExp(pattern[++at]!);
    else source += char === '*' ? '[\\s\\S]*' : escapeRegExp(char);
  }
  return new RegExp(`^${source}$`).test(value);
}

function escapeRegExp(char: string): string {
  return /[\\^$.*+?()[\]{}|]/.test(char) ? `\\${char}` : char;
}
