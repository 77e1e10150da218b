import { readFile } from 'node:fs/promises';
import { Script } from 'node:vm';
import type { SourceLocation } from '../../src/errors/hendrix-error.js';

/** A syntax error found in a file: where (absolute file) and V8's message. */
export interface SyntaxProblem {
  readonly location: SourceLocation;
  readonly message: string;
}

type Lexer = typeof import('es-module-lexer');

const STRICT = "'use strict';";
const ASYNC = "(async function () {'use strict';";
const CJS = '(function (exports, require, module, __filename, __dirname) {';

/**
 * Finds the syntax error of a JavaScript file in this process, without running it: `import()`
 * of an ES module with a syntax error says what but not where, and vm.SourceTextModule needs a
 * flag. The module syntax (import and export declarations, `import.meta`) is blanked out to
 * spaces of the same length, so that V8 parses the rest as a script and every position stays
 * where it was; a module using top-level await is parsed again inside an async function.
 * Undefined when V8 finds no error this way.
 */
export async function findSyntaxError(file: string, lexer: Lexer): Promise<SyntaxProblem | undefined> {
  const source = await readFile(file, 'utf8').catch(() => undefined);
  if (source === undefined) return undefined;
  const { text, esm } = blankModuleSyntax(source, file, lexer);
  const lines = source.split('\n').length;
  const attempt = (prefix: string, suffix: string) => compileError(`${prefix}${text}${suffix}`, prefix.length, file, lines);
  if (!esm) return attempt(CJS, '\n})');
  const plain = attempt(STRICT, '');
  // top-level await is a syntax error in a script only
  if (plain && /\bawait\b/.test(plain.message)) return attempt(ASYNC, '\n})');
  return plain;
}

/** Compiles the code; its syntax error, placed in the original file (the prefix sits on line 1). */
function compileError(code: string, prefixLength: number, file: string, lines: number): SyntaxProblem | undefined {
  try {
    new Script(code, { filename: file });
    return undefined;
  } catch (error) {
    if (!(error instanceof SyntaxError)) return undefined;
    const [head, , caret = ''] = (error.stack ?? '').split('\n');
    const line = Number(/:(\d+)$/.exec(head ?? '')?.[1]);
    if (!Number.isInteger(line) || line < 1) return undefined;
    // past the last line: the wrapper's closing brace, i.e. the file ended too soon
    if (line > lines) return { location: { file, line: lines, column: 1 }, message: 'Unexpected end of input' };
    const underline = /\^+/.exec(caret);
    if (!underline) return { location: { file, line, column: 1 }, message: error.message };
    const column = underline.index + 1 - (line === 1 ? prefixLength : 0);
    return { location: { file, line, column, endLine: line, endColumn: column + underline[0].length }, message: error.message };
  }
}

/** The source with its module syntax replaced by spaces, and whether it is an ES module. */
function blankModuleSyntax(source: string, file: string, lexer: Lexer): { text: string; esm: boolean } {
  const chars = source.split('');
  const blank = (start: number, end: number) => {
    for (let i = start; i < end; i++) if (chars[i] !== '\n' && chars[i] !== '\r') chars[i] = ' ';
  };
  const put = (start: number, word: string) => word.split('').forEach((c, i) => (chars[start + i] = c));
  // `import.meta` becomes an identifier of the same length
  const meta = (start: number) => put(start, '__hx_meta__');
  /** `export`, `export default` (an assignment, so that an anonymous function stays valid) or `export { a, b }`. */
  const unexport = (start: number) => {
    const rest = source.slice(start, start + 4096);
    const m = /^export(\s+default\b|\s*\{[^}]*\})?/.exec(rest);
    if (!m) return;
    if (m[1]?.trimStart().startsWith('default')) {
      blank(start, start + 6);
      put(start + m[0].length - 7, '__hx_d=');
    } else blank(start, start + m[0].length);
  };
  // a hashbang is allowed at the very start only, and the wrappers come before it
  if (source.startsWith('#!')) blank(0, source.indexOf('\n') === -1 ? source.length : source.indexOf('\n'));
  let esm = /\.m[jt]s$/.test(file);
  try {
    const [imports, exports, , hasModuleSyntax] = lexer.parse(source, file);
    esm ||= hasModuleSyntax;
    if (/\.c[jt]s$/.test(file)) esm = false;
    for (const imp of imports) {
      if (imp.type === 'import-meta') meta(imp.start);
      else if (imp.type !== 'dynamic') blank(imp.importStart, imp.importEnd);
    }
    // re-exports are import statements, blanked above
    for (const exp of exports) if (exp.type === 'direct') unexport(exp.exportStart);
  } catch {
    // the lexer stops at unbalanced brackets or an unterminated string: blank by pattern instead
    esm ||= /^[ \t]*(?:import[\s{*'"]|export\b)/m.test(source);
    if (/\.c[jt]s$/.test(file)) esm = false;
    if (esm) {
      for (const pattern of FALLBACK) for (const m of source.matchAll(pattern)) blank(m.index, m.index + m[0].length);
      for (const m of source.matchAll(/^[ \t]*export\b/gm)) unexport(m.index + m[0].length - 6);
      for (const m of source.matchAll(/\bimport\.meta\b/g)) meta(m.index);
    }
  }
  return { text: chars.join(''), esm };
}

/** Import and export declarations found by pattern, when the lexer could not read the file. */
const FALLBACK = [
  /^[ \t]*import(?=[\s{*'"])(?:[\w$*{},\s]*?from)?\s*(['"])[^'"\n]*\1(?:\s*(?:with|assert)\s*\{[^}]*\})?/gm,
  /^[ \t]*export\s*(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])[^'"\n]*\1/gm,
];
