import { HendrixError, formatPath, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import { didYouMean } from '../errors/suggest.js';
import type { Reference, ServiceKind } from '../kinds/contract.js';
import type { Graph, GraphEdge } from './graph-types.js';

/** What the graph is built from: the validated services, their kinds, and where values came from. */
export interface GraphInput {
  readonly manifest: { readonly services: Readonly<Record<string, Record<string, unknown>>> };
  readonly kinds: ReadonlyMap<string, ServiceKind>;
  readonly provenance: { locate(path: readonly PathSegment[]): SourceLocation | undefined };
}

/** A graph and the problems found building it (unknown references, cycles). */
export interface GraphAnalysis {
  readonly graph: Graph;
  readonly errors: HendrixError[];
}

/** The references of one service's config: the kind's reference fields or function. */
export function referencesOf(kind: ServiceKind | undefined, config: Record<string, unknown>): Reference[] {
  const refs = kind?.references;
  if (typeof refs === 'function') return refs(config as never);
  const out: Reference[] = [];
  for (const entry of refs ?? []) {
    const { field, ...typed } = typeof entry === 'string' ? { field: entry } : entry;
    const value = config[field];
    if (typeof value === 'string') out.push({ path: [field], target: value, ...typed });
    else if (Array.isArray(value)) value.forEach((v, i) => typeof v === 'string' && out.push({ path: [field, i], target: v, ...typed }));
  }
  return out;
}

function locatedAt(input: GraphInput, path: readonly PathSegment[]): { location?: SourceLocation } {
  const location = input.provenance.locate(path);
  return location ? { location } : {};
}

function edgeText(e: GraphEdge): string {
  return `${e.from} → ${e.to} (${e.via})`;
}

/** Topological order, dependencies first; among ready services the earliest in the manifest goes first. */
function topoOrder(nodes: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[] {
  const remaining = new Map(nodes.map((n) => [n, new Set(deps.get(n) ?? [])]));
  const order: string[] = [];
  while (remaining.size) {
    const next = nodes.find((n) => remaining.get(n)?.size === 0);
    if (next === undefined) break;
    order.push(next);
    remaining.delete(next);
    for (const pending of remaining.values()) pending.delete(next);
  }
  // services on a cycle never become ready; keep them, in manifest order, for display
  return [...order, ...nodes.filter((n) => remaining.has(n))];
}

/** Strongly connected components with more than one node (Tarjan). */
function cyclicComponents(nodes: readonly string[], deps: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of deps.get(v) ?? []) {
      if (w === v) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp);
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

/** The shortest path of edges from `from` to `to` inside `within`, or undefined. */
function shortestPath(from: string, to: string, within: ReadonlySet<string>, edges: readonly GraphEdge[]): GraphEdge[] | undefined {
  const prev = new Map<string, GraphEdge>();
  const queue = [from];
  const seen = new Set([from]);
  while (queue.length) {
    const v = queue.shift()!;
    if (v === to) break;
    for (const e of edges) {
      if (e.from !== v || !within.has(e.to) || seen.has(e.to)) continue;
      seen.add(e.to);
      prev.set(e.to, e);
      queue.push(e.to);
    }
  }
  if (!seen.has(to)) return undefined;
  const path: GraphEdge[] = [];
  for (let at = to; at !== from; ) {
    const e = prev.get(at)!;
    path.unshift(e);
    at = e.from;
  }
  return path;
}

function cycleError(cycle: readonly GraphEdge[], paths: ReadonlyMap<GraphEdge, PathSegment[]>): HendrixError {
  const first = cycle[0]!;
  const names = [...cycle.map((e) => e.from), first.from];
  const self = cycle.length === 1;
  return new HendrixError('HX_ERR_CYCLE', {
    message: self
      ? `service \`${first.from}\` depends on itself (through \`${first.via}\`)`
      : `dependency cycle: ${names.join(' → ')}`,
    path: paths.get(first) ?? ['services', first.from],
    service: first.from,
    ...(first.location ? { location: first.location } : {}),
    related: cycle.map((e) => ({ message: edgeText(e), ...(e.location ? { location: e.location } : {}) })),
  });
}

/**
 * Builds the dependency graph from `dependsOn` and each kind's references, and reports every
 * problem: references to undeclared services (with did-you-mean), services that depend on
 * themselves, and cycles (each naming every edge with its file:line). `nodes` are all declared
 * services (default: the validated ones), so that a reference to a service that failed
 * validation is not reported as unknown. Services in `unvalidated` have a raw config: only
 * their `dependsOn` and field-name references are read (a kind's function is not called).
 */
export function analyzeGraph(
  input: GraphInput,
  nodes: readonly string[] = Object.keys(input.manifest.services),
  unvalidated: ReadonlySet<string> = new Set(),
): GraphAnalysis {
  const declared = new Set(nodes);
  const edges: GraphEdge[] = [];
  const edgePaths = new Map<GraphEdge, PathSegment[]>();
  const errors: HendrixError[] = [];
  for (const [name, config] of Object.entries(input.manifest.services)) {
    const refs: (Reference & { via: string })[] = [];
    const dependsOn = Array.isArray(config.dependsOn) ? (config.dependsOn as unknown[]) : [];
    dependsOn.forEach((t, i) => typeof t === 'string' && refs.push({ path: ['dependsOn', i], target: t, via: 'dependsOn' }));
    try {
      const kind = input.kinds.get(name);
      const usable = unvalidated.has(name) && typeof kind?.references === 'function' ? undefined : kind;
      for (const r of referencesOf(usable, config)) refs.push({ ...r, via: String(r.path[0] ?? 'reference') });
    } catch (cause) {
      errors.push(new HendrixError('HX_ERR_KIND_LOAD', { message: `the kind of service \`${name}\` failed to list its references`, service: name, cause }));
    }
    for (const r of refs) {
      const path = ['services', name, ...r.path];
      const location = input.provenance.locate(path);
      if (!declared.has(r.target)) {
        const hint = didYouMean(r.target, nodes.filter((n) => n !== name));
        const what = r.via === 'dependsOn' ? `service \`${name}\` depends on \`${r.target}\`` : `\`${formatPath(r.path)}\` of service \`${name}\` names \`${r.target}\``;
        errors.push(
          new HendrixError('HX_ERR_UNKNOWN_REFERENCE', {
            message: `${what}, which is not a declared service${hint ? ` — ${hint}` : ''}`,
            path,
            service: name,
            ...(location ? { location } : {}),
            hint: `declared services: ${nodes.join(', ')}`,
          }),
        );
        continue;
      }
      const targetKind = input.kinds.get(r.target);
      if (r.kinds && targetKind && !r.kinds.includes(targetKind.kind)) {
        const wanted = r.kinds.map((k) => `\`${k}\``).join(' or ');
        errors.push(
          new HendrixError(r.code ?? 'HX_ERR_REFERENCE_KIND', {
            message: `\`${formatPath(r.path)}\` of service \`${name}\` must name a ${wanted} service, but \`${r.target}\` is of kind \`${targetKind.kind}\``,
            path,
            service: name,
            ...(location ? { location } : {}),
            related: [{ message: `\`${r.target}\` is declared here`, ...locatedAt(input, ['services', r.target, 'kind']) }],
          }),
        );
      }
      const edge: GraphEdge = { from: name, to: r.target, via: r.via, location };
      edges.push(edge);
      edgePaths.set(edge, path);
    }
  }
  const deps = new Map<string, string[]>();
  for (const n of nodes) deps.set(n, []);
  for (const e of edges) {
    const list = deps.get(e.from)!;
    if (!list.includes(e.to)) list.push(e.to);
  }
  for (const e of edges) if (e.from === e.to) errors.push(cycleError([e], edgePaths));
  const rank = new Map(nodes.map((n, i) => [n, i]));
  for (const comp of cyclicComponents(nodes, deps)) {
    const within = new Set(comp);
    const inner = edges.filter((e) => e.from !== e.to && within.has(e.from) && within.has(e.to));
    const covered = new Set<GraphEdge>();
    const seen = new Set<string>();
    // one cycle through each edge not yet shown, so that every edge of the knot is named
    for (const e of inner) {
      if (covered.has(e)) continue;
      const back = shortestPath(e.to, e.from, within, inner);
      if (!back) continue;
      const cycle = [e, ...back];
      const start = cycle.reduce((best, x, i) => (rank.get(x.from)! < rank.get(cycle[best]!.from)! ? i : best), 0);
      const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
      const key = rotated.map(edgeText).join('|');
      for (const x of cycle) covered.add(x);
      if (seen.has(key)) continue;
      seen.add(key);
      errors.push(cycleError(rotated, edgePaths));
    }
  }
  return { graph: createGraph(nodes, edges, deps), errors };
}

function createGraph(nodes: readonly string[], edges: readonly GraphEdge[], deps: ReadonlyMap<string, readonly string[]>): Graph {
  const order = topoOrder(nodes, deps);
  const dependents = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const n of nodes) for (const d of deps.get(n) ?? []) if (d !== n) dependents.get(d)!.push(n);
  return Object.freeze({
    nodes: Object.freeze([...nodes]),
    edges: Object.freeze([...edges]),
    order: Object.freeze(order),
    dependencies: (name: string) => deps.get(name) ?? [],
    dependents: (name: string) => dependents.get(name) ?? [],
    closure(names: readonly string[]): string[] {
      const want = new Set<string>();
      const add = (n: string) => {
        if (want.has(n)) return;
        want.add(n);
        for (const d of deps.get(n) ?? []) add(d);
      };
      for (const n of names) {
        if (!deps.has(n)) {
          const hint = didYouMean(n, nodes);
          throw new HendrixError('HX_ERR_UNKNOWN_SERVICE', {
            message: `no service named \`${n}\` in the manifest${hint ? ` — ${hint}` : ''}`,
            hint: `services: ${nodes.join(', ')}`,
          });
        }
        add(n);
      }
      return order.filter((n) => want.has(n));
    },
  });
}

/**
 * Builds the dependency graph of a resolved manifest (see analyzeGraph); throws
 * HX_ERR_MANIFEST with every unknown reference and cycle when there are any.
 */
export function buildGraph(resolved: GraphInput): Graph {
  const { graph, errors } = analyzeGraph(resolved);
  if (errors.length) throw new HendrixError('HX_ERR_MANIFEST', { message: `the manifest has ${errors.length} problem${errors.length === 1 ? '' : 's'}`, errors });
  return graph;
}
