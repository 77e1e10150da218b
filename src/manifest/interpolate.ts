import { HendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import type { ScalarText } from './load.js';
import { isPlainMap } from './path.js';

/** A problem found while interpolating one string; offsets are into that string. */
export interface InterpolationProblem {
  readonly code: 'HX_ERR_VAR_UNSET' | 'HX_ERR_VAR_REQUIRED' | 'HX_ERR_VAR_SYNTAX';
  readonly message: string;
  readonly hint?: string;
  /** Where the `${` of the offending reference starts in the string. */
  readonly offset: number;
  /** The length of the reference, `${` to `}`. */
  readonly length: number;
}

/** The interpolated string, the variables whose values went into it, and any problems. */
export interface InterpolatedString {
  readonly value: string;
  readonly used: readonly string[];
  readonly problems: readonly InterpolationProblem[];
}

type Part = string | { name: string; op: string; word: Part[]; start: number; end: number };

const OPS = [':-', ':?', ':+', '-', '?', '+'] as const;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

class SyntaxProblem extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly length: number,
  ) {
    super(message);
  }
}

/** Parses `text` from `start`; inside a default (`nested`) it stops at the closing `}`. */
function parse(text: string, start: number, nested: boolean): { parts: Part[]; end: number } {
  const parts: Part[] = [];
  let literal = '';
  let i = start;
  while (i < text.length) {
    const ch = text[i]!;
    if (nested && ch === '}') break;
    if (ch !== '$') {
      literal += ch;
      i += 1;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      literal += '$';
      i += 2;
      continue;
    }
    if (next !== '{') {
      literal += '$';
      i += 1;
      continue;
    }
    if (literal) parts.push(literal);
    literal = '';
    NAME.lastIndex = i + 2;
    const m = NAME.exec(text);
    const close = text.indexOf('}', i);
    const shown = close < 0 ? text.slice(i) : text.slice(i, close + 1);
    if (!m) {
      const what = close === i + 2 ? 'is empty' : 'does not start with a variable name (letters, digits and _)';
      throw new SyntaxProblem(`malformed variable reference \`${shown}\`: it ${what}`, i, shown.length);
    }
    let j = i + 2 + m[0].length;
    const op = OPS.find((o) => text.startsWith(o, j)) ?? '';
    if (!op && text[j] !== '}') {
      if (j >= text.length) throw new SyntaxProblem(`malformed variable reference \`${text.slice(i)}\`: missing the closing \`}\``, i, text.length - i);
      throw new SyntaxProblem(
        `malformed variable reference \`${shown}\`: unexpected \`${text[j]}\` after \`${m[0]}\``,
        i,
        shown.length,
      );
    }
    j += op.length;
    const inner = op ? parse(text, j, true) : { parts: [], end: j };
    if (text[inner.end] !== '}') {
      throw new SyntaxProblem(`malformed variable reference \`${text.slice(i)}\`: missing the closing \`}\``, i, text.length - i);
    }
    parts.push({ name: m[0], op, word: inner.parts, start: i, end: inner.end + 1 });
    i = inner.end + 1;
  }
  if (literal) parts.push(literal);
  return { parts, end: i };
}

/**
 * Interpolates one string: `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}`
 * (unset), `${VAR:?message}` / `${VAR?message}` (required), `${VAR:+alt}` / `${VAR+alt}`,
 * nested defaults such as `${A:-${B:-x}}`, and `$$` for a literal `$`. A `$` not followed by
 * `{` or `$` stays as it is. Defaults are evaluated only when used.
 */
