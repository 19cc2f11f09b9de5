// The fast reader (lib/dag/yaml-subset.ts) must be invisible: whatever it accepts reads exactly as the
// `yaml` package reads it, and diagnostics keep their code, message, node, line and column whichever
// path parsed the file.
import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseWithPositions, parseWorkflowSource } from '../../lib/dag/parse.js';
import { validateWorkflow } from '../../lib/dag/validate.js';
import { parseYamlSubset } from '../../lib/dag/yaml-subset.js';
import { arbitraryDag, arbitraryStructuredWorkflow, type WorkflowObject } from '../support/arbitrary-dags.js';

/** The value with key order made visible (deep equality ignores it), keeping -0 and NaN apart. */
function canonical(value: unknown): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : Number.isNaN(value) ? 'NaN' : value;
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object')
    return Object.entries(value).map(([k, v]) => [k, canonical(v)]);
  return value;
}

/** When the fast reader accepts `text`, the full parser must find no fault and the same value. */
function expectSameReading(text: string): boolean {
  const fast = parseYamlSubset(text);
  if (!fast) return false;
  const full = parseWithPositions(text);
  expect(full.diagnostics, text).toEqual([]);
  // canonical() shows a difference readably; isDeepStrictEqual also compares prototypes (toStrictEqual
  // would read a key named `constructor` as the class).
  expect(canonical(fast.value), text).toEqual(canonical(full.value));
  expect(isDeepStrictEqual(fast.value, full.value), text).toBe(true);
  return true;
}

/** Diagnostics and the validated DAG, through the fast path and through the full parse alone. */
function expectSameValidation(text: string): void {
  const viaFast = validateWorkflow(parseWorkflowSource(text));
  const viaFull = validateWorkflow(parseWithPositions(text));
  expect(viaFast.diagnostics, text).toEqual(viaFull.diagnostics);
  expect(viaFast.dag?.order, text).toEqual(viaFull.dag?.order);
  expect(viaFast.dag?.workflow, text).toEqual(viaFull.dag?.workflow);
}

const examples = [
  ...readdirSync('workflows').map((f) => `workflows/${f}`),
  ...readdirSync('test/fixtures/workflows').map((f) => `test/fixtures/workflows/${f}`),
];

/** Scalars that each resolve differently, or need quoting, or sit on an edge of the subset. */
const trickyString = fc.constantFrom(
  '',
  ' ',
  'a b',
  ' lead',
  'trail ',
  'true',
  'True',
  'FALSE',
  'null',
  'Null',
  '~',
  'yes',
  'no',
  'on',
  '1',
  '-1',
  '+1',
  '-0',
  '0.0',
  '-0.0',
  '1.50',
  '1e3',
  '1E-3',
  '.5',
  '5.',
  '0o17',
  '0x1F',
  '0b101',
  '.inf',
  '-.Inf',
  '.nan',
  '12345678901234567890',
  '1_000',
  'a: b',
  'a:b',
  'a #b',
  'a#b',
  '#a',
  '- a',
  '-a',
  '?a',
  ':a',
  '@a',
  '`a',
  '%a',
  '&a',
  '*a',
  '!a',
  '|',
  '>',
  "it's",
  'say "hi"',
  'back\\slash',
  '$.nodes.probe.durationSec',
  "$.nodes['a-b'][0]",
  'media/probe',
  'http://example.com/a?b=c#d',
  'file:// or s3:// URI',
  'a, b',
  '[a]',
  '{a}',
  'tab\there',
  'line\nbreak',
  'two\n\nlines\n',
  'ends\n',
  '\u00a0nbsp\u00a0',
  'é ü 中文 🎬',
  '\u2028',
  '__proto__',
  'constructor',
  'toString',
);

const anyString = fc.oneof(
  trickyString,
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);

const key = fc.oneof(
  fc.constantFrom('type', 'next', 'name', 'nodes', '$schema', 'a b', 'a-b', 'a.b', 'a/b', '_x', 'K9'),
  anyString,
);

const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    anyString,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const stringifyOptions = fc.record({
  collectionStyle: fc.constantFrom('any', 'block', 'flow') as fc.Arbitrary<'any' | 'block' | 'flow'>,
  defaultStringType: fc.constantFrom(
    'PLAIN',
    'QUOTE_DOUBLE',
    'QUOTE_SINGLE',
    'BLOCK_LITERAL',
  ) as fc.Arbitrary<'PLAIN' | 'QUOTE_DOUBLE' | 'QUOTE_SINGLE' | 'BLOCK_LITERAL'>,
  defaultKeyType: fc.constantFrom(null, 'PLAIN', 'QUOTE_DOUBLE') as fc.Arbitrary<
    null | 'PLAIN' | 'QUOTE_DOUBLE'
  >,
  indent: fc.constantFrom(2, 4),
  indentSeq: fc.boolean(),
  lineWidth: fc.constantFrom(0, 40, 80),
});

