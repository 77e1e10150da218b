import { isMap, isPair, isScalar, isSeq, type Node } from 'yaml';
import { HendrixError, formatPath, type PathSegment } from '../errors/hendrix-error.js';
import { offsetToLocation, type YamlSource } from './locate.js';

const HINTS: Record<string, string> = {
  BAD_INDENT: 'indent every key of a mapping by the same number of spaces',
  TAB_AS_INDENT: 'indent with spaces; YAML does not allow tabs for indentation',
  MISSING_CHAR: 'close the quote, bracket or brace that was opened',
  MULTIPLE_DOCS: 'a manifest is one YAML document; remove the `---` separator',
  BLOCK_AS_IMPLICIT_KEY: 'a key must fit on one line and be followed by `: `',
  MULTILINE_IMPLICIT_KEY: 'a key must fit on one line and be followed by `: `',
};

function sentence(message: string): string {
  const first = message.split('\n')[0]!.replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

function lineAt(text: string, offset: number): { start: number; end: number; indent: number } {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  const nl = text.indexOf('\n', offset);
  const end = nl < 0 ? text.length : nl;
  return { start, end, indent: /^ */.exec(text.slice(start, end))![0].length };
}

/**
 * A line indented deeper than the key before it makes YAML read it as part of that key's value
 * and complain about the previous line; point at the deeper line instead.
 */
function deeperLine(src: YamlSource, offset: number): HendrixError | undefined {
  const here = lineAt(src.text, offset);
  if (here.end >= src.text.length) return undefined;
  const next = lineAt(src.text, here.end + 1);
  if (next.indent <= here.indent || next.start + next.indent >= next.end) return undefined;
  return new HendrixError('HX_ERR_YAML_SYNTAX', {
    message: 'invalid YAML: this line is indented deeper than the key above it, so it reads as part of that value',
    location: offsetToLocation(src, next.start + next.indent, next.end),
    hint: HINTS.BAD_INDENT!,
  });
}

/** An unclosed quote runs to the end of the file; point at the quote that opened it. */
function unclosedQuote(src: YamlSource, message: string, offset: number): HendrixError | undefined {
  const quote = message.includes('"') ? '"' : message.includes("'") ? "'" : undefined;
  if (!quote) return undefined;
  const open = src.text.lastIndexOf(quote, Math.max(0, offset - 1));
  if (open < 0) return undefined;
  return new HendrixError('HX_ERR_YAML_SYNTAX', {
    message: `invalid YAML: the string opened by this ${quote === '"' ? 'double' : 'single'} quote is never closed`,
    location: offsetToLocation(src, open, lineAt(src.text, open).end),
    hint: `add the closing ${quote} at the end of the value`,
  });
}

/** Turns the YAML parser's errors into HendrixErrors with file:line:column (one per spot). */
export function syntaxErrors(src: YamlSource): HendrixError[] {
  const errors: HendrixError[] = [];
  const seen = new Set<number>();
  for (const e of src.doc.errors) {
    if (e.code === 'DUPLICATE_KEY') continue; // duplicateKeys() says which key and where
    const start = e.pos[0];
    // one mistake makes the parser stumble over the rest of its line: report the first only
    const line = offsetToLocation(src, start).line;
    if (seen.has(line)) continue;
    seen.add(line);
    const better =
      e.code === 'BLOCK_AS_IMPLICIT_KEY' || e.code === 'MULTILINE_IMPLICIT_KEY'
        ? deeperLine(src, start)
        : e.code === 'MISSING_CHAR'
          ? unclosedQuote(src, e.message, start)
          : undefined;
    errors.push(
      better ??
        new HendrixError('HX_ERR_YAML_SYNTAX', {
          message: `invalid YAML: ${sentence(e.message)}`,
          location: offsetToLocation(src, start, e.pos[1]),
          ...(inlineVariable(src, start)
            ? { hint: 'inside { } or [ ] a ${VAR} must be quoted: "${VAR}"' }
            : HINTS[e.code]
              ? { hint: HINTS[e.code] }
              : {}),
        }),
    );
  }
  return errors;
}

/** True when the line of `offset` puts an unquoted ${VAR} inside a flow collection ({ } or [ ]). */
function inlineVariable(src: YamlSource, offset: number): boolean {
  const text = src.text;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = text.indexOf('\n', offset);
  const line = text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd);
  return /[{[][^"']*(?<!["'])\$\{/.test(line);
}

/** Finds keys that appear twice in one mapping, anywhere in the document; reports the second one. */
export function duplicateKeys(src: YamlSource): HendrixError[] {
  const errors: HendrixError[] = [];
  const walk = (node: unknown, path: PathSegment[]) => {
    if (isMap(node)) {
      const seen = new Map<string, Node>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
        const first = seen.get(key);
        const keyNode = pair.key as Node | null;
        if (first && keyNode?.range) {
          const firstLine = first.range ? offsetToLocation(src, first.range[0]).line : undefined;
          const where = path.length ? `in ${formatPath(path)}` : 'at the top level';
          errors.push(
            new HendrixError('HX_ERR_YAML_DUPLICATE_KEY', {
              message: `duplicate key \`${key}\` ${where}${firstLine ? ` (first defined on line ${firstLine})` : ''}`,
              path: [...path, key],
              location: offsetToLocation(src, keyNode.range[0], keyNode.range[1]),
            }),
          );
        } else if (keyNode) seen.set(key, keyNode);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
  };
  walk(src.doc.contents, []);
  return errors;
}
