// Router conditions -> ASL Choice rules with dag-spec §4's semantics: a comparison holds only when
// its paths are present and of the literal's type, so a missing or mistyped value makes it false and
// a Choice never fails. Every comparison is guarded (IsPresent, then the type test) inside an And,
// which Step Functions evaluates left to right, stopping at the first false.
import type {
  CompareOp,
  ConditionExpr,
  ConditionLiteral,
  ConditionPath,
  LiteralValue,
} from '../dag/condition-ast.js';
import { formatReferencePath } from './jsonpath.js';

export type ChoiceRule = Record<string, unknown>;

type Scalar = 'string' | 'number' | 'boolean' | 'null';

const TYPE_TEST: Record<Scalar, string> = {
  string: 'IsString',
  number: 'IsNumeric',
  boolean: 'IsBoolean',
  null: 'IsNull',
};
const EQUALS: Record<Exclude<Scalar, 'null'>, string> = {
  string: 'StringEquals',
  number: 'NumericEquals',
  boolean: 'BooleanEquals',
};
const ORDER_OPS: Record<'<' | '<=' | '>' | '>=', string> = {
  '<': 'LessThan',
  '<=': 'LessThanEquals',
  '>': 'GreaterThan',
  '>=': 'GreaterThanEquals',
};
const ORDER_PREFIX: Record<'string' | 'number', string> = { string: 'String', number: 'Numeric' };

/** Always present: the state input itself. */
const ALWAYS_TRUE: ChoiceRule = { Variable: '$', IsPresent: true };

function variable(path: ConditionPath): string {
  return formatReferencePath([path.root, ...path.segments]);
}

function scalarOf(value: LiteralValue): Scalar {
  if (value === null) return 'null';
  return typeof value as Scalar;
}

function and(rules: ChoiceRule[]): ChoiceRule {
  return rules.length === 1 ? rules[0]! : { And: rules };
}

function guard(path: string, type: Scalar): ChoiceRule[] {
  return [
    { Variable: path, IsPresent: true },
    { Variable: path, [TYPE_TEST[type]]: true },
  ];
}

export function conditionToChoiceRule(expr: ConditionExpr): ChoiceRule {
  switch (expr.kind) {
    case 'const':
      return expr.value ? ALWAYS_TRUE : { Not: ALWAYS_TRUE };
    case 'exists':
      return { Variable: variable(expr.path), IsPresent: true };
    case 'not':
      return { Not: conditionToChoiceRule(expr.expr) };
    case 'and':
      return { And: expr.items.map(conditionToChoiceRule) };
    case 'or':
      return { Or: expr.items.map(conditionToChoiceRule) };
    case 'compare':
      return expr.right.kind === 'literal'
        ? compareLiteral(expr.op, expr.left, expr.right)
        : comparePaths(expr.op, expr.left, expr.right);
  }
}

function compareLiteral(op: CompareOp, left: ConditionPath, right: ConditionLiteral): ChoiceRule {
  const path = variable(left);
  const type = scalarOf(right.value);
  const guards = guard(path, type);
  if (type === 'null') {
    // Present and null is `== null`; "present, of type null and not null" can never hold.
    return op === '==' ? and(guards) : { Not: ALWAYS_TRUE };
  }
  if (op === 'matches') return and([...guards, { Variable: path, StringMatches: right.value }]);
  if (op === '==' || op === '!=') {
    const equals = { Variable: path, [EQUALS[type]]: right.value };
    return and([...guards, op === '==' ? equals : { Not: equals }]);
  }
  const prefix = ORDER_PREFIX[type as 'string' | 'number'];
  return and([...guards, { Variable: path, [`${prefix}${ORDER_OPS[op]}`]: right.value }]);
}

