import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The version of hendrix, from the nearest package.json named hendrix above this file (bundled or not). */
export function hendrixVersion(): string {
  if (cached !== undefined) return cached;
  for (let url = new URL('./', import.meta.url); url.pathname !== '/'; url = new URL('../', url)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hendrix' && pkg.version) return (cached = pkg.version);
    } catch {
      // no package.json here: look one folder up
    }
  }
  return (cached = 'unknown');
}
