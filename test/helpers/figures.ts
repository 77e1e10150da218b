import type { Figure, HistogramFigure } from '../../src/kinds/contract.js';

/** Something that reports figures (a Service with figures()). */
export interface Figured {
  figures?(): readonly Figure[];
}

/**
 * The value of the counter or gauge `name` a service reports now (with `labels`, the sample
 * whose labels include them); throws when there is no such figure, so a misnamed one fails loudly.
 */
export function figure(service: Figured, name: string, labels: Record<string, string> = {}): number {
  const found = (service.figures?.() ?? []).find((f) => f.name === name && Object.entries(labels).every(([k, v]) => f.labels?.[k] === v));
  if (found === undefined) throw new Error(`no figure ${name}${JSON.stringify(labels)}`);
  if (found.type === 'histogram') throw new Error(`${name} is a histogram: use histogram()`);
  return found.value;
}

/** The histogram `name` a service reports now; throws when there is none. */
export function histogram(service: Figured, name: string): HistogramFigure {
  const found = (service.figures?.() ?? []).find((f) => f.name === name);
  if (found?.type !== 'histogram') throw new Error(`no histogram ${name}`);
  return found;
}

/** The names of the figures a service reports now, once each, sorted. */
export function figureNames(service: Figured): string[] {
  return [...new Set((service.figures?.() ?? []).map((f) => f.name))].sort();
}

/**
 * Checks the shape every figure must have: snake_case names with one of `prefixes` (the kind's), counters ending in
 * `_total`, one set of label names per name, histograms with ascending buckets and one count
 * per bucket plus +Inf. Returns the problems found (none: []).
 */
export function figureProblems(service: Figured, prefixes: readonly string[]): string[] {
  const problems: string[] = [];
  const labelNames = new Map<string, string>();
  for (const f of service.figures?.() ?? []) {
    if (!prefixes.some((prefix) => new RegExp(`^${prefix}_[a-z0-9_]+$`).test(f.name))) problems.push(`${f.name}: not ${prefixes.join('|')}_snake_case`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) problems.push(`${f.name}: a counter not ending in _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) problems.push(`${f.name}: ends in _total but is a ${f.type}`);
    const names = Object.keys(f.labels ?? {}).sort().join(',');
    if ((labelNames.get(f.name) ?? names) !== names) problems.push(`${f.name}: label names differ between samples`);
    labelNames.set(f.name, names);
    if (f.help.length === 0) problems.push(`${f.name}: no help`);
    if (f.type === 'histogram') {
      if (f.counts.length !== f.buckets.length + 1) problems.push(`${f.name}: ${f.counts.length} counts for ${f.buckets.length} buckets`);
      if (f.buckets.some((b, i) => i > 0 && b <= (f.buckets[i - 1] as number))) problems.push(`${f.name}: buckets not ascending`);
    } else if (!Number.isFinite(f.value) || f.value < 0) problems.push(`${f.name}: value ${f.value}`);
  }
  return problems;
}

/** A gate for the `/held` requests of services/http/fixtures/figures-app.mjs. */
export interface RequestGate {
  /** Resolves once a held request has reached the app. */
  readonly arrived: Promise<void>;
  /** Lets every held request answer. */
  release(): void;
}

/** Sets the gate the next `/held` requests of figures-app.mjs wait on. */
export function holdRequests(): RequestGate {
  let arrive!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  (globalThis as Record<symbol, unknown>)[Symbol.for('hendrix.test.figuresGate')] = { arrived: arrive, released };
  return { arrived, release };
}
