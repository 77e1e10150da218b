import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One import statement of a source file, resolved to a file of the project. */
export interface ImportEdge {
  /** The importing file, relative to the project root (`services/tls/service.ts`). */
  readonly from: string;
  /** The imported file, relative to the project root (`src/net/listen.ts`). */
  readonly to: string;
  /** Whether the whole statement is `import type` / `export type`. */
  readonly typeOnly: boolean;
  /** The names imported (`type X` for a type-only name); empty for `import './x.js'` or `*`. */
  readonly names: readonly string[];
}

const STATEMENT = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*['"](\.{1,2}\/[^'"]+)['"]|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/gm;

/** The .ts files under `dir` (tests, fixtures and declaration files left out unless asked). */
export function sourceFiles(root: string, dir: string, withTests = false): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).flatMap((entry) => {
    const path = join(abs, entry);
    if (statSync(path).isDirectory()) return entry === 'fixtures' || entry === 'node_modules' || entry === 'native' ? [] : sourceFiles(root, join(dir, entry), withTests);
    if (!entry.endsWith('.ts') || entry.endsWith('.d.ts')) return [];
    return withTests || !entry.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

function resolveSpecifier(root: string, from: string, specifier: string): string {
  const abs = resolve(root, dirname(from), specifier);
  const ts = abs.replace(/\.js$/, '.ts');
  return relative(root, existsSync(ts) ? ts : abs);
}

function namesOf(clause: string): string[] {
  const braces = /\{([\s\S]*)\}/.exec(clause)?.[1];
  if (!braces) return [];
  return braces
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .map((n) => n.replace(/\s+as\s+\w+$/, ''));
}

/** Every relative import and re-export of the given files (static and dynamic). */
export function importEdges(root: string, files: readonly string[]): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const text = readFileSync(join(root, from), 'utf8');
    for (const m of text.matchAll(STATEMENT)) {
      const specifier = m[4] ?? m[5] ?? m[6]!;
      const clause = m[3] ?? '';
      edges.push({
        from,
        to: resolveSpecifier(root, from, specifier),
        typeOnly: Boolean(m[2]),
        names: m[4] ? namesOf(clause) : [],
      });
    }
  }
  return edges;
}

/** The names a module exports (declarations and re-exports), read from its text. */
export function exportedNames(root: string, file: string): Set<string> {
  const text = readFileSync(join(root, file), 'utf8');
  const names = new Set<string>();
  for (const m of text.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const part of m[1]!.split(',')) {
      const name = part.trim().replace(/^type\s+/, '').replace(/^.*\s+as\s+/, '');
      if (name) names.add(name);
    }
  }
  for (const m of text.matchAll(/^export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|class|interface|type|abstract\s+class)\s+([A-Za-z_$][\w$]*)/gm)) names.add(m[1]!);
  return names;
}

/** The top folder of a project file for the layering rules: `src/manifest`, `services/tls`, `test`... */
export function areaOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'src' || parts[0] === 'services') return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
  return parts[0]!;
}
