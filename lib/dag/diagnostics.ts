// Diagnostics are data: the validator collects them, the CLI and the API render them.

export const DiagnosticCode = {
  PARSE_ERROR: 'PARSE_ERROR',
  SCHEMA: 'SCHEMA',
  INVALID_NAME: 'INVALID_NAME',
  DUPLICATE_NODE: 'DUPLICATE_NODE',
  NO_START: 'NO_START',
  MULTIPLE_START: 'MULTIPLE_START',
  NO_END: 'NO_END',
  UNKNOWN_NODE: 'UNKNOWN_NODE',
  CYCLE: 'CYCLE',
  UNREACHABLE: 'UNREACHABLE',
  DEAD_END: 'DEAD_END',
  START_HAS_PREDECESSOR: 'START_HAS_PREDECESSOR',
  END_HAS_NEXT: 'END_HAS_NEXT',
  END_IN_FORK: 'END_IN_FORK',
  ROUTER_NO_DEFAULT: 'ROUTER_NO_DEFAULT',
  INVALID_CONDITION: 'INVALID_CONDITION',
  UNSTRUCTURED_ROUTER: 'UNSTRUCTURED_ROUTER',
  INVALID_PATH: 'INVALID_PATH',
  UNKNOWN_OPERATOR: 'UNKNOWN_OPERATOR',
  INVALID_TARGET: 'INVALID_TARGET',
  /** A warning from the compiler: the plan may pass a Step Functions limit (not in dag-spec §8's list). */
  STEP_FUNCTIONS_LIMIT: 'STEP_FUNCTIONS_LIMIT',
} as const;

export type DiagnosticCode = (typeof DiagnosticCode)[keyof typeof DiagnosticCode];

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly node?: string;
  /** 1-based. */
  readonly line?: number;
  /** 1-based. */
  readonly column?: number;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sorted by position, so output reads top to bottom like the file. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return [...diagnostics].sort(
    (a, b) =>
      (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0) || a.code.localeCompare(b.code),
  );
}

/** `FILE:LINE:COL: error CODE: message`, the format compilers and editors understand. */
export function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${file}:${d.line ?? 1}:${d.column ?? 1}: ${d.severity} ${d.code}: ${d.message}`;
}

/** A diagnostic as `dag validate --json` and the API print it (dag-spec §8), fields in a fixed order. */
export function diagnosticJson(d: Diagnostic): Record<string, unknown> {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    ...(d.node === undefined ? {} : { node: d.node }),
    ...(d.line === undefined ? {} : { line: d.line }),
    ...(d.column === undefined ? {} : { column: d.column }),
  };
}

/**
 * Thrown where a caller asked for a valid workflow and got diagnostics instead; carries them whole so
 * that no caller has to parse a message.
 */
export class WorkflowInvalidError extends Error {
  override name = 'WorkflowInvalidError';
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[], file?: string) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    const first = errors[0];
    super(
      first
        ? `${errors.length} error(s) in ${file ?? 'workflow'}; first: ${formatDiagnostic(file ?? 'workflow', first)}`
        : `invalid workflow ${file ?? ''}`.trim(),
    );
    this.diagnostics = diagnostics;
  }
}
