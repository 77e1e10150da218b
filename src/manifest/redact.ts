import type { PathSegment } from '../errors/hendrix-error.js';

/** The placeholder that replaces values from secret-looking variables wherever config is shown. */
export const REDACTED = '[redacted]';

/**
 * Replaces the value at `path` inside `tree` (mutated) by the placeholder, when it is there:
 * `hendrix config` redacts its copy of the manifest with it, a plan diff its copies of values.
 */
export function redactAt(tree: unknown, path: readonly PathSegment[]): void {
  let node = tree as Record<string | number, unknown> | undefined;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node?.[path[i]!];
    if (typeof next !== 'object' || next === null) return;
    node = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (node && typeof node === 'object' && last !== undefined && last in node) node[last] = REDACTED;
}
