import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../lib/dag/diagnostics.js';
import { validateWorkflowText } from '../../lib/dag/validate.js';

/** Builds a workflow file from node lines, so each test shows only what matters and lines are countable. */
function workflow(nodes: string, header = 'name: demo'): string {
  return `${header}\nnodes:\n${nodes}`;
}

function diagnosticsOf(text: string, options = {}): readonly Diagnostic[] {
  return validateWorkflowText(text, options).diagnostics;
}

function only(text: string, code: string, options = {}): Diagnostic {
  const diagnostics = diagnosticsOf(text, options);
  const matching = diagnostics.filter((d) => d.code === code);
  expect(matching, JSON.stringify(diagnostics, null, 2)).toHaveLength(1);
  return matching[0]!;
}

const LINEAR = `  begin: { type: start, next: work }
  work: { type: sync, operator: media/probe, next: done }
  done: { type: end }
`;

describe('validateWorkflow: valid files', () => {
  it('accepts a minimal linear workflow with no diagnostics', () => {
    const result = validateWorkflowText(workflow(LINEAR));
    expect(result.diagnostics).toEqual([]);
    expect(result.dag?.start).toBe('begin');
    expect(result.dag?.order).toEqual(['begin', 'work', 'done']);
  });

  it.each(readdirSync('workflows').filter((f) => /\.(ya?ml|json)$/.test(f)))(
    'accepts the example %s',
    (file) => {
      const result = validateWorkflowText(readFileSync(`workflows/${file}`, 'utf8'));
      expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(result.dag).toBeDefined();
    },
  );

  it('reads JSON files with positions', () => {
    const json = `{
  "name": "demo",
  "nodes": {
    "begin": { "type": "start", "next": "done" },
    "done": { "type": "end", "stauts": "failed" }
  }
}`;
    const d = only(json, 'SCHEMA');
    expect(d).toMatchObject({ node: 'done', line: 5 });
    expect(d.message).toContain("Did you mean 'status'?");
  });
});

