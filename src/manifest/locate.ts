import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PathSegment, SourceLocation } from '../errors/hendrix-error.js';

/** A parsed YAML text in which manifest paths can be located. */
export interface YamlSource {
  /** The file name shown in locations. */
  readonly file: string;
  /** The YAML text. */
  readonly text: string;
  /** The parsed document (kept to map paths back to nodes). */
  readonly doc: Document;
  /** Line starts of `text`, filled while parsing. */
  readonly lineCounter: LineCounter;
  /**
   * Where offset 0 of `text` sits in the displayed file (1-based); for texts embedded in a
   * larger one, such as the value of a `--set` flag. Default line 1, column 1.
   */
  readonly origin?: { readonly line: number; readonly column: number };
}

/** Which part of a `key: value` pair a location should point at. */
export type LocateTarget =
  /** The key for block collections (their value starts on another line), else the value. */
  | 'auto'
  /** Always the value node. */
  | 'value'
  /** Always the key node (for errors about the key itself, such as an unknown key). */
  | 'key';

/** The nodes found along a path: how deep the path matched, and the last pair's key and value. */
export interface FoundNode {
  /** How many segments of the path matched (equal to the path length when found). */
  readonly depth: number;
  /** The key node of the deepest matched pair (undefined at the root and for sequence items). */
  readonly key: Node | undefined;
  /** The value node of the deepest match. */
  readonly value: Node | undefined;
}

function resolveAlias(node: unknown, doc: Document): Node | undefined {
  if (isAlias(node)) return node.resolve(doc) as Node | undefined;
  return (node ?? undefined) as Node | undefined;
}

/** Walks a path through a document's nodes as far as it goes (aliases are followed). */
export function findNode(doc: Document, path: readonly PathSegment[]): FoundNode {
  let value = resolveAlias(doc.contents, doc);
  let key: Node | undefined;
  let depth = 0;
  for (const seg of path) {
    if (isMap(value)) {
      // the last pair wins, as in toJS(); duplicates are reported separately
      const pair = [...value.items].reverse().find((p) => isPair(p) && String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) break;
      key = pair.key as Node;
      value = resolveAlias(pair.value, doc) ?? (pair.key as Node);
    } else if (isSeq(value) && typeof seg === 'number' && seg < value.items.length) {
      key = undefined;
      value = resolveAlias(value.items[seg], doc);
    } else break;
    depth += 1;
  }
  return { depth, key, value };
}

/** Maps offsets in a source's text to a 1-based location in its displayed file. */
export function offsetToLocation(src: YamlSource, start: number, end?: number): SourceLocation {
  const toPos = (offset: number) => {
    const pos = src.lineCounter.linePos(Math.max(0, Math.min(offset, src.text.length)));
    const line = (src.origin?.line ?? 1) + pos.line - 1;
    const column = pos.line === 1 ? (src.origin?.column ?? 1) + pos.col - 1 : pos.col;
    return { line, column };
  };
  const a = toPos(start);
  const loc: SourceLocation = { file: src.file, line: a.line, column: a.column };
  if (end !== undefined && end > start) {
    const b = toPos(end);
    loc.endLine = b.line;
    loc.endColumn = b.column;
  }
  return loc;
}

function nodeLocation(src: YamlSource, node: Node | undefined): SourceLocation | undefined {
  const range = node?.range;
  if (!range) return undefined;
  // an empty value (`key:` with nothing after it) has a zero-length range
  return offsetToLocation(src, range[0], Math.max(range[1], range[0]));
}

function pick(found: FoundNode, target: LocateTarget): Node | undefined {
  if (target === 'key') return found.key ?? found.value;
  if (target === 'value') return found.value;
  const v = found.value;
  const isBlock = isCollection(v) && !(v as { flow?: boolean }).flow;
  return isBlock && found.key ? found.key : v;
}

/** The location of the node at `path`, or undefined when the path is not in the document. */
export function locateExact(src: YamlSource, path: readonly PathSegment[], target: LocateTarget = 'auto'): SourceLocation | undefined {
  const found = findNode(src.doc, path);
  if (found.depth < path.length) return undefined;
  if (path.length === 0 && !isScalar(found.value) && !(found.value as { flow?: boolean } | undefined)?.flow) {
    return offsetToLocation(src, src.doc.contents?.range?.[0] ?? 0);
  }
  return nodeLocation(src, pick(found, target));
}

/**
 * The location of the node at `path`; for a path that is not in the document, the key of its
 * nearest ancestor that is (so "missing key" errors point at the map that lacks it).
 */
export function locatePath(src: YamlSource, path: readonly PathSegment[], target: LocateTarget = 'auto'): SourceLocation | undefined {
  const found = findNode(src.doc, path);
  if (found.depth === path.length) return locateExact(src, path, target);
  if (found.depth === 0) return offsetToLocation(src, src.doc.contents?.range?.[0] ?? 0);
  return nodeLocation(src, found.key ?? found.value);
}

/** The raw source text of the scalar at `path` and the offset where it starts, if it is a scalar. */
export function scalarSource(src: YamlSource, path: readonly PathSegment[]): { raw: string; start: number } | undefined {
  const found = findNode(src.doc, path);
  if (found.depth < path.length || !isScalar(found.value) || !found.value.range) return undefined;
  const [start, end] = found.value.range;
  return { raw: src.text.slice(start, end), start };
}
