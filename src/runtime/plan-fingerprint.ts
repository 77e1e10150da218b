import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** Serializes a value with sorted object keys, so that equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** A stable fingerprint of a value: the first 16 bytes of the SHA-256 of its canonical JSON, hex. */
export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 32);
}

/** The SHA-256 (hex) of every regular file among `files` (folders and unreadable files have none). */
export async function digestFiles(files: readonly { path: string }[]): Promise<Map<string, string | undefined>> {
  const unique = [...new Set(files.map((f) => f.path))];
  const digests = await Promise.all(
    unique.map(async (path) => {
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) return undefined;
      const data = await readFile(path).catch(() => undefined);
      return data ? createHash('sha256').update(data).digest('hex') : undefined;
    }),
  );
  return new Map(unique.map((path, i) => [path, digests[i]]));
}
