// Fuzzing the whole pipeline, parse -> validate -> plan -> passes -> emit, through compileWorkflowText:
// whatever the text, it returns (never throws) well-formed diagnostics, and ASL exactly when there is
// no error; every ASL it returns passes asl-validator. Inputs: random bytes, YAML-ish token soup, JSON
// values, valid workflows with every node type, and those workflows mutated in random places, in YAML
// and in JSON, with random compile options. asl-validator runs in batches at the end of each property.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type CompileOptions, type CompileResult, compileWorkflowText } from '../../lib/compiler/compile.js';
import { type Diagnostic, DiagnosticCode, hasErrors } from '../../lib/dag/diagnostics.js';
import { isReference } from '../../lib/dag/reference.js';
import { allStateNames, validateAslBatch } from '../support/asl.js';
import { arbitraryMutations, arbitraryRichWorkflow, mutate } from '../support/rich-workflows.js';

const RUNS = 150;
const TIMEOUT_MS = 120_000;
const CODES = new Set<string>(Object.values(DiagnosticCode));
/** Top-level fields of a state machine definition (the batched validation checks only StartAt and States). */
const TOP_LEVEL = new Set(['Comment', 'StartAt', 'States', 'TimeoutSeconds', 'Version', 'QueryLanguage']);

interface Compiled {
  readonly text: string;
  readonly asl: Record<string, unknown>;
}

/** Compiles and checks what every answer must satisfy; collects the ASL for asl-validator. */
function compileChecked(text: string, options: CompileOptions, into: Compiled[]): CompileResult {
  const result = compileWorkflowText(text, options);
  for (const d of result.diagnostics) expectWellFormed(d);
  expect(result.asl === undefined, JSON.stringify(result.diagnostics)).toBe(hasErrors(result.diagnostics));
  if (result.asl) {
    const asl = result.asl as unknown as Record<string, unknown>;
    for (const key of Object.keys(asl)) expect(TOP_LEVEL, `top-level field ${key}`).toContain(key);
    if (asl.TimeoutSeconds !== undefined) expect(Number.isInteger(asl.TimeoutSeconds)).toBe(true);
    // State names are unique in the whole machine (tasks are bound by name on the embedded engine).
    const names = allStateNames(asl);
    expect(new Set(names).size, `duplicate state names in ${names.join(', ')}`).toBe(names.length);
    into.push({ text, asl });
  }
  return result;
}

function expectWellFormed(d: Diagnostic): void {
  expect(CODES, `diagnostic code ${d.code}`).toContain(d.code);
  expect(['error', 'warning']).toContain(d.severity);
  expect(d.message.length).toBeGreaterThan(0);
  for (const position of [d.line, d.column])
    if (position !== undefined) expect(Number.isInteger(position) && position >= 1, `${position}`).toBe(true);
}

function expectAllValid(compiled: readonly Compiled[]): void {
  const invalid = validateAslBatch(compiled.map((c) => c.asl));
  const first = invalid[0];
  if (first)
    expect.fail(
      `${invalid.length} definition(s) rejected by asl-validator; the first:\n${first.errors}\n--- workflow ---\n${compiled[first.index]!.text}`,
    );
}

const optionsArbitrary: fc.Arbitrary<CompileOptions> = fc.record(
  {
    optimize: fc.boolean(),
    strategy: fc.constantFrom('fastest' as const, 'cheapest' as const),
    params: fc.dictionary(fc.constantFrom('p', 'q', 'route0', 'route1', 'route2', 'route3'), fc.jsonValue(), {
      maxKeys: 3,
    }),
  },
  { requiredKeys: [] },
);

