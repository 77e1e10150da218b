import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SourceLocation } from '../../src/errors/hendrix-error.js';

/** One project module of an app's import graph. */
export interface GraphModule {
  /** The absolute path. */
  readonly file: string;
  /** Where the module that first reached it imports it (absolute file); undefined for the entry. */
  readonly importedAt: SourceLocation | undefined;
  /** The module that first reached it; undefined for the entry. */
  readonly importedBy: string | undefined;
}

/** A static import of a project file that does not exist: the module cannot load. */
export interface MissingImport {
  /** The specifier as written. */
  readonly specifier: string;
  /** The absolute path it resolves to. */
  readonly resolved: string;
  /** The importing module (absolute). */
  readonly importer: string;
  /** Where the specifier is written (absolute file). */
  readonly at: SourceLocation;
}

/** The project modules an app imports, transitively, without running any of them. */
export interface ModuleGraph {
  /** The entry first, then breadth-first in import order (deterministic for the same files). */
  readonly modules: readonly GraphModule[];
  /** Static imports of files that do not exist. */
  readonly missing: readonly MissingImport[];
}

type EdgeKind = 'static' | 'dynamic' | 'require';

interface Edge {
  readonly specifier: string;
  readonly kind: EdgeKind;
  readonly resolved: string;
  readonly exists: boolean;
  readonly at: SourceLocation;
}

type Lexer = typeof import('es-module-lexer');

let lexerLoading: Promise<Lexer> | undefined;

/** Loads es-module-lexer once, when it is needed: loading it and compiling its WebAssembly costs ~5 ms of start-up. */
export function loadLexer(): Promise<Lexer> {
  lexerLoading ??= import('es-module-lexer').then(async (lexer) => {
    await lexer.init;
    return lexer;
  });
  return lexerLoading;
}

/** The files whose imports are read; others (JSON, WebAssembly, addons) are recorded only. */
const LEXED = /\.(?:[cm]?[jt]s|[jt]sx)$/;
/** `require('./x')` in CommonJS files: string-literal specifiers only (a computed one is not a file the plan can know). */
const REQUIRE = /\brequire\s*\(\s*(['"])([^'"\n\r]+)\1\s*\)/g;
const NODE_MODULES = /[\\/]node_modules[\\/]/;
/** A string literal that may be a project specifier (`./`, `../`, `/`, `file:`): a file without one imports no project module. */
const MAY_IMPORT_PROJECT = /['"`](?:\.{1,2}\/|\/|file:)/;

/** True for a file inside a node_modules folder: a dependency, not a project file. */
export function inNodeModules(file: string): boolean {
  return NODE_MODULES.test(file);
}

/**
 * Walks the project modules an app module imports, transitively: ESM static and dynamic imports
 * with literal specifiers (read by es-module-lexer, the lexer Vite uses) and `require()` calls of
 * CommonJS files. Relative and absolute specifiers only; the walk stops at node_modules. Reads
 * files and runs nothing, so it also serves `hendrix check --no-import`.
 */
export async function walkModuleGraph(entry: string): Promise<ModuleGraph> {
  const seen = new Set<string>([entry]);
  const modules: GraphModule[] = [{ file: entry, importedAt: undefined, importedBy: undefined }];
  const missing: MissingImport[] = [];
  let level = [entry];
  while (level.length) {
    // one level at a time, its files in parallel; the order of results is the order of imports
    const edges = await Promise.all(level.map((file) => edgesOf(file)));
    const next: string[] = [];
    for (const [i, importer] of level.entries()) {
      for (const edge of edges[i]!) {
        if (!edge.exists) {
          if (edge.kind === 'static') missing.push({ specifier: edge.specifier, resolved: edge.resolved, importer, at: edge.at });
          continue;
        }
        if (seen.has(edge.resolved)) continue;
        seen.add(edge.resolved);
        modules.push({ file: edge.resolved, importedAt: edge.at, importedBy: importer });
        next.push(edge.resolved);
      }
    }
    level = next;
  }
  return { modules, missing };
}

/** The project files one module imports, resolved, with where each import is written. */
async function edgesOf(file: string): Promise<Edge[]> {
  if (!LEXED.test(file)) return [];
  const source = await readFile(file, 'utf8').catch(() => undefined);
  // start-up matters: an app importing only packages and built-ins never loads the lexer
  if (source === undefined || !MAY_IMPORT_PROJECT.test(source)) return [];
  const lexer = await loadLexer();
  const found: { specifier: string; kind: EdgeKind; start: number; end: number }[] = [];
  let esm = /\.m[jt]s$/.test(file);
  try {
    const [imports, , , hasModuleSyntax] = lexer.parse(source, file);
    esm ||= hasModuleSyntax;
    for (const imp of imports) {
      if (imp.type === 'import-meta' || imp.specifier === undefined) continue;
      if (imp.type === 'dynamic') {
        // a dynamic import's range holds the quotes of its literal
        const quoted = /['"`]/.test(source[imp.start] ?? '');
        found.push({ specifier: imp.specifier, kind: 'dynamic', start: imp.start + (quoted ? 1 : 0), end: imp.end - (quoted ? 1 : 0) });
      } else if (!imp.typeOnly) found.push({ specifier: imp.specifier, kind: 'static', start: imp.start, end: imp.end });
    }
  } catch {
    // the lexer stops at some syntax errors: the import reports those, the imports stay unknown
  }
  if (!esm) {
    for (const m of source.matchAll(REQUIRE)) {
      const start = m.index + m[0].indexOf(m[1]!) + 1;
      found.push({ specifier: m[2]!, kind: 'require', start, end: start + m[2]!.length });
    }
  }
  const lines = lineStarts(source);
  const edges = await Promise.all(
    found.map(async ({ specifier, kind, start, end }): Promise<Edge | undefined> => {
      const resolved = resolveSpecifier(specifier, file, kind);
      if (resolved === undefined || inNodeModules(resolved)) return undefined;
      const info = await stat(resolved).catch(() => undefined);
      if (info?.isDirectory()) return undefined;
      const at = { file, ...positionOf(lines, start), endLine: positionOf(lines, end).line, endColumn: positionOf(lines, end).column };
      return { specifier, kind, resolved, exists: info !== undefined, at };
    }),
  );
  return edges.filter((e): e is Edge => e !== undefined);
}

/** Resolves a relative or absolute specifier (or a file: URL) from `from`; undefined for packages. */
function resolveSpecifier(specifier: string, from: string, kind: EdgeKind): string | undefined {
  try {
    if (specifier.startsWith('file:')) return fileURLToPath(new URL(specifier));
    const relative = specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
    if (!relative && !isAbsolute(specifier)) return undefined;
    if (kind === 'require') {
      // CommonJS adds extensions and index files: let its own resolver say where the file is
      try {
        return createRequire(from).resolve(specifier);
      } catch {
        return resolve(dirname(from), specifier);
      }
    }
    // an ESM specifier is a URL: percent-escapes decode, a query or hash is not part of the path
    return fileURLToPath(new URL(specifier, pathToFileURL(from)));
  } catch {
    return undefined;
  }
}

/** The offsets at which the lines of `text` start. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** The 1-based line and column of an offset. */
function positionOf(starts: readonly number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}
