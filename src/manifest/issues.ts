import type { z } from 'zod';
import { HendrixError, formatPath, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import { getAt } from './path.js';
import { suggest } from '../errors/suggest.js';

/** The message zod gives an issue when the schema did not set one (see toManifestErrors). */
export const DEFAULT_MESSAGE = '\u0000hendrix-default';

/** Pass as the second argument of safeParse so that schema-set messages can be told apart. */
export const PARSE_PARAMS = { error: () => DEFAULT_MESSAGE } as const;

type Issue = z.core.$ZodIssue;

/** What issue mapping needs to know about the value that was validated. */
export interface IssueContext {
  /** The schema that produced the issues (to find the keys allowed where one is unknown). */
  readonly schema: z.ZodType;
  /** The manifest path of the validated value: [] for the root, ['services', name] for a service. */
  readonly base: readonly PathSegment[];
  /** The validated input. */
  readonly value: unknown;
  /** The service the value belongs to, if any. */
  readonly service?: string | undefined;
  /** Locates a value (or its nearest ancestor) and a key. */
  readonly locate: (path: readonly PathSegment[]) => SourceLocation | undefined;
  readonly locateKey: (path: readonly PathSegment[]) => SourceLocation | undefined;
}

function defOf(schema: unknown): Record<string, unknown> & { type: string } {
  return (schema as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
}

/** Unwraps optional/default/pipe/union... wrappers down to the schemas that hold the shape. */
function unwrap(schema: unknown, depth = 0): unknown[] {
  if (!schema || depth > 20) return [];
  const def = defOf(schema);
  switch (def.type) {
    case 'optional': case 'nullable': case 'default': case 'prefault': case 'readonly': case 'catch': case 'nonoptional':
      return unwrap(def.innerType, depth + 1);
    case 'pipe':
      return unwrap(def.in, depth + 1);
    case 'lazy':
      return unwrap((def.getter as () => unknown)(), depth + 1);
    case 'union':
      return (def.options as unknown[]).flatMap((o) => unwrap(o, depth + 1));
    case 'intersection':
      return [...unwrap(def.left, depth + 1), ...unwrap(def.right, depth + 1)];
    default:
      return [schema];
  }
}

/** The keys an object schema allows at `path` (inside `schema`), for did-you-mean. */
export function knownKeys(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let here = unwrap(schema);
  for (const seg of path) {
    here = here.flatMap((s) => {
      const def = defOf(s);
      if (def.type === 'object') return unwrap((def.shape as Record<string, unknown>)[String(seg)]);
      if (def.type === 'array' && typeof seg === 'number') return unwrap(def.element);
      if (def.type === 'record') return unwrap(def.valueType);
      return [];
    });
  }
  const keys = new Set<string>();
  for (const s of here) if (defOf(s).type === 'object') for (const k of Object.keys(defOf(s).shape as object)) keys.add(k);
  return [...keys];
}

/** Describes a found value for messages: `the string "abc"`, `a list`, `null`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return value === '' ? 'an empty string' : `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `\`${value}\``;
  if (Array.isArray(value)) return value.length ? `a list of ${value.length} item${value.length === 1 ? '' : 's'}` : 'an empty list';
  return 'a mapping';
}

const TYPE_PHRASES: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', object: 'a mapping',
  record: 'a mapping', array: 'a list', null: 'null', bigint: 'an integer', date: 'a date',
};

function either(items: readonly string[]): string {
  const list = [...new Set(items)];
  return list.length <= 1 ? (list[0] ?? 'something else') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

function literal(v: unknown): string {
  return typeof v === 'string' ? `\`${v}\`` : String(v);
}

interface Expectation {
  readonly phrase: string;
  /** The zod type name for a type expectation. */
  readonly type?: string;
  /** The literal for a value expectation. */
  readonly value?: unknown;
}

/** What a union branch's single issue says was expected (invalid_type / invalid_value at the union itself). */
function expectedOf(issue: Issue): Expectation[] | undefined {
  if (issue.path.length) return undefined;
  if (issue.code === 'invalid_type') return [{ phrase: TYPE_PHRASES[issue.expected] ?? `a ${issue.expected}`, type: issue.expected }];
  if (issue.code === 'invalid_value') return issue.values.map((value) => ({ phrase: literal(value), value }));
  return undefined;
}

/** Merges branch expectations; a value already covered by a type (the string "true" by boolean) goes. */
function mergeExpectations(list: readonly Expectation[]): { phrases: string[]; allTypes: boolean } {
  const types = new Set(list.filter((e) => e.type).map((e) => e.type!));
  const covered = (e: Expectation) =>
    e.type === undefined &&
    (types.has(typeof e.value) || (types.has('boolean') && (e.value === 'true' || e.value === 'false')) || (types.has('int') && Number.isInteger(e.value)));
  const kept = list.filter((e) => !covered(e));
  return { phrases: [...new Set(kept.map((e) => e.phrase))], allTypes: kept.every((e) => e.type !== undefined) };
}

/** Flattens union issues: a branch whose type matched speaks for the union; else all branches' expectations merge. */
function flatten(issues: readonly Issue[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    if (issue.code !== 'invalid_union' || issue.errors.length === 0) {
      out.push(issue);
      continue;
    }
    const branches = issue.errors.map((b) => flatten(b));
    const expectations = branches.map((b) => (b.length === 1 ? expectedOf(b[0]!) : undefined));
    const typeOnly = (b: Issue[]) => b.length === 1 && b[0]!.code === 'invalid_type' && b[0]!.path.length === 0;
    const matched = branches.find((b, i) => !typeOnly(b) && expectations[i] === undefined);
    if (matched) out.push(...matched.map((m) => ({ ...m, path: [...issue.path, ...m.path] }) as Issue));
    else if (expectations.every((e) => e !== undefined)) {
      const params = mergeExpectations(expectations.flat());
      out.push({ code: 'custom', path: issue.path, message: DEFAULT_MESSAGE, params } as unknown as Issue);
    } else out.push(...branches[0]!.map((m) => ({ ...m, path: [...issue.path, ...m.path] }) as Issue));
  }
  return out;
}

function custom(issue: Issue): string | undefined {
  return issue.message && issue.message !== DEFAULT_MESSAGE ? issue.message : undefined;
}

function boundPhrase(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? issue.minimum : issue.maximum);
  const inclusive = issue.inclusive !== false;
  const cmp = small ? (inclusive ? 'at least' : 'greater than') : inclusive ? 'at most' : 'less than';
  if (issue.origin === 'string') return small && bound === 1 ? 'must not be empty' : `must be ${cmp} ${bound} characters long`;
  if (issue.origin === 'array' || issue.origin === 'set') return `must have ${cmp} ${bound} item${bound === 1 ? '' : 's'}`;
  return `must be ${cmp} ${bound}`;
}

