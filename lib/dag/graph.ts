// Graph algorithms over node names. Plain functions on adjacency maps, shared by the validator and
// the planner.

export type Adjacency = ReadonlyMap<string, readonly string[]>;

export function reverseAdjacency(nodes: Iterable<string>, successors: Adjacency): Map<string, string[]> {
  const predecessors = new Map<string, string[]>();
  for (const node of nodes) predecessors.set(node, []);
  for (const [from, targets] of successors) {
    for (const to of targets) predecessors.get(to)?.push(from);
  }
  return predecessors;
}

export function reachableFrom(roots: Iterable<string>, successors: Adjacency): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const next of successors.get(node) ?? []) if (!seen.has(next)) stack.push(next);
  }
  return seen;
}

/** Nodes reachable from `roots` through nodes that `keep` accepts (a rejected node is not entered). */
export function reachableWithin(
  roots: readonly string[],
  succ: ReadonlyMap<string, readonly string[]>,
  keep: (n: string) => boolean,
): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!keep(node) || seen.has(node)) continue;
    seen.add(node);
    stack.push(...(succ.get(node) ?? []));
  }
  return seen;
}

/**
 * Strongly connected components that form cycles (size > 1, or a node with an edge to itself), each
 * as its nodes in the order a walk along the cycle meets them. Tarjan's algorithm, iterative so deep
 * graphs cannot overflow the stack.
 */
export function findCycles(nodes: readonly string[], successors: Adjacency): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;

  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = successors.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++]!;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = (successors.get(frame.node) ?? []).includes(frame.node);
        if (component.length > 1 || selfLoop) cycles.push(orderAlongCycle(component, successors));
      }
    }
  }
  return cycles;
}

function orderAlongCycle(component: string[], successors: Adjacency): string[] {
  const members = new Set(component);
  const first = [...component].sort()[0]!;
  const ordered = [first];
  const visited = new Set([first]);
  let current = first;
  for (;;) {
    const next = (successors.get(current) ?? []).find((n) => members.has(n) && !visited.has(n));
    if (next === undefined) break;
    ordered.push(next);
    visited.add(next);
    current = next;
  }
  return ordered;
}

/** Kahn's algorithm over `nodes` (each once); ties broken by their order, so the result is deterministic. */
export function topologicalOrder(nodes: readonly string[], successors: Adjacency): string[] {
  // In-degrees by index rather than in a Map: one lookup per edge instead of three.
  const index = new Map<string, number>();
  for (let i = 0; i < nodes.length; i++) index.set(nodes[i]!, i);
  const indegree = new Int32Array(nodes.length);
  for (const node of nodes) {
    for (const next of successors.get(node) ?? []) {
      const j = index.get(next);
      if (j !== undefined) indegree[j]!++;
    }
  }
  const order = nodes.filter((_, i) => indegree[i] === 0);
  for (let i = 0; i < order.length; i++) {
    for (const next of successors.get(order[i]!) ?? []) {
      const j = index.get(next);
      if (j !== undefined && --indegree[j]! === 0) order.push(next);
    }
  }
  return order;
}

/**
 * Immediate dominators of an acyclic graph (Cooper, Harvey and Kennedy's intersection over a
 * topological order): the idom of the entry is itself; nodes not reachable from it are absent.
 */
export function immediateDominators(
  order: readonly string[],
  predecessors: Adjacency,
  entry: string,
): Map<string, string> {
  const position = new Map(order.map((n, i) => [n, i]));
  const idom = new Map<string, string>([[entry, entry]]);
  for (const node of order) {
    if (node === entry) continue;
    let current: string | undefined;
    for (const pred of predecessors.get(node) ?? []) {
      if (!idom.has(pred)) continue;
      current = current === undefined ? pred : intersect(current, pred, idom, position);
    }
    if (current !== undefined) idom.set(node, current);
  }
  return idom;
}

function intersect(a: string, b: string, idom: Map<string, string>, position: Map<string, number>): string {
  let x = a;
  let y = b;
  while (x !== y) {
    while (position.get(x)! > position.get(y)!) x = idom.get(x)!;
    while (position.get(y)! > position.get(x)!) y = idom.get(y)!;
  }
  return x;
}

/** Whether `dominator` is on every path from the entry to `node` (a node dominates itself). */
export function dominates(dominator: string, node: string, idom: ReadonlyMap<string, string>): boolean {
  let current: string | undefined = node;
  while (current !== undefined) {
    if (current === dominator) return true;
    const parent = idom.get(current);
    if (parent === current) return false;
    current = parent;
  }
  return false;
}

export const VIRTUAL_EXIT = '\u0000exit';

/**
 * Immediate post-dominators of an acyclic graph, with every sink joined to a virtual exit
 * (`VIRTUAL_EXIT`): a node whose paths meet again only at the end of the task has the virtual exit.
 * `order` is a topological order of the nodes, each once.
 */
