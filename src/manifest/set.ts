import { LineCounter, parseDocument } from 'yaml';
import { HendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import type { LoadResult, LoadedLayer } from './load.js';
import { locateExact, offsetToLocation, scalarSource, type YamlSource } from './locate.js';
import { PathSyntaxError, isPathPrefix, parsePathText, type PathTextSegment } from './path.js';

/** The file name shown for locations inside `--set` flags. */
export const SET_FILE = '--set';

/**
 * Parses one `--set path=value` flag into a layer. The value is read as a YAML scalar or flow
 * value (`9000` is a number, `null` deletes, `[a, b]` is a list); an empty value is the empty
 * string. Locations point into the flag: file `--set`, line 1, column = the 1-based column
 * within the flag.
 */
export function parseSetFlag(flag: string): LoadResult {
  const line = 1; // a flag is one line
  const fail = (message: string, column: number, length = 1): LoadResult => ({
    layer: undefined,
    errors: [
      new HendrixError('HX_ERR_SET_SYNTAX', {
        message,
        location: { file: SET_FILE, line, column, endLine: line, endColumn: column + Math.max(1, length) },
      }),
    ],
  });
  const eq = flag.indexOf('=');
  if (eq < 0) return fail(`--set \`${flag}\` has no \`=\`; write --set path=value`, 1, flag.length);
  const pathText = flag.slice(0, eq);
  if (pathText.trim() === '') return fail(`--set \`${flag}\` has an empty path before \`=\``, 1, 1);
  let segments: PathTextSegment[];
  try {
    segments = parsePathText(pathText);
  } catch (cause) {
    if (cause instanceof PathSyntaxError) return fail(`malformed path in --set \`${flag}\`: ${cause.message}`, cause.column);
    throw cause;
  }
  const valueText = flag.slice(eq + 1);
  const lineCounter = new LineCounter();
  const doc = parseDocument(valueText, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const src: YamlSource = { file: SET_FILE, text: valueText, doc, lineCounter, origin: { line, column: eq + 2 } };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const loc = offsetToLocation(src, e.pos[0], e.pos[1]);
    const msg = e.message.split('\n')[0]!.replace(/\.$/, '');
    return fail(`the value of --set \`${pathText}\` is not a valid YAML value: ${msg.charAt(0).toLowerCase()}${msg.slice(1)}`, loc.column);
  }
  const value: unknown = valueText.trim() === '' ? '' : doc.toJS({ maxAliasCount: 100 });
  const at = segments.map((s) => s.value);
  const segmentLocation = (index: number): SourceLocation => {
    const seg = segments[Math.max(0, index)]!;
    return index < 0
      ? { file: SET_FILE, line, column: 1 }
      : { file: SET_FILE, line, column: seg.column, endLine: line, endColumn: seg.column + seg.length };
  };
  const layer: LoadedLayer = {
    layer: { type: 'set', file: SET_FILE, source: flag },
    value,
    at,
    locate(path: readonly PathSegment[], target = 'auto') {
      if (isPathPrefix(at, path)) {
        const sub = path.slice(at.length);
        if (sub.length === 0 && target === 'key') return segmentLocation(at.length - 1);
        if (sub.length === 0 && valueText.trim() === '') return offsetToLocation(src, 0);
        return locateExact(src, sub, target);
      }
      if (isPathPrefix(path, at)) return segmentLocation(path.length - 1);
      return undefined;
    },
    scalar(path: readonly PathSegment[]) {
      if (!isPathPrefix(at, path)) return undefined;
      const found = scalarSource(src, path.slice(at.length));
      if (!found) return undefined;
      return {
        raw: found.raw,
        toLocation: (offset: number, length?: number) =>
          offsetToLocation(src, found.start + offset, length ? found.start + offset + length : undefined),
      };
    },
  };
  return { layer, errors: [] };
}
