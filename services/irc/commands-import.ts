import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SourceLocation } from '../../src/errors/hendrix-error.js';

/**
 * The URL each content of each commands module was imported under, by file, then by digest.
 * Node caches an ES module by its URL for the life of the process, so importing a changed
 * file again would give its first version: a new content is imported under a new URL
 * (`?hendrix-gen=N`), bumped only when the content is new. An unchanged file is not imported
 * again, and a content seen before gets that version's instance back. The modules a commands
 * module imports itself keep their URLs, hence their first version.
 */
const versions = new Map<string, Map<string, string>>();
let generation = 0;

/** A commands module file as read now: its content digest. */
export async function digestOf(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/**
 * Imports the commands module at `path` whose content has `digest`: the first content of a
 * file under its plain URL (the one the plan's provision step imported too), each later one
 * under a URL of its own.
 */
export async function importVersion(path: string, digest: string): Promise<Record<string, unknown>> {
  let byDigest = versions.get(path);
  if (byDigest === undefined) versions.set(path, (byDigest = new Map()));
  let url = byDigest.get(digest);
  if (url === undefined) {
    const plain = pathToFileURL(path).href;
    url = byDigest.size === 0 ? plain : `${plain}?hendrix-gen=${++generation}`;
    // recorded before the import: a content that fails fails the same way next time (Node caches that too)
    byDigest.set(digest, url);
  }
  return (await import(url)) as Record<string, unknown>;
}

/**
 * Where an import of the commands module at `path` failed: for a syntax error, the place
 * `node --check` reports (an ES module's syntax error from `import()` says what, not where);
 * for an exception while the module ran, the first stack frame in the module, else the first
 * in a file outside node_modules (a helper it imports). Undefined when nothing says where.
 */
export async function locateImportFailure(error: unknown, path: string): Promise<SourceLocation | undefined> {
  if (error instanceof Error && error.name === 'SyntaxError') {
    const found = await checkSyntax(path);
    if (found !== undefined) return found;
  }
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const frames: SourceLocation[] = [];
  for (const line of stack.split('\n')) {
    const m = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    const file = m === null ? undefined : toPath(m[1] as string);
    if (m !== null && file !== undefined) frames.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  return frames.find((f) => f.file === path) ?? frames.find((f) => !/[\\/]node_modules[\\/]/.test(f.file));
}

/** `file:line:column`, as editors and terminals link it. */
export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}

/** An absolute path from a stack frame's file (a path or a file: URL, with a `?hendrix-gen` query or not). */
function toPath(text: string): string | undefined {
  const bare = text.replace(/\?[^/\\]*$/, '');
  if (bare.startsWith('file://')) {
    try {
      return fileURLToPath(bare);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(bare) ? bare : undefined;
}

/** Runs `node --check` on the file: the location of its syntax error (`file:line`, the line, a caret), if any. */
function checkSyntax(path: string): Promise<SourceLocation | undefined> {
  return new Promise((resolve) => {
    // without the parent's NODE_OPTIONS: a test runner's or a profiler's hooks have nothing to check
    execFile(process.execPath, ['--check', path], { timeout: 10_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, _stdout, stderr) => {
      if (error === null) return resolve(undefined);
      const [head = '', , caret] = String(stderr).split('\n');
      const m = /^(.+):(\d+)$/.exec(head);
      if (m === null || toPath(m[1] as string) !== path) return resolve(undefined);
      const underline = caret === undefined ? null : /^\s*(\^+)\s*$/.exec(caret);
      const column = underline === null ? 1 : (caret as string).indexOf('^') + 1;
      resolve({ file: path, line: Number(m[2]), column });
    });
  });
}
