import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  type Pair,
  parseDocument,
  Scalar,
  type YAMLMap,
} from 'yaml';
import { type Diagnostic, DiagnosticCode } from './diagnostics.js';
import { parseYamlSubset } from './yaml-subset.js';

export type PathSegment = string | number;

export interface SourcePosition {
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

/** A document as the `yaml` package composes it: nodes with source ranges, and its line starts. */
interface PositionedDocument {
  readonly root: Node | null;
  readonly lines: LineCounter;
}

/**
 * Finds the source position of any value or key in a parsed workflow by its path, so a diagnostic
 * about `nodes.merge.next[1]` points at exactly that text. Positions come from the `yaml` package's
 * node tree, composed only when first asked for (a valid workflow read by the fast path needs none).
 */
export class SourceLocator {
  private document: PositionedDocument | undefined;

  /** The pairs of big maps by key (the first pair of a key, as a scan finds it), built on first use. */
  private readonly pairsByKey = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(private readonly compose: () => PositionedDocument) {}

  private get positioned(): PositionedDocument {
    this.document ??= this.compose();
    return this.document;
  }

  /**
   * Where the value at `path` starts (or its key, with `part: 'key'`). A path that does not exist
   * resolves to the deepest ancestor that does, which is where the author has to look.
   */
  locate(path: readonly PathSegment[], part: 'key' | 'value' = 'value'): SourcePosition {
    let node: unknown = this.positioned.root;
    let keyNode: unknown;
    for (const segment of path) {
      const child = this.childOf(node, segment);
      if (!child) break;
      node = child.value;
      keyNode = child.key;
    }
    const target = part === 'key' && keyNode ? keyNode : (node ?? keyNode);
    return this.positionOf(target);
  }

  /** The offset of a scalar's first character of content, past an opening quote. */
  contentOffset(path: readonly PathSegment[]): number {
    let node: unknown = this.positioned.root;
    for (const segment of path) {
      const child = this.childOf(node, segment);
      if (!child) return 0;
      node = child.value;
    }
    if (!isScalar(node) || !node.range) return 0;
    const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
    return node.range[0] + (quoted ? 1 : 0);
  }

  positionAt(offset: number): SourcePosition {
    const { line, col } = this.positioned.lines.linePos(offset);
    return { line, column: col };
  }

  private positionOf(node: unknown): SourcePosition {
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    return this.positionAt(range ? range[0] : 0);
  }

  private childOf(node: unknown, segment: PathSegment): { key: unknown; value: unknown } | undefined {
    if (isMap(node)) {
      // A scan of `nodes` per diagnostic made many diagnostics in a big file quadratic.
      if (node.items.length > INDEXED_MAP_SIZE) {
        let pairs = this.pairsByKey.get(node);
        if (!pairs) {
          pairs = new Map();
          for (const pair of node.items) {
            const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
            if (!pairs.has(key)) pairs.set(key, pair);
          }
          this.pairsByKey.set(node, pairs);
        }
        const pair = pairs.get(String(segment));
        return pair ? { key: pair.key, value: pair.value ?? pair.key } : undefined;
      }
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (String(key) === String(segment)) return { key: pair.key, value: pair.value ?? pair.key };
      }
      return undefined;
    }
    if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      return item === undefined ? undefined : { key: item, value: item };
    }
    return undefined;
  }
}

/** Maps bigger than this are looked up through an index rather than scanned. */
const INDEXED_MAP_SIZE = 16;

export interface ParsedSource {
  /** The plain value of the document (last value wins for duplicate keys, which are reported). */
  readonly value: unknown;
  readonly locator: SourceLocator;
  readonly diagnostics: Diagnostic[];
}

