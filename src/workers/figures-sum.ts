import type { Figure } from '../kinds/contract.js';

/** The key of one sample: its name and its labels in a fixed order. */
function sampleKey(figure: Figure): string {
  const labels = figure.labels ? Object.keys(figure.labels).sort().map((k) => `${k}=${figure.labels![k]}`) : [];
  return `${figure.name}{${labels.join(',')}}`;
}

/**
 * The figures of one service summed over the processes that run it, one sample per name and
 * labels (as one process would report them): counters and gauges added up (connections open
 * in every worker, requests answered by every worker), histograms merged bucket by bucket —
 * the buckets of a kind's histogram are fixed, so the counts line up; a histogram whose
 * buckets differ (two versions of a kind during a rolling reload) keeps the first one's.
 * The order is that of first appearance, so that the output is stable.
 */
export function sumFigures(lists: readonly (readonly Figure[])[]): Figure[] {
  const sums = new Map<string, Figure>();
  for (const list of lists) {
    for (const figure of list) {
      const key = sampleKey(figure);
      const prior = sums.get(key);
      if (!prior) {
        sums.set(key, figure.type === 'histogram' ? { ...figure, counts: [...figure.counts] } : { ...figure });
        continue;
      }
      if (prior.type === 'histogram' && figure.type === 'histogram') {
        if (prior.buckets.length !== figure.buckets.length || prior.buckets.some((b, i) => b !== figure.buckets[i])) continue;
        sums.set(key, { ...prior, counts: prior.counts.map((c, i) => c + (figure.counts[i] ?? 0)), sum: prior.sum + figure.sum });
      } else if (prior.type !== 'histogram' && figure.type !== 'histogram') {
        sums.set(key, { ...prior, value: prior.value + figure.value });
      }
    }
  }
  return [...sums.values()];
}
