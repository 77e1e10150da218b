import type * as PromClient from 'prom-client';
import type { Figure, HistogramFigure } from '../kinds/contract.js';
import type { MetricsSnapshot } from './types.js';

/** The content type of the Prometheus text exposition (format 0.0.4). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Every state a service can be in: `hendrix_service_state` has one sample per state, 1 for the current one. */
const SERVICE_STATES = ['waiting', 'created', 'starting', 'ready', 'stopping', 'stopped', 'failed', 'restarting'] as const;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Renders `GET /metrics` from snapshots of the instance. */
export interface MetricsRenderer {
  /** The Prometheus text of a snapshot, with the process metrics of this process. */
  render(snapshot: MetricsSnapshot): Promise<string>;
}

type Prom = typeof PromClient;
type Labels = Record<string, string | number>;

/** One metric family of the kinds' figures: every service's samples of one name. */
interface Family {
  readonly type: Figure['type'];
  readonly help: string;
  readonly labelNames: Set<string>;
  readonly samples: { readonly labels: Labels; readonly figure: Figure }[];
}

/**
 * A metric whose samples are computed from bucket counts — prom-client's Histogram only
 * observes values one at a time, while a kind reports its histogram as counts per bucket. The
 * registry reads any object with `get()`: the cumulative `_bucket{le}` series, `_sum`, `_count`.
 */
function histogramMetric(name: string, family: Family): PromClient.Metric {
  const values = family.samples.flatMap(({ labels, figure }) => {
    const { buckets, counts, sum } = figure as HistogramFigure;
    let total = 0;
    const series = buckets.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: (total += counts[i] ?? 0) }));
    total += counts[buckets.length] ?? 0;
    series.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' as unknown as number }, value: total });
    return [...series, { metricName: `${name}_sum`, labels, value: sum }, { metricName: `${name}_count`, labels, value: total }];
  });
  const metric = { name, help: family.help, type: 'histogram', aggregator: 'sum', values };
  return { ...metric, get: async () => metric } as unknown as PromClient.Metric;
}

/** Groups the figures of every service by metric name (`hendrix_` added, `service` label added); invalid names are left out. */
function familiesOf(snapshot: MetricsSnapshot, taken: ReadonlySet<string>): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const service of snapshot.services) {
    for (const figure of service.figures) {
      const name = `hendrix_${figure.name}`;
      if (!METRIC_NAME.test(name) || taken.has(name)) continue;
      const labels: Labels = { ...figure.labels, service: service.name };
      if (!Object.keys(labels).every((l) => LABEL_NAME.test(l) && l !== 'le')) continue;
      let family = families.get(name);
      if (!family) families.set(name, (family = { type: figure.type, help: figure.help, labelNames: new Set(), samples: [] }));
      // one name, one type: a sample of another type under a name already used is left out
      if (family.type !== figure.type) continue;
      for (const l of Object.keys(labels)) family.labelNames.add(l);
      family.samples.push({ labels, figure });
    }
  }
  return families;
}

/**
 * Builds the metrics of an instance. prom-client is imported at the first scrape, and the
 * process metrics (collectDefaultMetrics) start then too: an instance nobody scrapes pays
 * nothing for them at start-up. Each scrape builds a fresh registry of the graph's metrics
 * from the snapshot — the figures' names are the kinds' own and come and go with reloads —
 * merged with the one long-lived registry of the process metrics.
 */
export function createMetrics(options: { version: string }): MetricsRenderer {
  let prom: Promise<{ prom: Prom; process: PromClient.Registry }> | undefined;
  const load = () =>
    (prom ??= import('prom-client').then((module) => {
      // prom-client is CommonJS: its exports are on `default` when bundled
      const p = ((module as unknown as { default?: Prom }).default ?? module) as Prom;
      const registry = new p.Registry();
      p.collectDefaultMetrics({ register: registry });
      new p.Gauge({ name: 'hendrix_info', help: 'The hendrix version this instance runs (always 1).', labelNames: ['version'], registers: [registry] }).set({ version: options.version }, 1);
      return { prom: p, process: registry };
    }));

  return {
    async render(snapshot) {
      const { prom: p, process } = await load();
      const registry = new p.Registry();
      const registers = [registry];
      const state = new p.Gauge({ name: 'hendrix_service_state', help: 'The state of each service: 1 for the state it is in, 0 for the others.', labelNames: ['service', 'kind', 'state'], registers });
      const restarts = new p.Counter({ name: 'hendrix_service_restarts_total', help: 'Restarts of each service after it died, since hendrix up.', labelNames: ['service'], registers });
      for (const s of snapshot.services) {
        for (const st of SERVICE_STATES) state.set({ service: s.name, kind: s.kind, state: st }, s.state === st ? 1 : 0);
        restarts.inc({ service: s.name }, s.restarts);
      }
      const reloads = new p.Counter({ name: 'hendrix_reloads_total', help: 'Reloads of the running graph, by outcome (applied, failed).', labelNames: ['outcome'], registers });
      reloads.inc({ outcome: 'applied' }, snapshot.reloads.applied);
      reloads.inc({ outcome: 'failed' }, snapshot.reloads.failed);
      if (snapshot.workers?.length) workerMetrics(p, registers, snapshot.workers);

      const taken = new Set([...registry.getMetricsAsArray(), ...process.getMetricsAsArray()].map((m) => (m as unknown as { name: string }).name));
      for (const [name, family] of familiesOf(snapshot, taken)) {
        if (family.type === 'histogram') {
          registry.registerMetric(histogramMetric(name, family));
          continue;
        }
        const config = { name, help: family.help, labelNames: [...family.labelNames], registers };
        const metric = family.type === 'counter' ? new p.Counter(config) : new p.Gauge(config);
        for (const { labels, figure } of family.samples) metric.inc(labels, (figure as { value: number }).value);
      }
      return p.Registry.merge([process, registry]).metrics();
    },
  };
}

/** The per-worker metrics of a graph served by workers. */
function workerMetrics(p: Prom, registers: PromClient.Registry[], workers: NonNullable<MetricsSnapshot['workers']>): void {
  const labelNames = ['worker'];
  const memory = new p.Gauge({ name: 'hendrix_worker_resident_memory_bytes', help: 'Resident memory of each worker process, as it last reported it.', labelNames, registers });
  const cpu = new p.Counter({ name: 'hendrix_worker_cpu_seconds_total', help: 'CPU time (user and system) each worker process has used.', labelNames, registers });
  const requests = new p.Counter({ name: 'hendrix_worker_requests_total', help: 'HTTP requests each worker answered.', labelNames, registers });
  const restarts = new p.Counter({ name: 'hendrix_worker_restarts_total', help: 'Times each worker slot was forked again after its process ended.', labelNames, registers });
  const up = new p.Gauge({ name: 'hendrix_worker_up', help: 'Whether each worker is ready (1) or not (0).', labelNames, registers });
  for (const w of workers) {
    const labels = { worker: w.id };
    if (w.rss !== undefined) memory.set(labels, w.rss);
    if (w.cpuSeconds !== undefined) cpu.inc(labels, w.cpuSeconds);
    requests.inc(labels, w.requests);
    restarts.inc(labels, w.restarts);
    up.set(labels, w.state === 'ready' ? 1 : 0);
  }
}
