import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import type { ServiceKind } from '../kinds/contract.js';
import type { ListenAddress } from '../kinds/fields.js';
import { isPlainMap } from './path.js';
import { serviceSchema } from './root-schema.js';

/** The parts of a zod definition the walk reads (zod 4 keeps them in `_zod.def`). */
interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly out?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly element?: z.ZodType;
  readonly valueType?: z.ZodType;
  readonly getter?: () => z.ZodType;
}

/**
 * A validated manifest written back as manifest input, so that reading it again gives the same
 * manifest: a value a schema turned into something else (a listen address parsed to `{ host,
 * port }`) is written the way the schema reads it, every `$` in a string is doubled (the values
 * were interpolated already: `$${seq}` came out as `${seq}`), and `kind` comes first in each
 * service. Durations and sizes stay numbers of milliseconds and bytes, which the schemas read.
 */
export function toManifestInput(manifest: Record<string, unknown>, kinds: ReadonlyMap<string, ServiceKind>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(manifest)) {
    if (key !== 'services' || !isPlainMap(value)) {
      out[key] = escapeDollars(value);
      continue;
    }
    const services: Record<string, unknown> = {};
    for (const [name, config] of Object.entries(value)) {
      const kind = kinds.get(name);
      const written = kind === undefined ? config : toInput(serviceSchema(kind), config);
      services[name] = escapeDollars(isPlainMap(written) ? { kind: written['kind'], ...written } : written);
    }
    out[key] = services;
  }
  return out;
}

/** `value` (an output of `schema`) as an input that `schema` reads back as `value`. */
function toInput(schema: z.ZodType | undefined, value: unknown): unknown {
  if (schema === undefined || value === undefined) return value;
  const def = schema._zod.def as unknown as Def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'nonoptional':
    case 'catch':
      return toInput(def.innerType, value);
    case 'lazy':
      return toInput(def.getter?.(), value);
    case 'object': {
      if (!isPlainMap(value)) return value;
      const shape = (schema as z.ZodObject).shape;
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toInput(shape[key], item)]));
    }
    case 'record':
      return isPlainMap(value) ? Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toInput(def.valueType, item)])) : value;
    case 'array':
      return Array.isArray(value) ? value.map((item) => toInput(def.element, item)) : value;
    case 'union':
      // the first option that reads the written-back value as this very value
      for (const option of def.options ?? []) {
        const candidate = toInput(option, value);
        if (readsAs(option, candidate, value)) return candidate;
      }
      return value;
    case 'pipe': {
      // a transform's output is not its input: a parsed listen address goes back to its text
      if (isListenAddress(value)) {
        const text = listenText(value);
        if (readsAs(schema, text, value)) return text;
      }
      // .pipe(schema) checks the value further (its shape is the piped schema's); a transform ends the walk
      return def.out?._zod.def.type === 'transform' ? value : toInput(def.out, value);
    }
    default:
      return value;
  }
}

function readsAs(schema: z.ZodType, input: unknown, value: unknown): boolean {
  const read = schema.safeParse(input);
  return read.success && isDeepStrictEqual(read.data, value);
}

function isListenAddress(value: unknown): value is ListenAddress {
  if (!isPlainMap(value)) return false;
  const keys = Object.keys(value).sort().join(',');
  return (keys === 'host,port' && typeof value['host'] === 'string' && typeof value['port'] === 'number') || (keys === 'path' && typeof value['path'] === 'string');
}

/** A listen address as the manifest writes it: `127.0.0.1:8000`, `[::1]:8000`, or a socket path. */
function listenText(address: ListenAddress): string {
  if ('path' in address) return address.path;
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

/** Doubles every `$` of every string, so that interpolation reads the strings back unchanged. */
function escapeDollars(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('$', '$$$$');
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (isPlainMap(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, escapeDollars(item)]));
  return value;
}
