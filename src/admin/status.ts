import { relative } from 'node:path';
import { formatPath, isHendrixError, type SourceLocation } from '../errors/hendrix-error.js';
import { flattenErrors } from '../errors/render.js';
import type { Figure } from '../kinds/contract.js';
import type { ServiceStats } from '../runtime/orchestrator.js';
import type { Plan } from '../runtime/plan.js';
import type { AdminError, FigureValue, HistogramValue, ServiceStatus } from './types.js';

/** `hendrix.yaml:7:3`: a source location as status shows it, relative to the manifest folder. */
export function locationText(location: SourceLocation | undefined, baseDir: string): string | undefined {
  if (!location) return undefined;
  const file = relative(baseDir, location.file) || location.file;
  return `${file.startsWith('..') ? location.file : file}:${location.line}:${location.column}`;
}

/**
 * An error as the admin API shows it: code, message, hint, manifest place and path — never a
 * stack, nor the error's cause (which may quote what a secret made). An error that stands for
 * several (HX_ERR_MANIFEST, HX_ERR_START_FAILED) shows its first one, which has the place,
 * saying how many more there are. An error that is not a HendrixError (a bug, a throw of app
 * code) shows as HX_ERR_INTERNAL with its message.
 */
export function toAdminError(error: unknown, baseDir: string): AdminError | undefined {
  if (error === undefined || error === null) return undefined;
  if (isHendrixError(error)) {
    const all = flattenErrors(error);
    const first = all[0] ?? error;
    const at = locationText(first.location, baseDir);
    const more = all.length > 1 ? ` (and ${all.length - 1} more)` : '';
    return {
      code: first.code,
      message: `${first.message}${more}`,
      ...(first.hint ? { hint: first.hint } : {}),
      ...(at ? { at } : {}),
      ...(first.path?.length ? { path: formatPath(first.path) } : {}),
    };
  }
  return { code: 'HX_ERR_INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/**
 * A service's figures as status shows them, by name: a number for a figure without labels
 * (samples of one name added up); for one with labels, the value per label values joined by
 * `,` (`{ "2xx": 10 }`); a histogram as its buckets, counts, count and sum (samples merged).
 */
export function toFigureValues(figures: readonly Figure[]): Record<string, FigureValue> {
  const out: Record<string, FigureValue> = {};
  for (const figure of figures) {
    const previous = out[figure.name];
    if (figure.type === 'histogram') {
      const prior = previous !== undefined && typeof previous === 'object' && 'buckets' in previous ? (previous as HistogramValue) : undefined;
      const counts = figure.counts.map((c, i) => c + (prior?.counts[i] ?? 0));
      out[figure.name] = { buckets: [...figure.buckets], counts, count: counts.reduce((a, b) => a + b, 0), sum: figure.sum + (prior?.sum ?? 0) };
      continue;
    }
    const labels = figure.labels && Object.keys(figure.labels).length ? Object.values(figure.labels).join(',') : undefined;
    if (labels === undefined) {
      out[figure.name] = (typeof previous === 'number' ? previous : 0) + figure.value;
      continue;
    }
    const record = previous !== undefined && typeof previous === 'object' && !('buckets' in previous) ? { ...(previous as Record<string, number>) } : {};
    record[labels] = (record[labels] ?? 0) + figure.value;
    out[figure.name] = record;
  }
  return out;
}

/** Why a service is in its state, in words (status's `why`), or undefined when it needs no reason (ready). */
export function whyOf(name: string, stats: Pick<ServiceStats, 'state' | 'waiting' | 'lastError' | 'stoppedByOperator'>, dependencies: readonly string[], stateOf: (name: string) => string | undefined): string | undefined {
  const { state } = stats;
  if (state === 'ready') return undefined;
  if (stats.stoppedByOperator) return `stopped by an operator; \`hendrix start ${name}\` starts it again`;
  if (state === 'starting' && stats.waiting) return stats.waiting;
  const down = dependencies.filter((d) => stateOf(d) !== 'ready');
  if ((state === 'stopped' || state === 'created' || state === 'waiting') && down.length) return `waiting for ${down.join(', ')} (${down.map((d) => stateOf(d) ?? '?').join(', ')})`;
  if ((state === 'failed' || state === 'restarting') && stats.lastError !== undefined) {
    const error = stats.lastError;
    const message = error instanceof Error ? error.message : String(error);
    return isHendrixError(error) ? `${error.code}: ${message}` : message;
  }
  return undefined;
}

/** What serviceStatus needs besides the orchestrator's stats of the service. */
export interface ServiceStatusInput {
  readonly name: string;
  readonly plan: Plan;
  readonly stats: ServiceStats;
  readonly figures: readonly Figure[];
  readonly address: string | undefined;
  /** The state of another service (for "waiting for db"). */
  readonly stateOf: (name: string) => string | undefined;
}

/** One service of `GET /status`, from its plan entry, the orchestrator's stats and its figures. */
export function serviceStatus(input: ServiceStatusInput): ServiceStatus {
  const { name, plan, stats } = input;
  const planned = plan.services.get(name);
  const dependsOn = plan.graph.dependencies(name);
  const at = locationText(planned?.location, plan.baseDir);
  const why = whyOf(name, stats, dependsOn, input.stateOf);
  const lastError = toAdminError(stats.lastError, plan.baseDir);
  return {
    name,
    kind: planned?.config.kind ?? '?',
    state: stats.state,
    since: new Date(stats.since).toISOString(),
    ...(why ? { why } : {}),
    ...(stats.state === 'starting' && stats.waiting ? { waiting: stats.waiting } : {}),
    ...(lastError ? { lastError } : {}),
    restarts: stats.restarts,
    ...(stats.state === 'restarting' && stats.nextRestartAt !== undefined ? { nextRestartAt: new Date(stats.nextRestartAt).toISOString() } : {}),
    ...(input.address ? { address: input.address } : {}),
    ...(at ? { at } : {}),
    dependsOn,
    dependents: plan.graph.dependents(name),
    figures: toFigureValues(input.figures),
  };
}

/** The edges among `services` (in their order: those of the first service first), as status lists them. */
export function edgesOf(plan: Plan, services: readonly string[]): { from: string; to: string; via: string }[] {
  const index = new Map(services.map((s, i) => [s, i]));
  return plan.graph.edges
    .filter((e) => index.has(e.from) && index.has(e.to))
    .sort((a, b) => index.get(a.from)! - index.get(b.from)! || index.get(a.to)! - index.get(b.to)!)
    .map((e) => ({ from: e.from, to: e.to, via: e.via }));
}
