// The benchmarks' workflow: a chain of `count` sync nodes n1..n<count>, each running bench/noop.
export function noopChainWorkflow(
  name: string,
  count: number,
): { readonly text: string; readonly nodes: string[] } {
  const nodes = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const text = [
    `name: ${name}`,
    'nodes:',
    '  begin: { type: start, next: n1 }',
    ...nodes.map(
      (node, i) => `  ${node}: { type: sync, operator: bench/noop, next: ${nodes[i + 1] ?? 'done'} }`,
    ),
    '  done: { type: end }',
    '',
  ].join('\n');
  return { text, nodes };
}
