import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Hendrix's own package: its folder and version. */
export interface HendrixPackage {
  /** The folder of its package.json (the checkout, or node_modules/hendrix). */
  readonly root: string;
  readonly version: string;
}

let cached: HendrixPackage | null | undefined;

/**
 * Hendrix's own package: the nearest folder above this module whose package.json is named
 * hendrix — from the sources, dist/ and the bundle alike; null when there is none. Read once.
 */
export function hendrixPackage(): HendrixPackage | null {
  if (cached !== undefined) return cached;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'hendrix') return (cached = { root: dir, version: typeof pkg.version === 'string' ? pkg.version : 'unknown' });
    } catch {
      // no package.json here, or not ours to read: keep looking
    }
    if (dirname(dir) === dir) return (cached = null);
  }
}

/** The version of hendrix (`unknown` outside its package). */
export function hendrixVersion(): string {
  return hendrixPackage()?.version ?? 'unknown';
}
