// fast-check generators for the compiler's fuzzing: valid workflows that use every node type and most
// optional fields (the planned runs of planned-runs.ts, dressed up), and mutations that break them in
// random places.
import fc from 'fast-check';
import type { NodeObject, WorkflowObject } from './arbitrary-dags.js';
import { arbitraryPlannedRun } from './planned-runs.js';

interface Dressing {
  readonly seeds: readonly number[];
  readonly description: string | undefined;
  readonly timeout: number | undefined;
  readonly defaults: Record<string, unknown> | undefined;
  readonly maxItems: number;
}

const dressingArbitrary: fc.Arbitrary<Dressing> = fc.record({
  seeds: fc.array(fc.nat({ max: 10_000 }), { minLength: 8, maxLength: 8 }),
  description: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  timeout: fc.option(fc.integer({ min: 1, max: 31_536_000 }), { nil: undefined }),
  defaults: fc.option(
    fc.record(
      {
        timeout: fc.integer({ min: 1, max: 3600 }),
        retry: fc.record(
          {
            maxAttempts: fc.integer({ min: 1, max: 100 }),
            interval: fc.integer({ min: 1, max: 86_400 }),
            backoffRate: fc.double({ min: 1, max: 100, noNaN: true }),
            maxDelay: fc.integer({ min: 1, max: 31_536_000 }),
          },
          { requiredKeys: ['maxAttempts'] },
        ),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  ),
  // Large enough, now and then, that the planner picks a Distributed Map.
  maxItems: fc.constantFrom(10, 1000, 100_000),
});

/** A valid workflow with every node type and many optional fields. */
export function arbitraryRichWorkflow(): fc.Arbitrary<WorkflowObject> {
  return fc
    .tuple(arbitraryPlannedRun({ maxNodes: 20 }), dressingArbitrary)
    .map(([run, dressing]) => dress(run.workflow, dressing));
}

function dress(plain: WorkflowObject, dressing: Dressing): WorkflowObject {
  const doc = structuredClone(plain);
  const seed = (i: number) => dressing.seeds[i % dressing.seeds.length]! + i;
  const properties: Record<string, unknown> = { x: { type: 'number' } };
  Object.entries(doc.nodes).forEach(([name, node], i) => {
    const r = seed(i);
    dressNode(node, r);
    if (node.type === 'parallel') {
      properties[name] = { type: 'array', maxItems: dressing.maxItems };
      const item = node.node as NodeObject;
      if (r % 6 === 0) node.node = { type: 'script', language: 'jsonata', source: 'item * 2' };
      else dressNode(item, r >> 1);
      if (r % 5 === 0) node.mode = 'distributed';
      if (r % 5 === 1) node.mode = 'inline';
    }
  });
  return {
    ...doc,
    ...(dressing.description === undefined ? {} : { description: dressing.description }),
    ...(dressing.timeout === undefined ? {} : { timeout: dressing.timeout }),
    ...(dressing.defaults === undefined ? {} : { defaults: dressing.defaults }),
    params: { ...((doc.params as Record<string, unknown> | undefined) ?? {}), p: 'param' },
    input: { type: 'object', properties },
  };
}

function dressNode(node: NodeObject, r: number): void {
  const operatorNode = node.type === 'sync' || node.type === 'async' || node.type === 'script';
  if (operatorNode && r % 5 === 0) node.estimate = (r % 50) / 10;
  if (operatorNode && r % 7 === 0) node.fuse = false;
  if ((node.type === 'sync' || node.type === 'async') && r % 3 === 0) node.timeout = 60 + (r % 600);
  if ((node.type === 'sync' || node.type === 'async') && r % 4 === 1)
    node.input = {
      x: '$.input.x',
      list: ['$.task.id', 'literal', 3, true],
      literals: [1, 'two', [3]],
      deep: { p: '$.params.p', none: null },
      whole: '$',
      quoted: "$.input['x']",
    };
  if (node.type === 'async') {
    if (r % 4 === 0) {
      node.via = 'queue';
      node.queue = `queue-${r % 3}`;
      if (r % 8 === 0) delete node.operator; // work done outside the engine
    }
    if (r % 3 === 1) {
      node.timeout = 600;
      node.heartbeat = 30;
    }
  }
  if (node.type === 'script' && r % 2 === 0) {
    node.language = 'jsonata';
    node.source = '{ "v": input.x, "id": task.id }';
  }
  if (node.type === 'callback') {
    const targets = [
      { kind: 'eventbridge', detailType: 'Rich Done', source: 'rich.app' },
      { kind: 'sqs', queue: 'results' },
      { kind: 'http', url: 'https://example.com/hook', method: 'PUT' },
    ];
    node.target = targets[r % targets.length];
    node.payload = { id: '$.task.id', all: '$.nodes', fixed: [1, 'two'] };
  }
  if (node.type === 'end') {
    if (r % 3 === 0) node.output = { id: '$.task.id', nodes: '$.nodes' };
    if (r % 3 === 1) node.output = '$.nodes';
  }
  if (node.type === 'parallel' && r % 2 === 0) node.maxConcurrency = r % 4;
}

/** Values a mutation puts in place of another: junk, and near misses of what the field wants. */
const replacementArbitrary = (names: readonly string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(...names),
    fc.constantFrom(
      '$',
      '$.',
      '$..x',
      '$.nodes',
      '$.nodes.missing',
      '$.item',
      '$.errors.x',
      '$[0]',
      'input.x == 1',
      '',
      -1,
      0,
      1.5,
      1e12,
      'distributed',
      'queue',
      'javascript',
      'return 1;',
      'start',
      'end',
      'router',
      'parallel',
      [],
      {},
      ['done', 'done'],
    ),
  );

export type Mutation =
  | { readonly kind: 'replace'; readonly pick: number; readonly value: unknown }
  | { readonly kind: 'delete'; readonly pick: number }
  | { readonly kind: 'rename'; readonly pick: number; readonly name: string };

export function arbitraryMutations(names: readonly string[]): fc.Arbitrary<Mutation[]> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('replace' as const),
        pick: fc.nat(),
        value: replacementArbitrary(names),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('rename' as const),
        pick: fc.nat(),
        name: fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 8 })),
      }),
    },
  );
  return fc.array(mutation, { minLength: 1, maxLength: 3 });
}

type Path = readonly (string | number)[];

/** Every path to a value in the document (the root excluded), objects' keys and arrays' items. */
function allPaths(value: unknown, at: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const children: [string | number, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value);
  return children.flatMap(([key, child]) => [[...at, key], ...allPaths(child, [...at, key])]);
}

/** The document with the mutations applied, one after another (each on a path that exists then). */
export function mutate(doc: WorkflowObject, mutations: readonly Mutation[]): unknown {
  const current: unknown = structuredClone(doc);
  for (const mutation of mutations) {
    const paths = allPaths(current);
    if (paths.length === 0) return current;
    const path = paths[mutation.pick % paths.length]!;
    const parent = path
      .slice(0, -1)
      .reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], current);
    const key = path[path.length - 1]!;
    const container = parent as Record<string | number, unknown>;
    switch (mutation.kind) {
      case 'replace':
        container[key] = structuredClone(mutation.value);
        break;
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete container[key];
        break;
      case 'rename': {
        if (Array.isArray(parent)) break;
        // Rebuilt in order, so the renamed key keeps its place (a node keeps its position).
        const entries = Object.entries(container).map(([k, v]) => [k === key ? mutation.name : k, v]);
        for (const k of Object.keys(container)) delete container[k];
        Object.assign(container, Object.fromEntries(entries));
        break;
      }
    }
  }
  return current;
}
