/** Parsers for the duration and size strings of the manifest (`10s`, `250ms`, `1mb`). */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

/** The pattern a duration string must match: one or more `<number><unit>` parts, e.g. `1m30s`. */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
/** The pattern a size string must match, e.g. `512kb`, `1mb`, `1.5gb`. */
export const SIZE_PATTERN = /^\d+(?:\.\d+)?\s*(?:b|kb|k|mb|m|gb|g)?$/i;

/** Parses a duration (`250ms`, `10s`, `1m30s`, or a number of milliseconds) to milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  if (!DURATION_PATTERN.test(text)) throw new RangeError(`not a duration: ${JSON.stringify(value)}`);
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return Math.round(total);
}

/** Parses a size (`1mb`, `16kb`, or a number of bytes) to bytes. */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = SIZE_UNITS[(m?.[2] || 'b').toLowerCase()];
  if (!m || unit === undefined) throw new RangeError(`not a size: ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * unit);
}

/** Formats milliseconds for humans: `12 ms`, `1.5 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