function comparePaths(op: CompareOp, left: ConditionPath, right: ConditionPath): ChoiceRule {
  const a = variable(left);
  const b = variable(right);
  const types: Scalar[] =
    op === '=='
      ? ['string', 'number', 'boolean', 'null']
      : op === '!='
        ? ['string', 'number', 'boolean']
        : ['string', 'number'];
  const branches = types.map((type) => {
    const guards = [...guard(a, type), ...guard(b, type)];
    if (type === 'null') return and(guards);
    if (op === '==' || op === '!=') {
      const equals = { Variable: a, [`${EQUALS[type]}Path`]: b };
      return and([...guards, op === '==' ? equals : { Not: equals }]);
    }
    const prefix = ORDER_PREFIX[type as 'string' | 'number'];
    return and([...guards, { Variable: a, [`${prefix}${ORDER_OPS[op as '<']}Path`]: b }]);
  });
  return branches.length === 1 ? branches[0]! : { Or: branches };
}

/**
 * Evaluates every comparison whose paths are all under `params` (known at compile time) with the
 * runtime semantics, and simplifies and/or/not over the constants that result.
 */
export function foldParams(expr: ConditionExpr, params: Readonly<Record<string, unknown>>): ConditionExpr {
  switch (expr.kind) {
    case 'const':
      return expr;
    case 'exists':
      return expr.path.root === 'params' ? { kind: 'const', value: lookup(params, expr.path).present } : expr;
    case 'compare': {
      if (expr.left.root !== 'params' || (expr.right.kind === 'path' && expr.right.root !== 'params'))
        return expr;
      const left = lookup(params, expr.left);
      const right =
        expr.right.kind === 'literal'
          ? { present: true, value: expr.right.value }
          : lookup(params, expr.right);
      return { kind: 'const', value: evaluateComparison(expr.op, left, right) };
    }
    case 'not': {
      const inner = foldParams(expr.expr, params);
      return inner.kind === 'const' ? { kind: 'const', value: !inner.value } : { kind: 'not', expr: inner };
    }
    case 'and':
    case 'or': {
      const absorbing = expr.kind === 'or';
      const items: ConditionExpr[] = [];
      for (const item of expr.items.map((i) => foldParams(i, params))) {
        if (item.kind === 'const') {
          if (item.value === absorbing) return { kind: 'const', value: absorbing };
          continue;
        }
        items.push(item);
      }
      if (items.length === 0) return { kind: 'const', value: !absorbing };
      return items.length === 1 ? items[0]! : { kind: expr.kind, items };
    }
  }
}

function lookup(
  params: Readonly<Record<string, unknown>>,
  path: ConditionPath,
): { present: boolean; value?: unknown } {
  let current: unknown = params;
  for (const segment of path.segments) {
    if (current === null || typeof current !== 'object') return { present: false };
    if (Array.isArray(current) !== (typeof segment === 'number')) return { present: false };
    if (!Object.hasOwn(current, segment)) return { present: false };
    current = (current as Record<string | number, unknown>)[segment];
  }
  return { present: true, value: current };
}

/** §4's comparison semantics on plain values; shared with tests as the reference. */
export function evaluateComparison(
  op: CompareOp,
  left: { present: boolean; value?: unknown },
  right: { present: boolean; value?: unknown },
): boolean {
  if (!left.present || !right.present) return false;
  const type = scalarTypeOf(left.value);
  if (type === undefined || type !== scalarTypeOf(right.value)) return false;
  const a = left.value as string | number | boolean | null;
  const b = right.value as string | number | boolean | null;
  switch (op) {
    case '==':
      return a === b;
    case '!=':
      return a !== b;
    case 'matches':
      return type === 'string' && wildcardMatch(a as string, b as string);
    default:
      if (type !== 'string' && type !== 'number') return false;
      if (op === '<') return (a as number) < (b as number);
      if (op === '<=') return (a as number) <= (b as number);
      if (op === '>') return (a as number) > (b as number);
      return (a as number) >= (b as number);
  }
}

function scalarTypeOf(value: unknown): Scalar | undefined {
  if (value === null) return 'null';
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean' ? t : undefined;
}

/** ASL StringMatches: `*` matches any run of characters; `\*` a literal star. */
export function wildcardMatch(value: string, pattern: string): boolean {
  let regex = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      regex += escapeRegex(pattern[++i]!);
    } else regex += c === '*' ? '[\\s\\S]*' : escapeRegex(c);
  }
  return new RegExp(`^${regex}$`).test(value);
}

function escapeRegex(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
