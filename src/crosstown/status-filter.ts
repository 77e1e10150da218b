/**
 * Status patterns for `skipStatus`: which response statuses mean "do not run the work after
 * this response". A pattern is an exact code (`404` or `"404"`), an inclusive range
 * (`"400-405"`) or a class (`"5xx"`). Python hendrix's `no_go_status_codes` took the same
 * three forms but crashed on ranges; here every form is parsed once, into a lookup table.
 */

/** One skipStatus entry as written in the manifest or passed to crosstown(). */
export type StatusPattern = number | string;

/** The lowest and highest status codes a pattern may name. */
const MIN = 100;
const MAX = 599;

/** The text form of every valid pattern, for the JSON Schema: `404`, `400-405`, `4xx`. */
export const STATUS_PATTERN_REGEX = /^(?:[1-5]\d\d(?:-[1-5]\d\d)?|[1-5][xX]{2})$/;

/** What a status pattern must look like, for error messages. */
export const STATUS_PATTERN_HELP = 'expected a status code such as 404, a range such as "400-405", or a class such as "5xx"';

/** The statuses skipped when nothing else is said: client and server errors. */
export const DEFAULT_SKIP_STATUS: readonly StatusPattern[] = ['4xx', '5xx'];

/**
 * Parses one pattern into an inclusive range of codes, or returns the reason it is not one
 * (a string): `404` → [404, 404], `"400-405"` → [400, 405], `"5xx"` → [500, 599].
 */
export function parseStatusPattern(pattern: StatusPattern): readonly [number, number] | string {
  if (typeof pattern === 'number') {
    if (!Number.isInteger(pattern) || pattern < MIN || pattern > MAX) return `${pattern} is not a status code (${MIN}-${MAX})`;
    return [pattern, pattern];
  }
  if (typeof pattern !== 'string') return `${String(pattern)} is not a status pattern; ${STATUS_PATTERN_HELP}`;
  const text = pattern.trim();
  if (!STATUS_PATTERN_REGEX.test(text)) return `${JSON.stringify(pattern)} is not a status pattern; ${STATUS_PATTERN_HELP}`;
  if (/x/i.test(text)) {
    const hundreds = Number(text[0]) * 100;
    return [hundreds, hundreds + 99];
  }
  const [from, to = from] = text.split('-').map(Number) as [number, number?];
  if (to < from) return `the range ${JSON.stringify(pattern)} ends before it starts; write "${to}-${from}"`;
  return [from, to];
}

/** A compiled skipStatus list: `skips(status)` answers in one array read. */
export interface StatusFilter {
  /** True when work scheduled during a response with this status must not run. */
  skips(status: number): boolean;
  /** The patterns it was built from, for logs. */
  readonly patterns: readonly StatusPattern[];
}

/**
 * Compiles a skipStatus list; throws a TypeError naming the first bad pattern. Statuses
 * outside 100-599 (which Node never sends) are never skipped.
 */
export function createStatusFilter(patterns: readonly StatusPattern[]): StatusFilter {
  const table = new Uint8Array(MAX + 1);
  for (const pattern of patterns) {
    const range = parseStatusPattern(pattern);
    if (typeof range === 'string') throw new TypeError(`skipStatus: ${range}`);
    table.fill(1, range[0], range[1] + 1);
  }
  return {
    skips: (status) => status >= 0 && status <= MAX && table[status] === 1,
    patterns: [...patterns],
  };
}

const cache = new Map<string, StatusFilter>();

/**
 * The filter of a per-call skipStatus list, compiled once per distinct list (calls usually
 * pass the same literal list on every request).
 */
export function statusFilterFor(patterns: readonly StatusPattern[]): StatusFilter {
  const key = JSON.stringify(patterns);
  let filter = cache.get(key);
  if (filter === undefined) {
    filter = createStatusFilter(patterns);
    if (cache.size < 256) cache.set(key, filter);
  }
  return filter;
}
