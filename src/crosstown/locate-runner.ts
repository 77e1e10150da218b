import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the runner lives inside the package, as listed in package.json "files". */
const RUNNER = join('src', 'crosstown', 'worker-entry.mjs');

let cached: string | undefined;

/**
 * The absolute path of worker-entry.mjs, the script every pool worker and child runs.
 *
 * Found from the package root rather than beside this module: esbuild bundles this code into
 * dist/bundle/chunks/, where import.meta.url says nothing about where the runner is.
 */
export function runnerPath(): string {
  cached ??= findRunner(dirname(fileURLToPath(import.meta.url)));
  return cached;
}

/** Walks up from `start` to the folder whose package.json is named "hendrix". */
export function findRunner(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (isHendrixRoot(dir)) {
      const runner = join(dir, RUNNER);
      if (existsSync(runner)) return runner;
      throw new Error(`crosstown runner not found at ${runner}; the hendrix package is incomplete`);
    }
    if (dirname(dir) === dir) throw new Error(`crosstown runner not found: no hendrix package.json above ${start}`);
  }
}

function isHendrixRoot(dir: string): boolean {
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    return typeof pkg === 'object' && pkg !== null && (pkg as { name?: unknown }).name === 'hendrix';
  } catch {
    // no package.json here, or not ours to read: keep walking
    return false;
  }
}