describe('the compiler on arbitrary input', () => {
  it(
    'never throws on random text, token soup or JSON values',
    () => {
      const compiled: Compiled[] = [];
      const token = fc.constantFrom(
        'name: x\n',
        'nodes:\n',
        '  a: ',
        '  b: ',
        '{ type: start, next: b }\n',
        '{ type: end }\n',
        '{ type: sync, operator: t/x, next: b }\n',
        '{ type: router, routes: [{ when: "input.a == 1", next: b }], default: b }\n',
        '{ type: parallel, items: $.input.i, node: { type: sync, operator: t/x }, next: b }\n',
        '{',
        '}',
        '[',
        ']',
        ', ',
        '\n',
        '  ',
        '- ',
        '&a ',
        '*a ',
        '<<: *a\n',
        '"',
        "'",
        ': ',
        '$.input',
        '!!binary ',
        '%YAML 1.2\n---\n',
      );
      const text = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.array(token, { maxLength: 40 }).map((t) => t.join('')),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc
          .record({ name: fc.constant('json'), nodes: fc.dictionary(fc.string(), fc.jsonValue()) })
          .map((v) => JSON.stringify(v)),
      );
      fc.assert(
        fc.property(text, optionsArbitrary, (source, options) => {
          compileChecked(source, options, compiled);
        }),
        { numRuns: 600 },
      );
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it(
    'compiles valid workflows with every node type, in YAML and JSON alike, to valid ASL',
    () => {
      const compiled: Compiled[] = [];
      fc.assert(
        fc.property(arbitraryRichWorkflow(), optionsArbitrary, (doc, options) => {
          // Only the workflow's own params: random ones may rightly fail the task input checks.
          const { params: _random, ...rest } = options;
          const yaml = compileChecked(stringify(doc), rest, compiled);
          expect(yaml.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
          const json = compileChecked(JSON.stringify(doc), rest, []);
          expect(JSON.stringify(json.asl)).toBe(JSON.stringify(yaml.asl));
        }),
        { numRuns: RUNS },
      );
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it(
    'never throws on valid workflows mutated in random places, and what still compiles is valid ASL',
    () => {
      const compiled: Compiled[] = [];
      const mutated = arbitraryRichWorkflow().chain((doc) =>
        fc.tuple(fc.constant(doc), arbitraryMutations(Object.keys(doc.nodes)), fc.boolean()),
      );
      let stillCompiles = 0;
      fc.assert(
        fc.property(mutated, optionsArbitrary, ([doc, mutations, asJson], options) => {
          const value = mutate(doc, mutations);
          const text = asJson ? JSON.stringify(value) : stringify(value);
          if (compileChecked(text, options, compiled).asl) stillCompiles++;
        }),
        { numRuns: 400 },
      );
      // The mutations are near misses, not only junk: some must still compile for the ASL check to bite.
      expect(stillCompiles).toBeGreaterThan(20);
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it(
    'never throws on random router conditions, and compiles the ones that parse to valid ASL',
    () => {
      const compiled: Compiled[] = [];
      const part = fc.constantFrom(
        'input.a',
        'input.a.b[0]',
        "input['a-b']",
        'nodes.work.size',
        'params.p',
        'task.id',
        'errors.work',
        'exists(input.a)',
        'not',
        'and',
        'or',
        '(',
        ')',
        '==',
        '!=',
        '<',
        '<=',
        '>',
        '>=',
        'matches',
        "'a*b'",
        '"x"',
        '1',
        '-2.5',
        '1e3',
        'true',
        'false',
        'null',
        '[',
        ']',
        '.',
        '\\',
      );
      const condition = fc.array(part, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(' '));
      fc.assert(
        fc.property(condition, fc.boolean(), (when, optimize) => {
          const doc = {
            name: 'conditions',
            params: { p: 3 },
            nodes: {
              begin: { type: 'start', next: 'work' },
              work: { type: 'sync', operator: 'test/x', next: 'route' },
              route: { type: 'router', routes: [{ when, next: 'a' }], default: 'b' },
              a: { type: 'sync', operator: 'test/a', next: 'done' },
              b: { type: 'sync', operator: 'test/b', next: 'done' },
              done: { type: 'end' },
            },
          };
          compileChecked(stringify(doc), { optimize }, compiled);
        }),
        // About 2% of these token strings parse: 1,000 runs keep the bound below from failing by chance
        // (500 once gave exactly 10).
        { numRuns: 1000 },
      );
      expect(compiled.length).toBeGreaterThan(10);
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it(
    'compiles random templates to valid ASL, or rejects them with a diagnostic naming node and field',
    () => {
      const compiled: Compiled[] = [];
      const reference = fc.constantFrom('$', '$.task.id', '$.input', '$.input.x', '$.params.p', '$.nodes');
      const scalar = fc.oneof(
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(0, -3, 1e21, -1.5, 1e-7, 2 ** 53, Number.MAX_VALUE),
        fc.string({ maxLength: 6 }).map((t) => (isReference(t) ? `x${t}` : t)),
        fc.constantFrom('', ' ', 'a\nb', '{% x %}', "it's", '{}', 'a\\b', 'x(y', ')', ', ', 'é', '\u2028'),
      );
      const key = fc.constantFrom('a', 'b-c', 'x y', '', '1', 'é', '$', 'k.$');
      const { template } = fc.letrec<{ template: unknown }>((tie) => ({
        template: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          scalar,
          reference,
          fc.array(tie('template'), { maxLength: 4 }),
          fc.dictionary(key, tie('template'), { maxKeys: 3 }),
        ),
      }));
      let rejected = 0;
      fc.assert(
        fc.property(
          fc.record({ input: template, item: template, payload: template, output: template }),
          fc.boolean(),
          (t, optimize) => {
            const doc = {
              name: 'templates',
              params: { p: 1 },
              nodes: {
                begin: { type: 'start', next: 'work' },
                work: { type: 'sync', operator: 'test/echo', input: t.input, next: 'each' },
                each: {
                  type: 'parallel',
                  items: '$.input.list',
                  node: { type: 'sync', operator: 'test/echo', input: [t.item, '$.item'] },
                  next: 'tell',
                },
                tell: {
                  type: 'callback',
                  target: { kind: 'sqs', queue: 'q' },
                  payload: t.payload,
                  next: 'done',
                },
                done: { type: 'end', output: t.output },
              },
            };
            const result = compileChecked(stringify(doc), { optimize }, compiled);
            const errors = result.diagnostics.filter((d) => d.severity === 'error');
            if (errors.length > 0) rejected++;
            for (const d of errors) {
              expect(d.code, d.message).toBe(DiagnosticCode.SCHEMA);
              expect(d.node).toBeDefined();
              expect(d.line, d.message).toBeDefined();
            }
          },
        ),
        { numRuns: 400 },
      );
      // Most templates are fine: the ASL check must see them.
      expect(compiled.length).toBeGreaterThan(100);
      expect(rejected).toBeGreaterThan(0);
      expectAllValid(compiled);
    },
    TIMEOUT_MS,
  );

  it('compiles a literal array holding null to valid ASL', () => {
    const result = compileWorkflowText(`name: null-in-array
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { list: [1, null] }, next: done }
  done: { type: end }
`);
    expect(result.asl).toBeDefined();
    expect(validateAslBatch([result.asl as unknown as Record<string, unknown>])).toEqual([]);
  });

  it('writes a literal array that asl-validator refuses as it is with States.Array, nested arrays too', () => {
    // Refused in a literal array: null, and strings it could read as JSONata ("", several lines, "{% ").
    const input = {
      a: [1, ''],
      b: ['x\ny', '{% 1 %}'],
      c: [[null], 'ok'],
      d: { e: [true, null] },
      fine: [1, 'two', [3], { f: null }],
    };
    const result = compileWorkflowText(
      stringify({
        name: 'refused-literals',
        nodes: {
          begin: { type: 'start', next: 'w' },
          w: { type: 'sync', operator: 'test/echo', input, next: 'done' },
          done: { type: 'end', output: [null] },
        },
      }),
    );
    expect(result.diagnostics).toEqual([]);
    const asl = result.asl as unknown as { States: Record<string, { Parameters: Record<string, unknown> }> };
    expect(asl.States.w!.Parameters.input).toEqual({
      'a.$': "States.Array(1, '')",
      'b.$': "States.Array('x\ny', States.Format('\\{% 1 %\\}'))",
      'c.$': "States.Array(States.Array(null), 'ok')",
      d: { 'e.$': 'States.Array(true, null)' },
      fine: [1, 'two', [3], { f: null }],
    });
    expect(asl.States.done!.Parameters).toEqual({ 'output.$': 'States.Array(null)' });
    expect(validateAslBatch([result.asl as unknown as Record<string, unknown>])).toEqual([]);
  });

  it('rejects what States.Array cannot hold, and keys ASL reads as paths, naming node and field', () => {
    const result = compileWorkflowText(`name: cannot-hold
nodes:
  begin: { type: start, next: a }
  a:
    type: sync
    operator: test/echo
    input:
      list: [null, { k: 1 }]
      refs: [$.task.id, [{ k: $.input }]]
      "path.$": literal
    next: done
  done: { type: end }
`);
    expect(result.asl).toBeUndefined();
    expect(result.diagnostics.map((d) => [d.code, d.node, d.line, d.column])).toEqual([
      [DiagnosticCode.SCHEMA, 'a', 8, 20],
      [DiagnosticCode.SCHEMA, 'a', 9, 26],
      [DiagnosticCode.SCHEMA, 'a', 10, 7],
    ]);
    expect(result.diagnostics[0]!.message).toContain("Node 'a': input.list[1] is an object");
    expect(result.diagnostics[1]!.message).toContain('input.refs[1][0]');
    expect(result.diagnostics[2]!.message).toContain("Node 'a': input has key 'path.$'");
  });

  it('rejects fields named after JavaScript object members, which asl-validator refuses', () => {
    const result = compileWorkflowText(`name: members
nodes:
  begin: { type: start, next: a }
  a:
    type: sync
    operator: test/echo
    input:
      valueOf: $.input.x
      nested: { constructor: [$.task.id] }
      toString: literal
      fine: $.input.y
      items: [{ hasOwnProperty: 1 }]
    next: done
  done: { type: end }
`);
    expect(result.asl).toBeUndefined();
    expect(result.diagnostics.map((d) => [d.code, d.node, d.line, d.column])).toEqual([
      [DiagnosticCode.SCHEMA, 'a', 8, 7],
      [DiagnosticCode.SCHEMA, 'a', 9, 17],
      [DiagnosticCode.SCHEMA, 'a', 10, 7],
      [DiagnosticCode.SCHEMA, 'a', 12, 17],
    ]);
    expect(result.diagnostics[0]!.message).toContain(
      "input has key 'valueOf', the name of a JavaScript object member",
    );
    expect(result.diagnostics[3]!.message).toContain('input.items[0]');
    // Other names, and these names as values, compile to ASL that asl-validator takes.
    const fine = compileWorkflowText(`name: members
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { name: toString, fine: $.input.y }, next: done }
  done: { type: end }
`);
    expect(fine.diagnostics).toEqual([]);
    expectAllValid([{ asl: fine.asl!, text: 'name: toString' }]);
  });

  it('compiles a big number in an array with references to valid ASL', () => {
    const result = compileWorkflowText(`name: exponent
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { list: [$.task.id, 1e21] }, next: done }
  done: { type: end }
`);
    expect(validateAslBatch([result.asl as unknown as Record<string, unknown>])).toEqual([]);
  });

  it('writes numbers in States.Array as integers, or through States.StringToJson', () => {
    // asl-validator reads only integers as intrinsic arguments: no fraction, no exponent.
    const list = ['$.task.id', 3, -7, 0, 2 ** 53 - 1, 1e21, -1.5, 1e-7, 2 ** 53 + 2, Number.MAX_VALUE];
    const result = compileWorkflowText(
      JSON.stringify({
        name: 'numbers',
        nodes: {
          begin: { type: 'start', next: 'a' },
          a: { type: 'sync', operator: 'test/echo', input: { list }, next: 'done' },
          done: { type: 'end' },
        },
      }),
    );
    const asl = result.asl as unknown as { States: Record<string, { Parameters: { input: unknown } }> };
    expect(asl.States.a!.Parameters.input).toEqual({
      'list.$':
        "States.Array($.task.id, 3, -7, 0, 9007199254740991, States.StringToJson('1e+21'), " +
        "States.StringToJson('-1.5'), States.StringToJson('1e-7'), States.StringToJson('9007199254740994'), " +
        "States.StringToJson('1.7976931348623157e+308'))",
    });
    expect(validateAslBatch([result.asl as unknown as Record<string, unknown>])).toEqual([]);
  });

  it('rejects a string with a backslash in States.Array, which asl-validator cannot read, naming the field', () => {
    const result = compileWorkflowText(`name: backslash
nodes:
  begin: { type: start, next: a }
  a: { type: sync, operator: test/echo, input: { list: [$.task.id, 'C:\\tmp'] }, next: done }
  done: { type: end }
`);
    expect(result.asl).toBeUndefined();
    expect(result.diagnostics.map((d) => [d.code, d.node, d.line, d.column])).toEqual([
      [DiagnosticCode.SCHEMA, 'a', 4, 68],
    ]);
    expect(result.diagnostics[0]!.message).toContain("Node 'a': input.list[1] is a string with a backslash");
  });

  it('rejects a node reached from a router and from a fork inside another of its routes', () => {
    // Valid ASL would need that node's state twice (inside the fork's Parallel and outside it):
    // dag-spec §2 has the router's routes meet at one node first (validate.ts, UNSTRUCTURED_ROUTER).
    const result = compileWorkflowText(`name: shared
nodes:
  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: "input.k == 0", next: f }], default: n }
  f: { type: sync, operator: test/echo, next: [a, b] }
  a: { type: sync, operator: test/echo, next: n }
  b: { type: sync, operator: test/echo, next: done }
  n: { type: sync, operator: test/echo, next: done }
  done: { type: end }
`);
    expect(result.asl).toBeUndefined();
    expect(result.diagnostics.map((d) => [d.code, d.node])).toEqual([
      [DiagnosticCode.UNSTRUCTURED_ROUTER, 'r'],
    ]);
  });
});
