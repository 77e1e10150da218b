import type { PathSegment } from '../errors/hendrix-error.js';

/** One segment of a parsed path text, with the 1-based column where it starts in that text. */
export interface PathTextSegment {
  readonly value: PathSegment;
  readonly column: number;
  /** The length of the segment as written (for underlining it). */
  readonly length: number;
}

/** Thrown by parsePathText when a path text is malformed; `column` is 1-based. */
export class PathSyntaxError extends Error {
  readonly column: number;
  constructor(message: string, column: number) {
    super(message);
    this.name = 'PathSyntaxError';
    this.column = column;
  }
}

/**
 * Parses a dotted manifest path as users write it — `services.web.listen`,
 * `services.bot.channels[0]`, `services["my.svc"].app` — into segments with their columns.
 * Throws PathSyntaxError on an empty path, an empty segment or an unclosed bracket.
 */
export function parsePathText(text: string): PathTextSegment[] {
  const out: PathTextSegment[] = [];
  let i = 0;
  let expectKey = true;
  if (text.trim() === '') throw new PathSyntaxError('the path is empty', 1);
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) throw new PathSyntaxError('unclosed `[` in the path', i + 1);
      const inner = text.slice(i + 1, close);
      if (/^\d+$/.test(inner)) out.push({ value: Number(inner), column: i + 1, length: close - i + 1 });
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) out.push({ value: JSON.parse(inner) as string, column: i + 1, length: close - i + 1 });
      else throw new PathSyntaxError(`\`[${inner}]\` is neither an index like [0] nor a quoted key like ["a.b"]`, i + 1);
      i = close + 1;
      expectKey = false;
      continue;
    }
    if (ch === '.') {
      if (expectKey) throw new PathSyntaxError('empty segment in the path', i + 1);
      i += 1;
      expectKey = true;
      if (i >= text.length) throw new PathSyntaxError('the path ends with `.`', i);
      continue;
    }
    if (!expectKey) throw new PathSyntaxError(`expected \`.\` or \`[\` after a segment, found \`${ch}\``, i + 1);
    let end = i;
    while (end < text.length && text[end] !== '.' && text[end] !== '[') end += 1;
    const key = text.slice(i, end);
    if (/\s|]/.test(key)) throw new PathSyntaxError(`\`${key}\` is not a valid key in a path`, i + 1);
    out.push({ value: key, column: i + 1, length: end - i });
    i = end;
    expectKey = false;
  }
  return out;
}

/** Parses a dotted path text into plain segments (see parsePathText). */
export function parsePath(text: string): PathSegment[] {
  return parsePathText(text).map((s) => s.value);
}

/** A stable string key for a path, usable in a Map (numbers and numeric strings stay distinct). */
export function pathKey(path: readonly PathSegment[]): string {
  return JSON.stringify(path);
}

/** True when `prefix` is `path` itself or one of its ancestors. */
export function isPathPrefix(prefix: readonly PathSegment[], path: readonly PathSegment[]): boolean {
  if (prefix.length > path.length) return false;
  return prefix.every((seg, i) => path[i] === seg);
}

/** The value at `path` inside a plain JS tree, or undefined. */
export function getAt(tree: unknown, path: readonly PathSegment[]): unknown {
  let node = tree;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, seg)) return undefined;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

/** True for a plain mapping (not an array, not null). */
export function isPlainMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