describe('the fast YAML reader reads what the yaml package reads', () => {
  it.each(examples)('reads %s as the yaml package does (or leaves it to it)', (file) => {
    expectSameReading(readFileSync(file, 'utf8'));
  });

  it('takes the fast path for block YAML and JSON workflows', { timeout: 30_000 }, () => {
    fc.assert(
      fc.property(fc.oneof(arbitraryDag(), arbitraryStructuredWorkflow()), (doc) => {
        expect(expectSameReading(stringify(doc))).toBe(true);
        expect(expectSameReading(JSON.stringify(doc, null, 2))).toBe(true);
        expect(expectSameReading(JSON.stringify(doc))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('agrees on documents of any values, in any style the yaml package writes', { timeout: 30_000 }, () => {
    let fast = 0;
    fc.assert(
      fc.property(
        fc.dictionary(key, jsonish, { minKeys: 1, maxKeys: 5 }),
        stringifyOptions,
        (doc, options) => {
          if (expectSameReading(stringify(doc, options))) fast++;
          if (expectSameReading(JSON.stringify(doc, null, options.indent))) fast++;
        },
      ),
      { numRuns: 1000 },
    );
    // Not vacuous: most documents take the fast path.
    expect(fast).toBeGreaterThan(500);
  });

  it('never accepts what the yaml package rejects or reads differently (edited text)', {
    timeout: 30_000,
  }, () => {
    const edits = fc.array(
      fc.record({
        at: fc.nat(),
        remove: fc.integer({ min: 0, max: 3 }),
        insert: fc.constantFrom(
          '',
          ' ',
          '  ',
          '\n',
          '\n  ',
          ':',
          ': ',
          '-',
          '- ',
          '#',
          ' #',
          ',',
          '[',
          ']',
          '{',
          '}',
          '"',
          "'",
          '\\',
          '|',
          '|-',
          '>',
          '&a ',
          '*a',
          '!',
          '?',
          '\t',
          '~',
          '0',
          'x',
          '\u00a0',
          'a: ',
          '\n- ',
          '\n  - ',
          '|\n',
          ': |\n  ',
          '{ a: 1 }',
          '"\\u00e9"',
        ),
      }),
      { minLength: 1, maxLength: 4 },
    );
    const generated = fc
      .tuple(
        fc.oneof(arbitraryStructuredWorkflow(), fc.dictionary(key, jsonish, { minKeys: 1, maxKeys: 4 })),
        stringifyOptions,
        fc.boolean(),
      )
      .map(([doc, options, json]) => (json ? JSON.stringify(doc, null, 2) : stringify(doc, options)));
    // The examples are written by hand: comments, flow maps inside block maps, scripts.
    const handWritten = fc.constantFrom(...examples.map((file) => readFileSync(file, 'utf8')));
    fc.assert(
      fc.property(fc.oneof(generated, handWritten), edits, (original, changes) => {
        let text = original;
        for (const { at, remove, insert } of changes) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + insert + text.slice(i + remove);
        }
        expectSameReading(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves duplicate keys, anchors, tags and other faults to the full parser', () => {
    for (const text of [
      'name: a\nname: b\n',
      'nodes:\n  a: { type: start, type: end }\n',
      '{"a": 1, "a": 2}',
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: >\n  folded\n',
      'a: |+\n  kept\n\n',
      'a: |2\n   indented\n',
      'a: b: c\n',
      'a: "unclosed\n',
      'a:\n  multi\n  line\n',
      'a: plain\n  continued\n',
      '---\na: 1\n',
      'a: 1\n...\n',
      '\ufeffa: 1\n',
      'a: 1\r\nb: 2\r\n',
      '- a\n- b\n',
      '[1, 2]',
      'just a scalar',
      '',
      '? a\n: b\n',
      'a:\tb\n',
      '__proto__: 1\n',
    ]) {
      expect(parseYamlSubset(text), text).toBeUndefined();
    }
  });
});

/** Broken workflows for every kind of diagnostic, in block, flow and JSON style. */
const BROKEN = [
  'name: demo\nnodes:\n  begin: { type: start, next: [a\n',
  'name: Demo_1\nnodes:\n  begin: { type: start, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  done: { type: end, stauts: failed }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: work }\n  work: { type: sync, operator: media/probe, nxet: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  done:\n    type: end\n    status: failed\n    status: succeeded\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  begin: { type: start, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  work: { type: sync, operator: media/probe, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: work }\n  work: { type: sync, operator: media/probe }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  again: { type: start, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: work }\n  work:\n    type: sync\n    operator: a/b\n    next:\n      - done\n      - nowhere\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: a }\n  a: { type: sync, operator: x/a, next: b }\n  b: { type: sync, operator: x/b, next: [a, done] }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  orphan: { type: sync, operator: x/y, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  done:\n    type: end\n    next: begin\n',
  'name: demo\nnodes:\n  begin: { type: start, next: r }\n  r:\n    type: router\n    routes: [{ when: input.ok, next: done }]\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: r }\n  r:\n    type: router\n    routes:\n      - when: "input.a >"\n        next: done\n    default: done\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: [a, b] }\n  a: { type: sync, operator: x/a, next: done }\n  b: { type: sync, operator: x/b, next: other }\n  other: { type: end }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: w }\n  w: { type: sync, operator: x/w, input: { a: $.nodes.later.x, b: $.nope, c: $.params.missing }, next: later }\n  later: { type: sync, operator: x/l, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: tell }\n  tell:\n    type: callback\n    target: { kind: eventbrige, detailType: X }\n    next: done\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: s }\n  s:\n    type: script\n    language: javascript\n    source: |\n      return (\n    next: done\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: q }\n  q: { type: async, via: lambda, heartbeat: 9000, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: p }\n  p:\n    type: parallel\n    items: nodes.x\n    node: { type: sync, operator: x/y, input: { i: $.item, o: $.order, t: $.task.idd } }\n    next: done\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: [x, y] }\n  x: { type: sync, operator: a/x, onError: y, next: done }\n  y: { type: sync, operator: a/y, next: done }\n  done: { type: end }\n',
  '{\n  "name": "demo",\n  "nodes": {\n    "begin": { "type": "start", "next": "done" },\n    "done": { "type": "end", "stauts": "failed" }\n  }\n}',
  '{"name": "demo", "nodes": {"begin": {"type": "start", "next": "nowhere"}, "done": {"type": "end"}}}',
  '{"name": "demo", "nodes": {"begin": {"type": "start", "next": "done"}, "done": {"type": "end"}, "done": {"type": "end"}}}',
  'name: demo\n',
  'name: demo\nnodes: [a, b]\n',
  'nodes:\n  begin: { type: start, next: done }\n  done: { type: end }\n',
  'name: demo\nnodes:\n  begin: { type: start, next: done }\n  done: { type: end }\nextra: 1\n',
];

describe('diagnostics are the same through the fast path', () => {
  it.each(BROKEN)('%j', (text) => {
    expectSameValidation(text);
  });

  it('most of the broken workflows take the fast path (positions then come from the yaml package)', () => {
    expect(BROKEN.filter((text) => parseYamlSubset(text) !== undefined).length).toBeGreaterThan(20);
  });

  /** A random fault, in the document: a missing target, a cycle, a bad field, a bad reference, ... */
  const fault = fc.constantFrom(
    (doc: WorkflowObject, victim: string) => {
      doc.nodes[victim]!.next = 'missing-node';
    },
    (doc: WorkflowObject, victim: string) => {
      doc.nodes[victim]!.next = 'begin';
    },
    (doc: WorkflowObject, victim: string) => {
      doc.nodes[victim]!.nxet = 'done';
    },
    (doc: WorkflowObject, victim: string) => {
      doc.nodes[victim]!.input = { a: '$.nodes.nope.x', b: '$.inptu.a', c: `$.nodes.${victim}.x` };
    },
    (doc: WorkflowObject, victim: string) => {
      doc.nodes[`${victim}-orphan`] = { type: 'sync', operator: 'x/y', next: 'done' };
    },
    (doc: WorkflowObject, victim: string) => {
      doc.nodes[victim]!.type = 'snyc';
    },
    (doc: WorkflowObject, victim: string) => {
      delete doc.nodes[victim];
    },
    (doc: WorkflowObject, victim: string) => {
      const node = doc.nodes[victim]!;
      if (node.type === 'router') (node.routes as { when: string }[])[0]!.when = 'input.a ==';
      else node.timeout = -1;
    },
  );

  it('random faults in random workflows give the same diagnostics, in YAML and JSON', {
    timeout: 30_000,
  }, () => {
    fc.assert(
      fc.property(
        fc.oneof(arbitraryStructuredWorkflow(), arbitraryDag()),
        fc.array(fault, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.boolean(),
        (generated, faults, pick, json) => {
          const doc = structuredClone(generated);
          const names = Object.keys(doc.nodes).filter((n) => !['begin', 'done'].includes(n));
          for (const [i, apply] of faults.entries()) {
            const victim = names[(pick + i) % names.length];
            if (victim !== undefined && doc.nodes[victim]) apply(doc, victim);
          }
          const text = json ? JSON.stringify(doc, null, 2) : stringify(doc);
          expect(parseYamlSubset(text)).toBeDefined();
          expectSameValidation(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
