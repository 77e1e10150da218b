import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceLocation } from '../../src/errors/hendrix-error.js';
import { inNodeModules, loadLexer } from './module-graph.js';
import { findSyntaxError } from './syntax-check.js';

/** Why an app module failed to import, placed in the app's own files. */
export interface ImportFailure {
  /** A syntax error in a file, an import of a name a module does not export, or an exception thrown while the modules ran. */
  readonly kind: 'syntax' | 'link' | 'throw';
  /** Where, with an absolute file. */
  readonly location: SourceLocation;
  /** Node's one-line message: `Unexpected token ';'`, `boom`. */
  readonly message: string;
}

const CHECKED = /\.[cm]?js$/;

/**
 * Finds where an app's import failed, in this order: the location Node writes on top of a
 * CommonJS syntax error or an ESM link error (`/abs/app.cjs:3`, the line, a caret line); the
 * first stack frame inside a project module (a throw while the modules ran); else, when the
 * error is no Node system error (ESM syntax errors from `import()` carry no location at all),
 * the first project module V8 finds a syntax error in (syntax-check.ts). Undefined when none
 * says where.
 */
export async function locateImportFailure(error: unknown, projectFiles: readonly string[], baseDir: string): Promise<ImportFailure | undefined> {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
  const header = parseLocationHeader(stack);
  if (header) return { kind: /^The requested module /.test(message) ? 'link' : 'syntax', location: header, message };
  const frame = projectFrame(stack, projectFiles, baseDir);
  if (frame) return { kind: 'throw', location: frame, message };
  if (typeof (error as { code?: unknown } | null)?.code === 'string') return undefined;
  return checkSyntax(projectFiles.filter((f) => CHECKED.test(f) && !inNodeModules(f)));
}

/**
 * Parses the location Node puts on top of a syntax error's text: `file:line`, the source line,
 * and a caret line under the offending token (the column is the caret's offset in the line; an
 * unexpected end of input has no caret: column 1).
 */
export function parseLocationHeader(text: string): SourceLocation | undefined {
  const [head, , caret] = text.split('\n');
  const m = /^(.+):(\d+)$/.exec(head ?? '');
  if (!m || caret === undefined || !/^\s*\^*\s*$/.test(caret)) return undefined;
  const file = toPath(m[1]!);
  if (file === undefined) return undefined;
  const line = Number(m[2]);
  const underline = /\^+/.exec(caret);
  if (!underline) return { file, line, column: 1 };
  return { file, line, column: underline.index + 1, endLine: line, endColumn: underline.index + 1 + underline[0].length };
}

/** The first stack frame in a project module (else in a file under baseDir outside node_modules). */
function projectFrame(stack: string, projectFiles: readonly string[], baseDir: string): SourceLocation | undefined {
  const frames: SourceLocation[] = [];
  for (const line of stack.split('\n')) {
    const m = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    const file = m ? toPath(m[1]!) : undefined;
    if (m && file !== undefined) frames.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  const project = new Set(projectFiles);
  const under = (file: string) => {
    const rel = relative(baseDir, file);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel) && !inNodeModules(file);
  };
  return frames.find((f) => project.has(f.file)) ?? frames.find((f) => under(f.file));
}

/** An absolute path from a stack's file part (a path or a file: URL); undefined for `node:` and others. */
function toPath(text: string): string | undefined {
  if (text.startsWith('file://')) {
    try {
      return fileURLToPath(new URL(text));
    } catch {
      return undefined;
    }
  }
  return isAbsolute(text) ? text : undefined;
}

/** The first of the files (in the given order) with a syntax error, found in this process. */
async function checkSyntax(files: readonly string[]): Promise<ImportFailure | undefined> {
  if (!files.length) return undefined;
  const lexer = await loadLexer();
  for (const file of files) {
    const found = await findSyntaxError(file, lexer);
    if (found) return { kind: 'syntax', ...found };
  }
  return undefined;
}
