import type { Figure } from '../kinds/contract.js';

/** What a metric name (without the `hendrix_` prefix) and a label name must look like. */
const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * The problems of a list of figures (Service.figures()), as sentences; none when it is well
 * formed: Prometheus-style names, counters ending in `_total` and never negative, finite values,
 * a help sentence, labels named alike within one name and never `service` (the core adds it), one
 * type per name, histograms with ascending buckets and one count per bucket plus +Inf.
 */
export function figureProblems(figures: readonly Figure[]): string[] {
  const problems: string[] = [];
  const byName = new Map<string, { type: string; labels: string }>();
  const seen = new Set<string>();
  for (const f of figures) {
    const where = `figure ${f.name}${f.labels ? JSON.stringify(f.labels) : ''}`;
    if (!NAME.test(f.name)) problems.push(`${where}: the name must match ${NAME} (no hendrix_ prefix: the core adds it)`);
    if (f.name.startsWith('hendrix_')) problems.push(`${where}: the name must not start with hendrix_ (the core adds it)`);
    if (typeof f.help !== 'string' || f.help.trim() === '') problems.push(`${where}: help must be a sentence`);
    const labelNames = Object.keys(f.labels ?? {}).sort();
    for (const label of labelNames) {
      if (!NAME.test(label) || label === 'service' || label === 'worker' || label === 'le') problems.push(`${where}: label ${label} is not allowed (service, worker and le are the core's)`);
    }
    const shape = { type: f.type, labels: labelNames.join(',') };
    const known = byName.get(f.name);
    if (!known) byName.set(f.name, shape);
    else if (known.type !== shape.type || known.labels !== shape.labels) problems.push(`${where}: every sample of one name has one type and the same label names`);
    const key = `${f.name}${JSON.stringify(f.labels ?? {})}`;
    if (seen.has(key)) problems.push(`${where}: reported twice`);
    seen.add(key);
    if (f.type === 'histogram') {
      if (!f.buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > f.buckets[i - 1]!))) problems.push(`${where}: buckets must be finite and ascending`);
      if (f.counts.length !== f.buckets.length + 1) problems.push(`${where}: counts must have one entry per bucket plus one for +Inf`);
      if (!f.counts.every((c) => Number.isInteger(c) && c >= 0)) problems.push(`${where}: counts must be whole numbers ≥ 0`);
      if (!Number.isFinite(f.sum)) problems.push(`${where}: sum must be finite`);
      continue;
    }
    if (!Number.isFinite(f.value)) problems.push(`${where}: the value must be a finite number`);
    if (f.type === 'counter') {
      if (!f.name.endsWith('_total')) problems.push(`${where}: a counter's name ends in _total`);
      if (f.value < 0) problems.push(`${where}: a counter is never negative`);
    } else if (f.type !== 'gauge') problems.push(`${where}: type must be counter, gauge or histogram`);
  }
  return problems;
}
