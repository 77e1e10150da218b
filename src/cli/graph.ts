import { HendrixError } from '../errors/hendrix-error.js';
import type { Graph } from '../runtime/graph-types.js';
import { createPlan } from '../runtime/plan.js';
import { MANIFEST_OPTIONS, parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import { manifestArgs, type CliIO } from './io.js';

/** Renders a graph as text, Mermaid or Graphviz dot; `kinds` labels each node. */
export function renderGraph(graph: Graph, kinds: (name: string) => string, format: 'text' | 'mermaid' | 'dot'): string {
  const lines: string[] = [];
  if (format === 'mermaid') {
    lines.push('graph TD');
    for (const n of graph.nodes) lines.push(`  ${n}["${n} (${kinds(n)})"]`);
    for (const e of graph.edges) lines.push(`  ${e.from} -->|${e.via}| ${e.to}`);
  } else if (format === 'dot') {
    lines.push('digraph hendrix {', '  rankdir=LR;');
    for (const n of graph.nodes) lines.push(`  "${n}" [label="${n}\\n(${kinds(n)})"];`);
    for (const e of graph.edges) lines.push(`  "${e.from}" -> "${e.to}" [label="${e.via}"];`);
    lines.push('}');
  } else {
    const width = Math.max(...graph.nodes.map((n) => n.length), 0);
    for (const n of graph.order) {
      const deps = graph.edges.filter((e) => e.from === n).map((e) => `${e.to} (${e.via})`);
      lines.push(`${n.padEnd(width)}  ${kinds(n)}${deps.length ? `  → ${deps.join(', ')}` : ''}`);
    }
    lines.push('', `start order: ${graph.order.join(' → ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `hendrix graph`: prints the DAG and the start order. */
export async function graphCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs('graph', argv, { ...MANIFEST_OPTIONS, format: { type: 'string' } });
  if (values.help) return io.stdout.write(`${HELP.graph}\n`), 0;
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'mermaid' && format !== 'dot') {
    throw new HendrixError('HX_ERR_USAGE', { message: `graph: unknown --format ${format}`, hint: 'use text, mermaid or dot' });
  }
  const args = manifestArgs(io, values);
  const { resolved, graph } = await createPlan(args.files, { ...args.options, importModules: false });
  io.stdout.write(renderGraph(graph, (n) => resolved.manifest.services[n]?.kind ?? '?', format));
  return 0;
}