describe('validateWorkflow: one test per diagnostic code', () => {
  it('PARSE_ERROR at the broken line', () => {
    const d = only('name: demo\nnodes:\n  begin: { type: start, next: [a\n', 'PARSE_ERROR');
    expect(d.line).toBeGreaterThanOrEqual(3);
    expect(d.severity).toBe('error');
  });

  it('SCHEMA for an unknown field, with a did-you-mean', () => {
    const d = only(
      workflow(
        `  begin: { type: start, next: work }\n  work: { type: sync, operator: media/probe, nxet: done }\n  done: { type: end }\n`,
      ),
      'SCHEMA',
    );
    expect(d).toMatchObject({ node: 'work', line: 4 });
    expect(d.message).toContain("Did you mean 'next'?");
  });

  it('SCHEMA for a wrong type names the field', () => {
    const d = only(
      workflow(LINEAR.replace('operator: media/probe,', 'operator: media/probe, timeout: soon,')),
      'SCHEMA',
    );
    expect(d).toMatchObject({ node: 'work', line: 4 });
    expect(d.message).toContain("'timeout'");
  });

  it('SCHEMA for a missing required field', () => {
    const d = only(workflow(LINEAR.replace('operator: media/probe, ', '')), 'SCHEMA');
    expect(d).toMatchObject({ node: 'work', line: 4 });
    expect(d.message).toContain("missing required field 'operator'");
  });

  it('SCHEMA for a duplicate field', () => {
    const d = only(
      workflow(
        `  begin: { type: start, next: done }\n  done:\n    type: end\n    status: failed\n    status: succeeded\n`,
      ),
      'SCHEMA',
    );
    expect(d).toMatchObject({ node: 'done', line: 7 });
  });

  it('SCHEMA for an unknown node type, with a did-you-mean', () => {
    const d = only(workflow(LINEAR.replace('type: sync', 'type: snyc')), 'SCHEMA');
    expect(d).toMatchObject({ node: 'work', line: 4 });
    expect(d.message).toContain("Did you mean 'sync'?");
  });

  it('INVALID_NAME for a node name with an underscore', () => {
    const d = only(workflow(LINEAR.replaceAll('work', 'my_work')), 'INVALID_NAME');
    expect(d).toMatchObject({ node: 'my_work', line: 4, column: 3 });
  });

  it('INVALID_NAME for a workflow name', () => {
    const d = only(workflow(LINEAR, 'name: Demo_Flow'), 'INVALID_NAME');
    expect(d).toMatchObject({ line: 1, column: 7 });
  });

  it('DUPLICATE_NODE at the second definition', () => {
    const d = only(
      workflow(`${LINEAR}  work: { type: sync, operator: media/slice, next: done }\n`),
      'DUPLICATE_NODE',
    );
    expect(d).toMatchObject({ node: 'work', line: 6 });
  });

  it('NO_START', () => {
    const d = only(
      workflow(`  work: { type: sync, operator: media/probe, next: done }\n  done: { type: end }\n`),
      'NO_START',
    );
    expect(d.line).toBe(2);
  });

  it('MULTIPLE_START names the second one', () => {
    const d = only(workflow(`${LINEAR}  again: { type: start, next: done }\n`), 'MULTIPLE_START');
    expect(d).toMatchObject({ node: 'again', line: 6 });
  });

  it('NO_END', () => {
    const d = only(
      workflow(`  begin: { type: start, next: work }\n  work: { type: sync, operator: media/probe }\n`),
      'NO_END',
    );
    expect(d.line).toBe(2);
  });

  it('UNKNOWN_NODE with a did-you-mean, at the reference', () => {
    const d = only(workflow(LINEAR.replace('next: done', 'next: dnoe')), 'UNKNOWN_NODE');
    expect(d).toMatchObject({ node: 'work', line: 4 });
    expect(d.message).toBe("Node 'work' names unknown next node 'dnoe'. Did you mean 'done'?");
  });

  it('UNKNOWN_NODE inside a fork list points at the item', () => {
    const d = only(
      workflow(
        `  begin: { type: start, next: work }\n  work:\n    type: sync\n    operator: a/b\n    next:\n      - done\n      - nowhere\n  done: { type: end }\n`,
      ),
      'UNKNOWN_NODE',
    );
    expect(d).toMatchObject({ node: 'work', line: 9, column: 9 });
  });

  it('CYCLE names the nodes', () => {
    const text = workflow(`  begin: { type: start, next: a }
  a: { type: sync, operator: x/a, next: b }
  b: { type: sync, operator: x/b, next: [a, done] }
  done: { type: end }
`);
    const d = only(text, 'CYCLE');
    expect(d.node).toBe('b');
    expect(d.line).toBe(5);
    expect(d.message).toContain("'a' -> 'b' -> 'a'");
  });

  it('UNREACHABLE is a warning and the workflow stays valid', () => {
    const text = workflow(`${LINEAR}  orphan: { type: sync, operator: x/y, next: done }\n`);
    const d = only(text, 'UNREACHABLE');
    expect(d).toMatchObject({ node: 'orphan', line: 6, severity: 'warning' });
    expect(validateWorkflowText(text).dag?.unreachable).toEqual(['orphan']);
  });

  it('DEAD_END for a node without next', () => {
    const d = only(
      workflow(
        `${LINEAR}  stuck: { type: sync, operator: x/y }\n  r:\n    type: router\n    routes: [{ when: input.a, next: stuck }]\n    default: done\n`
          .replace('begin: { type: start, next: work }', 'begin: { type: start, next: r }')
          .replace('  r:', '  r:'),
      ),
      'DEAD_END',
    );
    expect(d).toMatchObject({ node: 'stuck', line: 6 });
  });

  it('START_HAS_PREDECESSOR', () => {
    const d = only(workflow(LINEAR.replace('next: done', 'next: [done, begin]')), 'START_HAS_PREDECESSOR');
    expect(d).toMatchObject({ node: 'work', line: 4 });
  });

  it('END_HAS_NEXT at the next key', () => {
    const d = only(
      workflow(`  begin: { type: start, next: done }\n  done:\n    type: end\n    next: begin\n`),
      'END_HAS_NEXT',
    );
    expect(d).toMatchObject({ node: 'done', line: 6, column: 5 });
  });

  it('END_IN_FORK names the end that only one branch reaches', () => {
    const text = workflow(`  begin: { type: start, next: [a, b] }
  a: { type: sync, operator: x/a, next: early }
  b: { type: sync, operator: x/b, next: done }
  early: { type: end }
  done: { type: end }
`);
    const d = only(text, 'END_IN_FORK');
    expect(d.node).toMatch(/^(early|done)$/);
    expect(d.message).toContain("fork 'begin'");
  });

  it('ROUTER_NO_DEFAULT', () => {
    const d = only(
      workflow(
        `  begin: { type: start, next: r }\n  r:\n    type: router\n    routes: [{ when: input.ok, next: done }]\n  done: { type: end }\n`,
      ),
      'ROUTER_NO_DEFAULT',
    );
    expect(d).toMatchObject({ node: 'r', line: 4 });
  });

  it('INVALID_CONDITION with the column inside the file', () => {
    const text = workflow(`  begin: { type: start, next: r }
  r:
    type: router
    routes:
      - when: "input.size >> 3"
        next: done
    default: done
  done: { type: end }
`);
    const d = only(text, 'INVALID_CONDITION');
    expect(d.node).toBe('r');
    expect(d.line).toBe(7);
    // `when: "` puts the condition's first character at column 16; the bad token is a few columns in.
    expect(d.column).toBeGreaterThan(16);
    expect(d.column).toBeLessThanOrEqual(16 + 'input.size >> 3'.length);
  });

  it('UNSTRUCTURED_ROUTER when a route joins a path from outside', () => {
    const text = workflow(`  begin: { type: start, next: [r, side] }
  r:
    type: router
    routes: [{ when: input.fast, next: quick }]
    default: slow
  quick: { type: sync, operator: x/q, next: join }
  slow: { type: sync, operator: x/s, next: merge }
  side: { type: sync, operator: x/side, next: join }
  join: { type: sync, operator: x/j, next: merge }
  merge: { type: sync, operator: x/m, next: done }
  done: { type: end }
`);
    const d = only(text, 'UNSTRUCTURED_ROUTER');
    expect(d).toMatchObject({ node: 'r', line: 4 });
  });

  // A node inside a fork's branches that another path of a router (or onError) also reaches: the
  // fork is a Parallel state, which nothing outside it can jump into, and that path does not run
  // the fork. dag-spec §2: the router's routes must meet at one node before any join outside them.
  it('UNSTRUCTURED_ROUTER when another route reaches a node inside a fork of this one', () => {
    const text = workflow(`  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: "input.k == 0", next: f }], default: n }
  f: { type: sync, operator: x/f, next: [a, b] }
  a: { type: sync, operator: x/a, next: n }
  b: { type: sync, operator: x/b, next: done }
  n: { type: sync, operator: x/n, next: done }
  done: { type: end }
`);
    const d = only(text, 'UNSTRUCTURED_ROUTER');
    expect(d).toMatchObject({ node: 'r', line: 4, column: 3 });
    expect(d.message).toBe(
      "Node 'n' is inside fork 'f' (whose branches meet at 'done'), but the default of router 'r' reaches it without running 'f'. A Parallel branch cannot be entered from outside its fork: let the branches of 'f' meet before 'n' (point them at one node that leads to 'n'), or give the default of router 'r' a node of its own instead of 'n'.",
    );
  });

  it('UNSTRUCTURED_ROUTER when forks on two routes share a branch', () => {
    const text = workflow(`  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: "input.k == 0", next: f1 }], default: f2 }
  f1: { type: sync, operator: x/f, next: [shared, a] }
  f2: { type: sync, operator: x/f, next: [shared, b] }
  shared: { type: sync, operator: x/s, next: done }
  a: { type: sync, operator: x/a, next: done }
  b: { type: sync, operator: x/b, next: done }
  done: { type: end }
`);
    const d = only(text, 'UNSTRUCTURED_ROUTER');
    expect(d.message).toContain("Node 'shared' is inside fork 'f1'");
    expect(d.message).toContain("the default of router 'r' reaches it without running 'f1'");
  });

  it("UNSTRUCTURED_ROUTER when a node's onError path reaches a branch of its own fork", () => {
    const text = workflow(`  begin: { type: start, next: w }
  w: { type: sync, operator: x/w, next: [a, b], onError: fix }
  fix: { type: sync, operator: x/fix, next: a }
  a: { type: sync, operator: x/a, next: done }
  b: { type: sync, operator: x/b, next: done }
  done: { type: end }
`);
    const d = only(text, 'UNSTRUCTURED_ROUTER');
    expect(d.node).toBe('w');
    expect(d.message).toContain("Node 'a' is inside fork 'w'");
    expect(d.message).toContain("the onError path of node 'w' reaches it without running the fork of 'w'");
  });

  it('accepts routes that share nodes where no fork of theirs is entered from outside', () => {
    const texts = [
      // Both routes fork to the same nodes: one Parallel serves both.
      `  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: "input.k == 0", next: x }], default: y }
  x: { type: sync, operator: x/x, next: [a, b] }
  y: { type: sync, operator: x/y, next: [a, b] }
  a: { type: sync, operator: x/a, next: done }
  b: { type: sync, operator: x/b, next: done }
  done: { type: end }
`,
      // The fork's branches meet where the routes do.
      `  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: "input.k == 0", next: f }], default: n }
  f: { type: sync, operator: x/f, next: [a, b] }
  a: { type: sync, operator: x/a, next: n }
  b: { type: sync, operator: x/b, next: n }
  n: { type: sync, operator: x/n, next: done }
  done: { type: end }
`,
      // Two of three routes share a node, with no fork between.
      `  begin: { type: start, next: r }
  r:
    type: router
    routes: [{ when: "input.k == 0", next: x }, { when: "input.k == 1", next: y }]
    default: z
  x: { type: sync, operator: x/x, next: y }
  y: { type: sync, operator: x/y, next: done }
  z: { type: sync, operator: x/z, next: done }
  done: { type: end }
`,
      // Forks crossing inside one route (not series-parallel, but no other route enters them).
      `  begin: { type: start, next: r }
  r: { type: router, routes: [{ when: "input.k == 0", next: s }], default: z }
  s: { type: sync, operator: x/s, next: [a, b] }
  a: { type: sync, operator: x/a, next: [c, d] }
  b: { type: sync, operator: x/b, next: d }
  c: { type: sync, operator: x/c, next: e }
  d: { type: sync, operator: x/d, next: e }
  e: { type: sync, operator: x/e, next: done }
  z: { type: sync, operator: x/z, next: done }
  done: { type: end }
`,
    ];
    for (const text of texts) expect(diagnosticsOf(workflow(text))).toEqual([]);
  });

  it('INVALID_PATH for a reference to a node that may not have run', () => {
    const text = workflow(`  begin: { type: start, next: r }
  r:
    type: router
    routes: [{ when: input.fast, next: quick }]
    default: slow
  quick: { type: sync, operator: x/q, next: merge }
  slow: { type: sync, operator: x/s, next: merge }
  merge: { type: sync, operator: x/m, input: { q: $.nodes.quick.uri }, next: done }
  done: { type: end }
`);
    const d = only(text, 'INVALID_PATH');
    expect(d).toMatchObject({ node: 'merge', line: 10 });
    expect(d.message).toContain("'quick' has not run on every path");
  });

  it('INVALID_PATH for a misspelt root, with a did-you-mean', () => {
    const d = only(
      workflow(
        LINEAR.replace('operator: media/probe,', 'operator: media/probe, input: { s: $.inptu.source },'),
      ),
      'INVALID_PATH',
    );
    expect(d).toMatchObject({ node: 'work', line: 4 });
    expect(d.message).toContain("Did you mean 'input'?");
  });

  it('UNKNOWN_OPERATOR only when operators are checked', () => {
    expect(diagnosticsOf(workflow(LINEAR))).toEqual([]);
    const d = only(workflow(LINEAR), 'UNKNOWN_OPERATOR', { operatorExists: () => false });
    expect(d).toMatchObject({ node: 'work', line: 4 });
  });

  it('INVALID_TARGET for a callback target', () => {
    const text = workflow(`  begin: { type: start, next: tell }
  tell:
    type: callback
    target: { kind: webhook, url: "http://example.test" }
    next: done
  done: { type: end }
`);
    const d = only(text, 'INVALID_TARGET');
    expect(d).toMatchObject({ node: 'tell', line: 6 });
    expect(d.message).toContain('eventbridge, sqs and http');
  });

  it('INVALID_TARGET for a non-http URL', () => {
    const text = workflow(`  begin: { type: start, next: tell }
  tell:
    type: callback
    target: { kind: http, url: "ftp://example.test/x" }
    next: done
  done: { type: end }
`);
    expect(only(text, 'INVALID_TARGET')).toMatchObject({ node: 'tell', line: 6 });
  });
});

