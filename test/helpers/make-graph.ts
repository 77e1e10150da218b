import type { Graph, GraphEdge } from '../../src/runtime/graph-types.js';

/**
 * A Graph built from `{ name: [dependencies] }`, for tests that must not depend on the real
 * graph builder. Keys are the manifest order; the start order is topological with ties in
 * manifest order. Throws on unknown names and cycles.
 */
export function makeGraph(spec: Record<string, readonly string[]>): Graph {
  const nodes = Object.keys(spec);
  const edges: GraphEdge[] = [];
  for (const [from, deps] of Object.entries(spec)) {
    for (const to of new Set(deps)) {
      if (!(to in spec)) throw new Error(`makeGraph: ${from} depends on unknown ${to}`);
      edges.push({ from, to, via: 'dependsOn', location: undefined });
    }
  }
  const dependencies = (name: string): string[] => edges.filter((e) => e.from === name).map((e) => e.to);
  const dependents = (name: string): string[] => edges.filter((e) => e.to === name).map((e) => e.from);

  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < nodes.length) {
    const next = nodes.find((n) => !placed.has(n) && dependencies(n).every((d) => placed.has(d)));
    if (next === undefined) throw new Error('makeGraph: cycle');
    order.push(next);
    placed.add(next);
  }

  return {
    nodes,
    edges,
    order,
    dependencies,
    dependents,
    closure(names) {
      const wanted = new Set<string>();
      const visit = (name: string): void => {
        if (wanted.has(name)) return;
        wanted.add(name);
        dependencies(name).forEach(visit);
      };
      names.forEach(visit);
      return order.filter((n) => wanted.has(n));
    },
  };
}