export function interpolateString(text: string, variables: Readonly<Record<string, string | undefined>>): InterpolatedString {
  let parts: Part[];
  try {
    parts = parse(text, 0, false).parts;
  } catch (e) {
    if (!(e instanceof SyntaxProblem)) throw e;
    return { value: text, used: [], problems: [{ code: 'HX_ERR_VAR_SYNTAX', message: e.message, offset: e.offset, length: e.length }] };
  }
  const used = new Set<string>();
  const problems: InterpolationProblem[] = [];
  const evaluate = (list: Part[]): string => {
    let out = '';
    for (const part of list) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = Object.prototype.hasOwnProperty.call(variables, part.name) ? variables[part.name] : undefined;
      const isSet = value !== undefined;
      const present = part.op.startsWith(':') ? isSet && value !== '' : isSet;
      const at = { offset: part.start, length: part.end - part.start };
      const take = () => {
        used.add(part.name);
        return value!;
      };
      if (part.op === '') {
        if (isSet) out += take();
        else
          problems.push({
            code: 'HX_ERR_VAR_UNSET',
            message: `variable \`${part.name}\` is not set and \`${text.slice(part.start, part.end)}\` has no default`,
            hint:
              `set ${part.name} in the environment or in .env beside the manifest, or give a default: \${${part.name}:-value}` +
              // lowercase names are usually a kind's own template (a raw payload's ${seq}), not a variable
              (/[a-z]/.test(part.name) ? `; for a literal \${${part.name}} (a template such as a raw payload's) write $\${${part.name}}` : ''),
            ...at,
          });
      } else if (part.op.endsWith('-')) out += present ? take() : evaluate(part.word);
      else if (part.op.endsWith('+')) out += present ? evaluate(part.word) : '';
      else if (present) out += take();
      else {
        const reason = evaluate(part.word).trim();
        const state = isSet ? 'is empty' : 'is not set';
        problems.push({
          code: 'HX_ERR_VAR_REQUIRED',
          message: `required variable \`${part.name}\` ${state}${reason ? `: ${reason}` : ''}`,
          hint: `set ${part.name} in the environment or in .env beside the manifest`,
          ...at,
        });
      }
    }
    return out;
  };
  const value = evaluate(parts);
  return { value, used: [...used], problems };
}

/** True when a variable name looks like it holds a secret (SECRET, TOKEN, PASSWORD or KEY). */
export function isSecretName(name: string): boolean {
  return /SECRET|TOKEN|PASSWORD|KEY/i.test(name);
}

/** How interpolateTree finds the source of a string value, for error locations. */
export interface InterpolateSources {
  /** The raw text of the scalar at `path`, when known. */
  scalar(path: readonly PathSegment[]): ScalarText | undefined;
  /** The location of the value at `path` (or its nearest ancestor). */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
}

/** The interpolated tree, the paths whose values came from secret-looking variables, and errors. */
export interface InterpolatedTree {
  readonly value: Record<string, unknown>;
  readonly secretPaths: PathSegment[][];
  readonly errors: HendrixError[];
}

function countOccurrences(text: string, needle: string, before: number): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0 && i < before; i = text.indexOf(needle, i + needle.length)) n += 1;
  return n;
}

function nthIndex(text: string, needle: string, n: number): number {
  let i = text.indexOf(needle);
  for (let k = 0; k < n && i >= 0; k++) i = text.indexOf(needle, i + needle.length);
  return i;
}

/**
 * Interpolates every string value of a merged manifest tree (keys are left alone). Errors
 * point at the `${` of the offending reference in the file that set the value.
 */
export function interpolateTree(
  tree: Record<string, unknown>,
  variables: Readonly<Record<string, string | undefined>>,
  sources: InterpolateSources,
): InterpolatedTree {
  const secretPaths: PathSegment[][] = [];
  const errors: HendrixError[] = [];
  const locateProblem = (path: PathSegment[], text: string, p: InterpolationProblem): SourceLocation | undefined => {
    const scalar = sources.scalar(path);
    if (scalar) {
      // the n-th `${` of the value is the n-th `${` of the raw scalar, whatever quoting shifted
      const index = nthIndex(scalar.raw, '${', countOccurrences(text, '${', p.offset));
      if (index >= 0) return scalar.toLocation(index, p.length);
    }
    return sources.locate(path);
  };
  const walk = (node: unknown, path: PathSegment[]): unknown => {
    if (typeof node === 'string') {
      if (!node.includes('$')) return node;
      const result = interpolateString(node, variables);
      for (const p of result.problems) {
        const location = locateProblem(path, node, p);
        errors.push(new HendrixError(p.code, { message: p.message, path, ...(location ? { location } : {}), ...(p.hint ? { hint: p.hint } : {}), ...serviceOf(path) }));
      }
      if (result.used.some(isSecretName)) secretPaths.push(path);
      return result.value;
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (isPlainMap(node)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) {
        Object.defineProperty(out, k, { value: walk(v, [...path, k]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return node;
  };
  const value = walk(tree, []) as Record<string, unknown>;
  return { value, secretPaths, errors };
}

function serviceOf(path: readonly PathSegment[]): { service?: string } {
  return path[0] === 'services' && typeof path[1] === 'string' ? { service: path[1] } : {};
}