export function immediatePostDominators(
  order: readonly string[],
  successors: Adjacency,
): Map<string, string> {
  // immediateDominators over the reversed graph, with positions as indexes into typed arrays:
  // position 0 is the virtual exit, order[i] is at n - i (the reversed order).
  const n = order.length;
  const nameAt = (p: number) => (p === 0 ? VIRTUAL_EXIT : order[n - p]!);
  const position = new Map<string, number>();
  for (let i = n - 1; i >= 0; i--) position.set(order[i]!, n - i);
  const idom = new Int32Array(n + 1).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    let x = a;
    let y = b;
    while (x !== y) {
      while (x > y) x = idom[x]!;
      while (y > x) y = idom[y]!;
    }
    return x;
  };
  for (let p = 1; p <= n; p++) {
    const targets = successors.get(nameAt(p)) ?? [];
    let current = targets.length === 0 ? 0 : -1;
    for (const target of targets) {
      const q = position.get(target);
      if (q === undefined || idom[q] === -1) continue;
      current = current === -1 ? q : intersect(current, q);
    }
    if (current !== -1) idom[p] = current;
  }
  const result = new Map<string, string>([[VIRTUAL_EXIT, VIRTUAL_EXIT]]);
  for (let p = 1; p <= n; p++) if (idom[p] !== -1) result.set(nameAt(p), nameAt(idom[p]!));
  return result;
}

/**
 * Where paths from all `targets` meet again: their nearest common post-dominator, or `VIRTUAL_EXIT`
 * when they meet only at the end of the task.
 */
export function commonPostDominator(targets: readonly string[], ipdom: ReadonlyMap<string, string>): string {
  const chain = (from: string) => {
    const list: string[] = [];
    for (let n: string | undefined = from; n !== undefined; n = n === ipdom.get(n) ? undefined : ipdom.get(n))
      list.push(n);
    return list;
  };
  let common = chain(targets[0]!);
  for (const target of targets.slice(1)) {
    const theirs = new Set(chain(target));
    common = common.filter((n) => theirs.has(n));
  }
  return common[0] ?? VIRTUAL_EXIT;
}

/**
 * Each node's depth in the post-dominator tree (the virtual exit is 0), so that
 * `nearestCommonPostDominator` climbs only as far as the branches' meeting point instead of walking
 * every chain to the exit (which made a chain of n forks cost n² steps).
 */
export function postDominatorDepths(
  order: readonly string[],
  ipdom: ReadonlyMap<string, string>,
): Map<string, number> {
  const depth = new Map<string, number>([[VIRTUAL_EXIT, 0]]);
  // A node's post-dominator comes after it in topological order, so walking backwards meets it first.
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    const parent = ipdom.get(node);
    const parentDepth = parent === undefined ? undefined : depth.get(parent);
    if (parentDepth !== undefined) depth.set(node, parentDepth + 1);
  }
  return depth;
}

/**
 * `commonPostDominator`, answered from the tree's depths: the same node for the same targets.
 * Targets outside the tree (that do not lead to the exit) take the general answer.
 */
export function nearestCommonPostDominator(
  targets: readonly string[],
  ipdom: ReadonlyMap<string, string>,
  depth: ReadonlyMap<string, number>,
): string {
  if (targets.some((t) => !depth.has(t))) return commonPostDominator(targets, ipdom);
  let common = targets[0]!;
  let commonDepth = depth.get(common)!;
  for (let i = 1; i < targets.length; i++) {
    let other = targets[i]!;
    let otherDepth = depth.get(other)!;
    for (; commonDepth > otherDepth; commonDepth--) common = ipdom.get(common)!;
    for (; otherDepth > commonDepth; otherDepth--) other = ipdom.get(other)!;
    while (common !== other) {
      common = ipdom.get(common)!;
      other = ipdom.get(other)!;
      commonDepth--;
    }
  }
  return common;
}

/**
 * Whether `to` can be reached from `from` in an acyclic graph. The search runs backwards from `to`
 * and enters only nodes placed after `from` in a topological order (`position`), as every path from
 * `from` goes through such nodes: a query costs the part of the graph between the two, not all of
 * it. Both ends must have a position (a node without one is not in the order: false).
 */
export function reachesInOrder(
  from: string,
  to: string,
  predecessors: Adjacency,
  position: ReadonlyMap<string, number>,
): boolean {
  const floor = position.get(from);
  const top = position.get(to);
  if (floor === undefined || top === undefined) return false;
  if (from === to) return true;
  if (top < floor) return false;
  const seen = new Set<string>([to]);
  const stack = [to];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const pred of predecessors.get(node) ?? []) {
      if (pred === from) return true;
      const at = position.get(pred);
      if (at === undefined || at <= floor || seen.has(pred)) continue;
      seen.add(pred);
      stack.push(pred);
    }
  }
  return false;
}
