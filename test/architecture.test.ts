import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { areaOf, exportedNames, importEdges, sourceFiles, type ImportEdge } from './helpers/import-graph.js';

/**
 * The house's layout as rules on the import graph (DESIGN.md sections 1 and 2): data flows one
 * way (kinds → manifest → runtime → cli), the core knows no kind, and a kind reaches another
 * only through the type of its published handle.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const production = [...sourceFiles(root, 'src'), ...sourceFiles(root, 'services')];
const edges = importEdges(root, production);

/** What each folder of the core may import from the core (besides itself). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  'src/errors': [],
  'src/log': ['src/errors'],
  'src/kinds': ['src/errors'],
  'src/net': ['src/errors', 'src/kinds'],
  'src/manifest': ['src/errors', 'src/kinds'],
  'src/crosstown': ['src/errors', 'src/kinds', 'src/log'],
  'src/runtime': ['src/errors', 'src/kinds', 'src/log', 'src/manifest', 'src/net'],
  'src/testing': ['src/errors', 'src/kinds', 'src/log', 'src/manifest'],
  // the processes of a graph with workers: built on the runtime, driven by the CLI
  // the admin API (status, events, metrics, operations, the TCP listener): built on the runtime
  'src/admin': ['src/errors', 'src/kinds', 'src/log', 'src/manifest', 'src/runtime', 'src/net'],
  'src/workers': ['src/errors', 'src/kinds', 'src/log', 'src/manifest', 'src/runtime', 'src/net', 'src/admin'],
  'src/cli': ['src/errors', 'src/kinds', 'src/log', 'src/manifest', 'src/runtime', 'src/net', 'src/workers', 'src/admin'],
};

/** The two edges of the composition: the only files of src/ that know the built-in kinds. */
const EDGES = new Set(['src/index.ts', 'src/cli/main.ts']);

const show = (list: readonly ImportEdge[]) => list.map((e) => `${e.from} → ${e.to}`);

describe('the import graph', () => {
  it('finds the sources and their imports', () => {
    expect(production.length).toBeGreaterThan(100);
    expect(edges.length).toBeGreaterThan(300);
  });

  it('src/ imports nothing from services/, except the two edges that compose the built-in kinds', () => {
    const bad = edges.filter((e) => e.from.startsWith('src/') && e.to.startsWith('services/') && !(EDGES.has(e.from) && e.to === 'services/index.ts'));
    expect(show(bad)).toEqual([]);
  });

  it('the data flows one way: each folder of the core imports only the stages before it', () => {
    const bad = edges.filter((e) => {
      if (!e.from.startsWith('src/') || !e.to.startsWith('src/') || EDGES.has(e.from)) return false;
      const from = areaOf(e.from);
      const to = areaOf(e.to);
      if (from === to) return false;
      const allowed = MAY_IMPORT[from];
      return allowed === undefined || !allowed.includes(to);
    });
    expect(show(bad)).toEqual([]);
  });

  it('src/manifest imports nothing from src/runtime', () => {
    expect(show(edges.filter((e) => e.from.startsWith('src/manifest/') && e.to.startsWith('src/runtime/')))).toEqual([]);
  });

  it('a kind reaches another kind only through a type-only import of its handle.ts', () => {
    const bad = edges.filter((e) => {
      if (!e.from.startsWith('services/') || !e.to.startsWith('services/') || e.from === 'services/index.ts') return false;
      if (areaOf(e.from) === areaOf(e.to)) return false;
      return !(e.typeOnly && e.to.endsWith('/handle.ts'));
    });
    expect(show(bad)).toEqual([]);
  });

  it('everything a built-in kind uses of the core is public API: exported by the package entry', () => {
    const publicNames = exportedNames(root, 'src/index.ts');
    const missing = edges
      .filter((e) => e.from.startsWith('services/') && e.to.startsWith('src/'))
      .flatMap((e) => e.names.map((n) => n.replace(/^type\s+/, '')).filter((n) => !publicNames.has(n)).map((n) => `${e.from}: ${n} (from ${e.to})`));
    expect(missing).toEqual([]);
  });

  it('test helpers live in test/helpers, not in production folders', () => {
    const helpers = production.filter((f) => /(^|\/)(test-[\w-]+|fake-[\w-]+|manual-clock)\.ts$/.test(f));
    expect(helpers).toEqual([]);
  });
});
