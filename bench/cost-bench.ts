// State transitions per task (what Step Functions bills), optimised vs --no-optimize for every example,
// and slice-transcode against a hand-written ASL. Counted by running each definition on
// aws-local-stepfunctions with the same stub results per operator and the same input.
//   npx tsx bench/cost-bench.ts
import '../lib/local/polyfill.js';
import { readdirSync, readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import { compileWorkflowText } from '../lib/compiler/compile.js';
import { allStates } from '../lib/compiler/passes.js';

/** What each operator returns in the stubs: enough for every router and template to resolve. */
const STUB_OUTPUTS: Record<string, unknown> = {
  'media/probe': { durationSec: 40, width: 640, height: 360, audioCodec: 'aac' },
  'media/slice': { segments: [0, 1, 2, 3].map((index) => ({ index, uri: `file:///seg-${index}.mp4` })) },
  'media/transcode': { uri: 'file:///part.mp4' },
  'media/merge': { uri: 'file:///merged.mp4', durationSec: 40 },
  'media/transcode-whole': { uri: 'file:///whole.mp4' },
  'analysis/keyframes': { times: [0, 2, 4] },
  'analysis/loudness': { windows: [] },
  'analysis/thumbnails': { uris: [] },
  'analysis/highlights': { moments: [] },
};

const INPUT = { source: 'file:///sample.mp4', channel: 'news' };

async function countTransitions(
  definition: object,
  handlers: Record<string, (input: unknown) => unknown>,
  input: unknown,
): Promise<number> {
  const machine = new StateMachine(definition as never);
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
    context: { Task: { Token: 'bench' }, State: { RetryCount: 0 } },
  });
  let transitions = 0;
  const counting = (async () => {
    for await (const event of execution.eventLogs)
      if ((event as { type: string }).type === 'StateEntered') transitions++;
  })();
  await execution.result;
  await counting;
  return transitions;
}

/** Stub handlers for every Task state of a compiled workflow. */
function stubHandlers(
  compiled: ReturnType<typeof compileWorkflowText>,
): Record<string, (input: unknown) => unknown> {
  const handlers: Record<string, (input: unknown) => unknown> = {};
  const plan = compiled.plan!;
  for (const state of allStates(plan)) {
    if (state.kind === 'task' && state.nodes.length > 1) {
      // A fused chain returns the context's nodes with each node's output added.
      handlers[state.name] = (input) => {
        const nodes = { ...(input as { context: { nodes: object } }).context.nodes } as Record<
          string,
          unknown
        >;
        for (const name of state.nodes) {
          const node = plan.dag.nodes.get(name)!;
          nodes[name] = node.type === 'sync' ? (STUB_OUTPUTS[node.operator] ?? {}) : {};
        }
        return nodes;
      };
    } else if (state.kind === 'task') {
      const node = plan.dag.nodes.get(state.nodes[0]!)!;
      handlers[state.name] = () => {
        if (node.type === 'script') return { tier: 'sd', title: 'x' };
        if (node.type === 'async')
          return node.via === 'queue' && !node.operator
            ? { approved: true, reviewer: 'ana' }
            : (STUB_OUTPUTS[node.operator ?? ''] ?? {});
        if (node.type === 'sync') return STUB_OUTPUTS[node.operator] ?? {};
        return {};
      };
    } else if (state.kind === 'map') {
      const node = plan.dag.nodes.get(state.node)!;
      const operator = node.type === 'parallel' && 'operator' in node.node ? node.node.operator : undefined;
      handlers[state.itemState] = () => STUB_OUTPUTS[operator ?? ''] ?? {};
      if (state.toleranceState)
        handlers[state.toleranceState] = (input) => (input as { items: unknown[] }).items;
    }
  }
  return handlers;
}

const rows: string[] = [];
for (const file of readdirSync('workflows')
  .filter((f) => f.endsWith('.yaml'))
  .sort()) {
  const text = readFileSync(`workflows/${file}`, 'utf8');
  const counts: number[] = [];
  for (const optimize of [true, false]) {
    const compiled = compileWorkflowText(text, { optimize });
    const context = {
      task: { id: 'bench', workflow: compiled.dag!.workflow.name },
      input: INPUT,
      params: compiled.plan!.params,
      nodes: {},
      errors: {},
    };
    counts.push(await countTransitions(compiled.asl!, stubHandlers(compiled), context));
  }
  rows.push(`| ${file} | ${counts[0]} | ${counts[1]} |`);
}

const hand = JSON.parse(readFileSync('bench/slice-transcode.hand.asl.json', 'utf8'));
const handTransitions = await countTransitions(
  hand,
  {
    Probe: () => STUB_OUTPUTS['media/probe'],
    Slice: () => STUB_OUTPUTS['media/slice'],
    TranscodeSegment: () => STUB_OUTPUTS['media/transcode'],
    Merge: () => STUB_OUTPUTS['media/merge'],
    TranscodeWhole: () => STUB_OUTPUTS['media/transcode-whole'],
    Notify: () => ({}),
  },
  { input: INPUT },
);

console.log('state transitions per task (same stub results, input', JSON.stringify(INPUT), ')');
console.log('| workflow | optimised | --no-optimize |');
console.log('| --- | ---: | ---: |');
for (const row of rows) console.log(row);
console.log(
  `| slice-transcode, hand-written ASL (bench/slice-transcode.hand.asl.json) | ${handTransitions} | |`,
);
