import { HendrixError, type SourceLocation } from '../errors/hendrix-error.js';
import type { ServiceKind, WorkerPlacement } from '../kinds/contract.js';

/** Where a service of `kind` with `config` runs when the graph has workers: its kind's `workers.runs`, once by default. */
export function runsOf(kind: ServiceKind, config: unknown): WorkerPlacement {
  const runs = kind.workers?.runs;
  if (runs === undefined) return 'once';
  return typeof runs === 'function' ? runs(config as never) : runs;
}

/** The edges between the two kinds of process: `toEach` (a once-service depends on a per-worker one) and `toOnce`. */
export function crossingEdges(order: readonly string[], dependencies: (name: string) => readonly string[], runs: ReadonlyMap<string, WorkerPlacement>): { toEach: string[]; toOnce: string[] } {
  const toEach: string[] = [];
  const toOnce: string[] = [];
  for (const name of order) {
    for (const dep of dependencies(name)) {
      if (!runs.has(name) || !runs.has(dep) || runs.get(name) === runs.get(dep)) continue;
      (runs.get(dep) === 'each' ? toEach : toOnce).push(`${name} → ${dep}`);
    }
  }
  return { toEach, toOnce };
}

/**
 * HX_ERR_WORKERS_GRAPH when edges cross between the two kinds of process in both directions
 * (the graph could not start in two stages), at the first service named; undefined otherwise.
 */
export function workersGraphError(edges: { toEach: readonly string[]; toOnce: readonly string[] }, locate: (service: string) => SourceLocation | undefined): HendrixError | undefined {
  if (!edges.toEach.length || !edges.toOnce.length) return undefined;
  const location = locate(edges.toOnce[0]!.split(' ')[0]!);
  return new HendrixError('HX_ERR_WORKERS_GRAPH', {
    message: `once-services depend on per-worker services (${edges.toEach.join(', ')}) and per-worker services on once-services (${edges.toOnce.join(', ')})`,
    path: ['workers'],
    ...(location ? { location } : {}),
  });
}
