// The typed AST of router conditions (dag-spec §4). Columns are 0-based offsets into the condition
// source; the validator adds the source position of the `when` string to report file columns.

export type PathRoot = 'input' | 'nodes' | 'task' | 'params' | 'errors';

export interface ConditionPath {
  readonly kind: 'path';
  readonly root: PathRoot;
  /** Property names and integer indexes after the root, in order. */
  readonly segments: readonly (string | number)[];
  /** Offset of the path's first character in the condition source. */
  readonly start: number;
  readonly end: number;
}

export type LiteralValue = string | number | boolean | null;

export interface ConditionLiteral {
  readonly kind: 'literal';
  readonly value: LiteralValue;
  readonly start: number;
  readonly end: number;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'matches';

/**
 * A comparison, normalised so that a path is always on the left: `5 < input.x` is stored as
 * `input.x > 5`. `right` is a literal, or a path for path-against-path comparisons.
 */
export interface ConditionCompare {
  readonly kind: 'compare';
  readonly op: CompareOp;
  readonly left: ConditionPath;
  readonly right: ConditionLiteral | ConditionPath;
}

export interface ConditionExists {
  readonly kind: 'exists';
  readonly path: ConditionPath;
}

export interface ConditionNot {
  readonly kind: 'not';
  readonly expr: ConditionExpr;
}

export interface ConditionAnd {
  readonly kind: 'and';
  readonly items: readonly ConditionExpr[];
}

export interface ConditionOr {
  readonly kind: 'or';
  readonly items: readonly ConditionExpr[];
}

/** Constant folding of `params.*` may reduce a condition to a constant. */
export interface ConditionConst {
  readonly kind: 'const';
  readonly value: boolean;
}

export type ConditionExpr =
  | ConditionCompare
  | ConditionExists
  | ConditionNot
  | ConditionAnd
  | ConditionOr
  | ConditionConst;

export interface ConditionSyntaxError {
  readonly message: string;
  /** 0-based offset in the condition source where the problem is. */
  readonly column: number;
}

export type ConditionParseResult =
  | { readonly ok: true; readonly expr: ConditionExpr }
  | { readonly ok: false; readonly error: ConditionSyntaxError };