/**
 * Parses a workflow file, YAML 1.2 or JSON (JSON is YAML too, so both keep positions). Never throws:
 * syntax errors become PARSE_ERROR diagnostics.
 *
 * Most files are read by a fast reader of the plain subset of YAML workflows use, which builds no
 * position data; the `yaml` package composes the document (positions included) only when the fast
 * reader gives up (the file is outside the subset, or has a fault to report) or when a diagnostic
 * needs a position. Either way, values and positions are the `yaml` package's.
 */
export function parseWorkflowSource(text: string): ParsedSource {
  const fast = parseYamlSubset(text);
  if (fast) {
    return { value: fast.value, locator: new SourceLocator(() => composeDocument(text)), diagnostics: [] };
  }
  return parseWithPositions(text);
}

/** The `yaml` package's document: its nodes carry the source ranges diagnostics point at. */
function composeDocument(text: string): PositionedDocument & { readonly document: Document.Parsed } {
  const lines = new LineCounter();
  const document = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: false,
    prettyErrors: false,
    version: '1.2',
  });
  return { root: document.contents as Node | null, lines, document };
}

/** The full parse: syntax errors, duplicate keys and alias bombs become diagnostics. */
export function parseWithPositions(text: string): ParsedSource {
  const composed = composeDocument(text);
  const doc = composed.document;
  const locator = new SourceLocator(() => composed);
  const diagnostics: Diagnostic[] = [];
  // Only the first syntax error: the parser's later ones are mostly the same fault seen again.
  for (const error of doc.errors.slice(0, 1)) {
    const pos = error.linePos?.[0] ?? locator.positionAt(error.pos[0]);
    diagnostics.push({
      code: DiagnosticCode.PARSE_ERROR,
      severity: 'error',
      message: `${firstLine(error.message)} Fix the YAML/JSON syntax here.`,
      line: pos.line,
      column: 'col' in pos ? pos.col : pos.column,
    });
  }
  if (diagnostics.length > 0) return { value: undefined, locator, diagnostics };
  diagnostics.push(...findDuplicateKeys(doc.contents as Node | null, [], locator));
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Alias bombs and similar: the document is well-formed but unsafe to expand.
    diagnostics.push({
      code: DiagnosticCode.PARSE_ERROR,
      severity: 'error',
      message: `${firstLine((error as Error).message)} Remove the aliases or expand them by hand.`,
      line: 1,
      column: 1,
    });
  }
  return { value, locator, diagnostics };
}

function firstLine(message: string): string {
  const line = (message.split('\n')[0] ?? message).trim();
  return /[.!?]$/.test(line) ? line : `${line}.`;
}

function findDuplicateKeys(node: Node | null, path: PathSegment[], locator: SourceLocator): Diagnostic[] {
  const found: Diagnostic[] = [];
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
      if (seen.has(key)) found.push(duplicateKeyDiagnostic(key, path, pair.key, locator));
      seen.add(key);
      found.push(...findDuplicateKeys(pair.value as Node | null, [...path, key], locator));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      found.push(...findDuplicateKeys(item as Node | null, [...path, index], locator));
    });
  }
  return found;
}

function duplicateKeyDiagnostic(
  key: string,
  path: PathSegment[],
  keyNode: unknown,
  locator: SourceLocator,
): Diagnostic {
  const range = (keyNode as { range?: [number, number, number] }).range;
  const pos = locator.positionAt(range?.[0] ?? 0);
  const isNodeName = path.length === 1 && path[0] === 'nodes';
  if (isNodeName) {
    return {
      code: DiagnosticCode.DUPLICATE_NODE,
      severity: 'error',
      message: `Node '${key}' is defined more than once. Rename one of them or merge them.`,
      node: key,
      ...pos,
    };
  }
  const where = path.length >= 2 && path[0] === 'nodes' ? ` in node '${String(path[1])}'` : '';
  return {
    code: DiagnosticCode.SCHEMA,
    severity: 'error',
    message: `Field '${key}' appears more than once${where}. Keep one.`,
    ...(where ? { node: String(path[1]) } : {}),
    ...pos,
  };
}
