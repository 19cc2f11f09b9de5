import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseWorkflowSource } from '../../lib/dag/parse.js';
import { validateWorkflowText } from '../../lib/dag/validate.js';
import { arbitraryDag, arbitraryStructuredWorkflow, type WorkflowObject } from '../support/arbitrary-dags.js';

const RUNS = 200;

function codesOf(doc: WorkflowObject, options = {}): string[] {
  return validateWorkflowText(stringify(doc), options).diagnostics.map((d) => d.code);
}

describe('validator properties', () => {
  it('random fork/join DAGs (series-parallel or not) validate with no diagnostics', () => {
    fc.assert(
      fc.property(arbitraryDag(), (doc) => {
        expect(validateWorkflowText(stringify(doc)).diagnostics).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('random structured workflows with routers and forks validate', () => {
    fc.assert(
      fc.property(arbitraryStructuredWorkflow(), (doc) => {
        expect(validateWorkflowText(stringify(doc)).diagnostics).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('dropping an edge target gives UNKNOWN_NODE', () => {
    fc.assert(
      fc.property(arbitraryDag(), fc.nat(), (generated, pick) => {
        const doc = structuredClone(generated);
        const names = Object.keys(doc.nodes).filter((n) => doc.nodes[n]!.type === 'sync');
        const victim = names[pick % names.length]!;
        doc.nodes[victim]!.next = 'missing-node';
        expect(codesOf(doc)).toContain('UNKNOWN_NODE');
      }),
      { numRuns: RUNS },
    );
  });

  it('adding a back edge gives CYCLE', () => {
    fc.assert(
      fc.property(arbitraryDag({ minNodes: 2 }), fc.nat(), fc.nat(), (generated, pickFrom, pickTo) => {
        const doc = structuredClone(generated);
        // An edge from a node back to any of its ancestors closes a cycle.
        const names = Object.keys(doc.nodes).filter((n) => /^n\d+$/.test(n));
        const from = names[1 + (pickFrom % (names.length - 1))]!;
        const ancestors = names.filter((n) => n !== from && reaches(doc, n, from));
        const target = ancestors[pickTo % ancestors.length]!;
        doc.nodes[from]!.next = [...toList(doc.nodes[from]!.next), target];
        expect(codesOf(doc)).toContain('CYCLE');
      }),
      { numRuns: RUNS },
    );
  });

  it('renaming a node gives UNKNOWN_NODE for its references', () => {
    fc.assert(
      fc.property(arbitraryStructuredWorkflow(), fc.nat(), (generated, pick) => {
        const doc = structuredClone(generated);
        const names = Object.keys(doc.nodes).filter((n) => !['begin', 'done'].includes(n));
        const victim = names[pick % names.length]!;
        doc.nodes[`${victim}-renamed`] = doc.nodes[victim]!;
        delete doc.nodes[victim];
        expect(codesOf(doc)).toContain('UNKNOWN_NODE');
      }),
      { numRuns: RUNS },
    );
  });

  it('breaking a condition gives INVALID_CONDITION', () => {
    const breakers = [
      'input.a >',
      '(input.a == 1',
      'input.a === 1',
      'nodes.',
      "input.a == 'x",
      'and input.a',
      'input.a == 1 or',
    ];
    fc.assert(
      fc.property(
        arbitraryStructuredWorkflow({ minRouters: 1 }),
        fc.constantFrom(...breakers),
        (generated, broken) => {
          const doc = structuredClone(generated);
          const router = Object.values(doc.nodes).find((n) => n.type === 'router');
          if (!router) return;
          (router.routes as { when: string }[])[0]!.when = broken;
          expect(codesOf(doc)).toContain('INVALID_CONDITION');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('arbitrary text never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => {
        validateWorkflowText(text);
        parseWorkflowSource(text);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary YAML-ish text never throws', () => {
    const token = fc.constantFrom(
      'name: x\n',
      'nodes:\n',
      '  a: ',
      '{',
      '}',
      '[',
      ']',
      'type: ',
      'start',
      'end',
      'next: ',
      ', ',
      '\n',
      '  ',
      '- ',
      '&a ',
      '*a ',
      '"',
      "'",
      ': ',
      'router',
      'routes: ',
      'when: ',
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 60 }), (tokens) => {
        validateWorkflowText(tokens.join(''));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary JSON documents never throw and always give diagnostics or a DAG', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = validateWorkflowText(JSON.stringify(value));
        expect(result.dag !== undefined || result.diagnostics.length > 0).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('random mutations of a valid workflow never throw', () => {
    fc.assert(
      fc.property(arbitraryStructuredWorkflow(), fc.nat(), fc.jsonValue(), (generated, pick, junk) => {
        const doc = structuredClone(generated);
        const names = Object.keys(doc.nodes);
        const node = doc.nodes[names[pick % names.length]!]!;
        const fields = Object.keys(node);
        node[fields[pick % fields.length]!] = junk;
        validateWorkflowText(stringify(doc));
      }),
      { numRuns: RUNS },
    );
  });
});

function reaches(doc: WorkflowObject, from: string, to: string): boolean {
  const stack = [from];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node === to) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push(...toList(doc.nodes[node]?.next));
  }
  return false;
}

function toList(next: unknown): string[] {
  if (next === undefined) return [];
  return Array.isArray(next) ? (next as string[]) : [next as string];
}