describe('validateWorkflow: more rules', () => {
  it('collects every diagnostic, not just the first', () => {
    const text = workflow(`  begin: { type: start, next: wrok }
  work: { type: sync, operator: media/probe, next: done, colour: red }
  done: { type: end, next: begin }
`);
    const codes = diagnosticsOf(text).map((d) => d.code);
    expect(codes).toEqual(expect.arrayContaining(['UNKNOWN_NODE', 'SCHEMA', 'END_HAS_NEXT']));
  });

  it('an async node via lambda needs an operator', () => {
    const d = only(
      workflow(LINEAR.replace('type: sync, operator: media/probe', 'type: async, via: lambda')),
      'SCHEMA',
    );
    expect(d.message).toContain('needs an `operator`');
  });

  it('an async node via queue without operator is external work', () => {
    expect(
      diagnosticsOf(workflow(LINEAR.replace('type: sync, operator: media/probe', 'type: async, via: queue'))),
    ).toEqual([]);
  });

  it('a script that does not parse is reported at its source', () => {
    const text = workflow(`  begin: { type: start, next: s }
  s:
    type: script
    language: javascript
    source: "return {"
    next: done
  done: { type: end }
`);
    const d = only(text, 'SCHEMA');
    expect(d).toMatchObject({ node: 's', line: 7 });
  });

  it('a reference to a node after its onError path is INVALID_PATH', () => {
    const text = workflow(`  begin: { type: start, next: risky }
  risky: { type: sync, operator: x/r, onError: recover, next: after }
  recover: { type: sync, operator: x/fix, input: { out: $.nodes.risky }, next: after }
  after: { type: sync, operator: x/a, next: done }
  done: { type: end }
`);
    const d = only(text, 'INVALID_PATH');
    expect(d).toMatchObject({ node: 'recover', line: 5 });
  });

  it('parallel item templates may use $.item and $.order, other nodes may not', () => {
    const text = workflow(`  begin: { type: start, next: each }
  each:
    type: parallel
    items: $.input.files
    node: { type: sync, operator: x/y, input: { file: $.item, n: $.order } }
    next: after
  after: { type: sync, operator: x/z, input: { f: $.item }, next: done }
  done: { type: end }
`);
    const d = only(text, 'INVALID_PATH');
    expect(d).toMatchObject({ node: 'after', line: 9 });
  });

  it('params must be declared to be referenced', () => {
    const text = workflow(
      LINEAR.replace('operator: media/probe,', 'operator: media/probe, input: { q: $.params.quality },'),
      'name: demo\nparams: { qualty: 1 }',
    );
    const d = only(text, 'INVALID_PATH');
    expect(d.message).toContain("Did you mean 'qualty'?");
    expect(diagnosticsOf(text, { params: { quality: 2 } }).filter((x) => x.code === 'INVALID_PATH')).toEqual(
      [],
    );
  });

  it('a non-series-parallel fork/join DAG is valid', () => {
    const text = workflow(`  s: { type: start, next: [a, b] }
  a: { type: sync, operator: x/a, next: [c, d] }
  b: { type: sync, operator: x/b, next: d }
  c: { type: sync, operator: x/c, next: e }
  d: { type: sync, operator: x/d, next: e }
  e: { type: sync, operator: x/e, next: done }
  done: { type: end }
`);
    expect(diagnosticsOf(text)).toEqual([]);
  });

  it('router branches may end separately', () => {
    const text = workflow(`  begin: { type: start, next: r }
  r:
    type: router
    routes: [{ when: "input.n > 1", next: big }]
    default: small
  big: { type: sync, operator: x/b, next: done }
  small: { type: end, status: failed, error: TooSmall }
  done: { type: end }
`);
    expect(diagnosticsOf(text)).toEqual([]);
  });

  it('a non-mapping document is a SCHEMA error, not a crash', () => {
    expect(diagnosticsOf('- just\n- a list\n').map((d) => d.code)).toEqual(['SCHEMA']);
    expect(diagnosticsOf('').map((d) => d.code)).toEqual(['SCHEMA']);
  });

  it('values that do not convert to text (objects with a toString field) give diagnostics, not a crash', () => {
    const text = JSON.stringify({
      name: { toString: [] },
      nodes: {
        begin: { type: 'start', next: 'a' },
        a: { type: { toString: [] }, next: [[{ toString: 1 }]] },
        done: { type: 'end' },
      },
    });
    const codes = diagnosticsOf(text).map((d) => d.code);
    expect(codes).toContain('SCHEMA');
  });
});
