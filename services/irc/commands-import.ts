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

/** Where an import failed, and what to say about it. */
export interface ImportFailure {
  readonly location: SourceLocation;
  /** The message: the error's own first line, or for a syntax error Node's (`Unexpected token '}'`). */
  readonly message: string | undefined;
}

/**
 * Where an import of the commands module at `path` failed: for an exception while the module
 * ran, its frame in the module, else the top frame when it is in a file outside node_modules (a
 * helper the module imports); else the syntax error `node --check` finds in the module (an ES
 * module's syntax error from `import()` says what, not where). Undefined when nothing says where.
 */
export async function locateImportFailure(error: unknown, path: string): Promise<ImportFailure | undefined> {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const frames: (SourceLocation | undefined)[] = [];
  for (const line of stack.split('\n')) {
    const m = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    if (m === null) continue;
    const file = toPath(m[1] as string);
    frames.push(file === undefined ? undefined : { file, line: Number(m[2]), column: Number(m[3]) });
  }
  const top = frames[0];
  const thrown = frames.find((f) => f?.file === path) ?? (top !== undefined && !/[\\/]node_modules[\\/]/.test(top.file) ? top : undefined);
  if (thrown !== undefined) return { location: thrown, message: undefined };
  return checkSyntax(path);
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

/** Runs `node --check` on the file: where its syntax error is (`file:line`, the line, a caret) and what, if it has one. */
function checkSyntax(path: string): Promise<ImportFailure | undefined> {
  return new Promise((resolve) => {
    // without the parent's NODE_OPTIONS: a test runner's or a profiler's hooks have nothing to check
    execFile(process.execPath, ['--check', path], { timeout: 10_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, _stdout, stderr) => {
      if (error === null) return resolve(undefined);
      const lines = String(stderr).split('\n');
      const [head = '', , caret] = lines;
      const m = /^(.+):(\d+)$/.exec(head);
      if (m === null || toPath(m[1] as string) !== path) return resolve(undefined);
      const underline = caret === undefined ? null : /^\s*\^+\s*$/.exec(caret);
      const column = underline === null ? 1 : (caret as string).indexOf('^') + 1;
      const message = lines.find((l) => l.startsWith('SyntaxError: '))?.slice('SyntaxError: '.length);
      resolve({ location: { file: path, line: Number(m[2]), column }, message });
    });
  });
}