/**
 * Turns zod issues into HendrixErrors with stable codes, precise paths and locations: an
 * unknown key (one error per key, at the key, with did-you-mean), a wrong type, a missing
 * required key (at its parent), or an invalid value.
 */
export function toManifestErrors(issues: readonly Issue[], ctx: IssueContext): HendrixError[] {
  const errors: HendrixError[] = [];
  const service = ctx.service === undefined ? {} : { service: ctx.service };
  const flat = flatten(issues);
  // a missing key that a misspelt unknown key beside it stands for is reported once, as the typo
  const meant = new Set<string>();
  for (const issue of flat) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeys(ctx.schema, issue.path as PathSegment[]);
    for (const key of issue.keys) {
      const hit = suggest(key, known);
      if (hit) meant.add(JSON.stringify([...issue.path, hit]));
    }
  }
  for (const issue of flat) {
    const rel = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
    const path = [...ctx.base, ...rel];
    const label = `\`${formatPath(ctx.service === undefined ? path : rel) || 'the manifest'}\``;
    const found = getAt(ctx.value, rel);
    const push = (code: ConstructorParameters<typeof HendrixError>[0], message: string, at: PathSegment[], location = ctx.locate(at), hint?: string) =>
      errors.push(new HendrixError(code, { message, path: at, ...(location ? { location } : {}), ...service, ...(hint ? { hint } : {}) }));
    const where = path.length ? `in ${formatPath(path)}` : 'at the top level';
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeys(ctx.schema, rel);
        for (const key of issue.keys) {
          const hit = suggest(key, known);
          const at = [...path, key];
          push('HX_ERR_UNKNOWN_KEY', `unknown key \`${key}\` ${where}${hit ? ` — did you mean \`${hit}\`?` : ''}`, at, ctx.locateKey(at),
            known.length ? `the keys allowed here are: ${known.join(', ')}` : undefined);
        }
        break;
      }
      case 'invalid_type':
        if (found === undefined && meant.has(JSON.stringify(rel))) break;
        if (found === undefined && getAt(ctx.value, rel.slice(0, -1)) !== undefined) {
          const parent = path.slice(0, -1);
          const owner = parent.length ? formatPath(parent) : 'the manifest';
          push('HX_ERR_MISSING_KEY', `${owner} is missing the required key \`${String(rel[rel.length - 1])}\``, path, ctx.locateKey(parent),
            `add \`${String(rel[rel.length - 1])}:\` (${TYPE_PHRASES[issue.expected] ?? issue.expected})`);
        } else push('HX_ERR_INVALID_TYPE', `${label} must be ${TYPE_PHRASES[issue.expected] ?? `a ${issue.expected}`}, but found ${describeValue(found)}`, path);
        break;
      case 'invalid_value': {
        const hit = typeof found === 'string' ? suggest(found, issue.values.filter((v): v is string => typeof v === 'string')) : undefined;
        const expected = issue.values.length === 1 ? literal(issue.values[0]) : `one of ${either(issue.values.map(literal))}`;
        push('HX_ERR_INVALID_VALUE', `${label} must be ${expected}, but found ${describeValue(found)}${hit ? ` — did you mean \`${hit}\`?` : ''}`, path);
        break;
      }
      case 'too_small':
      case 'too_big':
        push('HX_ERR_INVALID_VALUE', custom(issue) ? `${label}: ${custom(issue)}` : `${label} ${boundPhrase(issue)}, but found ${describeValue(found)}`, path);
        break;
      case 'invalid_format':
        push('HX_ERR_INVALID_VALUE', `${label}: ${custom(issue) ?? `expected ${issue.format === 'regex' ? `text matching ${issue.pattern}` : `a valid ${issue.format}`}`}, but found ${describeValue(found)}`, path);
        break;
      case 'invalid_key': {
        const inner = issue.issues[0];
        const why = (inner && custom(inner as Issue)) ?? 'this key is not allowed here';
        push('HX_ERR_INVALID_VALUE', `${label}: ${why}`, path, ctx.locateKey(path));
        break;
      }
      default: {
        const params = (issue as { params?: { phrases?: string[]; allTypes?: boolean } }).params;
        const expected = params?.phrases;
        if (expected) {
          const phrase = params.allTypes || expected.length === 1 ? either(expected) : `one of ${either(expected)}`;
          push(params.allTypes ? 'HX_ERR_INVALID_TYPE' : 'HX_ERR_INVALID_VALUE', `${label} must be ${phrase}, but found ${describeValue(found)}`, path);
        }
        else push('HX_ERR_INVALID_VALUE', `${label}: ${custom(issue) ?? 'invalid value'}`, path);
      }
    }
  }
  return errors;
}
