import { z } from 'zod';
import { DURATION_PATTERN, SIZE_PATTERN, parseDuration, parseSize } from './units.js';

/**
 * Zod field builders shared by the core and every kind, so that durations, sizes, ports and
 * numbers read the same everywhere — also when they arrive as strings from `${VAR}` or `--set`.
 */

const NUMERIC = /^-?\d+(?:\.\d+)?$/;

/** An integer, also written as a numeric string (`${PORT:-8000}` interpolates to a string). */
export function int(description: string) {
  return z
    .union([z.number().int(), z.string().regex(/^-?\d+$/, 'expected an integer').transform(Number)])
    .describe(description);
}

/** A non-negative number, also written as a numeric string. */
export function number(description: string) {
  return z
    .union([z.number(), z.string().regex(NUMERIC, 'expected a number').transform(Number)])
    .pipe(z.number().min(0))
    .describe(description);
}

/** A boolean, also written as the strings `true`/`false` (from a variable or --set). */
export function bool(description: string) {
  return z
    .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
    .describe(description);
}

/** A duration in milliseconds: `250ms`, `10s`, `1m30s`, or a number of milliseconds. */
export function duration(description: string) {
  return z
    .union([
      z.number().min(0),
      z
        .string()
        .regex(new RegExp(`${DURATION_PATTERN.source}|^\\d+(?:\\.\\d+)?$`), 'expected a duration such as 250ms, 10s or 1m30s'),
    ])
    .transform((v) => parseDuration(v))
    .describe(description);
}

/** A size in bytes: `16kb`, `1mb`, or a number of bytes. */
export function size(description: string) {
  return z
    .union([z.number().int().min(0), z.string().regex(SIZE_PATTERN, 'expected a size such as 16kb or 1mb')])
    .transform((v) => parseSize(v))
    .describe(description);
}

/** A list of service names (for `dependsOn` and kinds' references). */
export function serviceNames(description: string) {
  return z.array(z.string().min(1)).describe(description);
}

/** A parsed `listen` value: a TCP host and port, or a unix socket path. */
export type ListenAddress = { host: string; port: number } | { path: string };

/** Parses `8000`, `"127.0.0.1:8000"`, `"[::1]:8000"`, `":8000"` or a unix socket path; undefined if none. */
export function parseListen(value: string | number, defaultHost = '0.0.0.0'): ListenAddress | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 65535 ? { host: defaultHost, port: value } : undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return parseListen(Number(text), defaultHost);
  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('../') || text.endsWith('.sock')) return { path: text };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s/[\]]*)):(\d+)$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || defaultHost), port };
}

/** A listen address: a port, `"host:port"`, or a unix socket path; parsed to a ListenAddress. */
export function listen(description: string) {
  return z
    .union([z.number().int(), z.string()])
    .transform((value, ctx) => {
      const parsed = parseListen(value);
      if (!parsed) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `not a listen address: ${JSON.stringify(value)} (expected a port 0-65535, "host:port" or a unix socket path)`,
        });
        return z.NEVER;
      }
      return parsed;
    })
    .describe(description);
}

/** Whether only this machine can connect to `address`: 127.0.0.0/8, ::1, localhost or a unix socket. */
export function isLoopback(address: ListenAddress): boolean {
  if ('path' in address) return true;
  const host = address.host.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = host.startsWith('::ffff:') ? host.slice('::ffff:'.length) : host;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Formats a ListenAddress as a URL-ish string for logs: `http://127.0.0.1:8000` or `unix:/run/app.sock`. */
export function formatListen(address: ListenAddress, scheme = 'http'): string {
  if ('path' in address) return `unix:${address.path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${scheme}://${host}:${address.port}`;
}
