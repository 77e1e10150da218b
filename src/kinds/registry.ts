import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HendrixError } from '../errors/hendrix-error.js';
import { didYouMean } from '../errors/suggest.js';
import type { ServiceKind } from './contract.js';
import { isServiceKind } from './define-service-kind.js';

/** True when a `kind:` value names a module file rather than a built-in or a package. */
export function isPathSpec(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec);
}

const cache = new Map<string, Promise<ServiceKind>>();

/** Finds the entry file of a package from `baseDir`, also for ESM-only packages. */
function resolvePackage(spec: string, baseDir: string): string | undefined {
  const require = createRequire(join(baseDir, '__hendrix__.js'));
  try {
    return require.resolve(spec);
  } catch {
    // ESM-only packages do not resolve through require; read their package.json instead
  }
  const [scopeOrName, maybeName] = spec.split('/');
  const pkgName = spec.startsWith('@') ? `${scopeOrName}/${maybeName}` : scopeOrName!;
  for (let dir = baseDir; ; dir = dirname(dir)) {
    const pkgDir = join(dir, 'node_modules', pkgName);
    if (existsSync(join(pkgDir, 'package.json'))) {
      const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
      const exp = pkg.exports as Record<string, unknown> | string | undefined;
      const dot = typeof exp === 'string' ? exp : (exp?.['.'] ?? exp);
      const entry =
        typeof dot === 'string' ? dot : ((dot as Record<string, unknown> | undefined)?.import ?? (dot as Record<string, unknown> | undefined)?.default ?? pkg.module ?? pkg.main ?? 'index.js');
      return typeof entry === 'string' ? join(pkgDir, entry) : undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

async function importKind(file: string, spec: string): Promise<ServiceKind> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new HendrixError('HX_ERR_KIND_LOAD', {
      message: `kind module ${spec} failed to load: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    });
  }
  const candidate = [mod.default, mod.kind, ...Object.values(mod)].find(isServiceKind);
  if (!candidate) {
    throw new HendrixError('HX_ERR_KIND_LOAD', {
      message: `kind module ${spec} exports no defineServiceKind(...) descriptor`,
    });
  }
  return candidate;
}

/** A kind known by name: its descriptor, or a function that loads it when a manifest uses it. */
export type KindSource = ServiceKind | (() => Promise<ServiceKind>);

/** How `kind:` values resolve: the kinds given at the edge by name, then module paths and packages. */
export interface KindRegistry {
  /** The names of the kinds known by name (the CLI and the package entry give the built-in ones). */
  readonly names: readonly string[];
  /** Every kind known by name, loaded (for the JSON Schema and docs). */
  loadAll(): Promise<ReadonlyMap<string, ServiceKind>>;
  /**
   * Resolves a `kind:` value to its descriptor: a known name, a module path relative to the
   * manifest folder, or a package name. Rejects with HX_ERR_UNKNOWN_KIND or HX_ERR_KIND_LOAD.
   */
  load(spec: string, baseDir: string): Promise<ServiceKind>;
}

/**
 * Creates the registry of a run from the kinds known by name: the core knows no kind itself,
 * so the edge (the CLI, the package entry, a test) says which ones exist.
 */
export function createKindRegistry(known: Iterable<readonly [string, KindSource]> = []): KindRegistry {
  const sources = new Map(known);
  const loaded = new Map<string, Promise<ServiceKind>>();
  const byName = (name: string): Promise<ServiceKind> | undefined => {
    const source = sources.get(name);
    if (source === undefined) return undefined;
    let pending = loaded.get(name);
    if (!pending) {
      pending = isServiceKind(source) ? Promise.resolve(source) : source();
      loaded.set(name, pending);
    }
    return pending;
  };
  const names = Object.freeze([...sources.keys()]);
  return {
    names,
    async loadAll() {
      return new Map(await Promise.all(names.map(async (name) => [name, await byName(name)!] as const)));
    },
    load: (spec, baseDir) => byName(spec) ?? loadKind(spec, baseDir, names),
  };
}

function loadKind(spec: string, baseDir: string, builtinNames: readonly string[]): Promise<ServiceKind> {
  let file: string | undefined;
  if (isPathSpec(spec)) {
    file = resolve(baseDir, spec);
    if (!existsSync(file)) {
      return Promise.reject(new HendrixError('HX_ERR_KIND_LOAD', { message: `kind module not found: ${spec} (looked at ${file})` }));
    }
  } else {
    file = resolvePackage(spec, baseDir);
    if (!file) {
      const hint = didYouMean(spec, builtinNames);
      return Promise.reject(
        new HendrixError('HX_ERR_UNKNOWN_KIND', {
          message: `unknown kind \`${spec}\``,
          hint: hint || `built-in kinds: ${builtinNames.join(', ')}; a custom kind is a path (./kind.mjs) or an installed package`,
        }),
      );
    }
  }
  let pending = cache.get(file);
  if (!pending) {
    pending = importKind(file, spec);
    cache.set(file, pending);
    pending.catch(() => cache.delete(file));
  }
  return pending;
}
