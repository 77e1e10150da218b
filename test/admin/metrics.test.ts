import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/admin/metrics.js';
import type { MetricsSnapshot } from '../../src/admin/types.js';

const histogram = { type: 'histogram' as const, name: 'http_request_duration_seconds', help: 'Request duration.', buckets: [0.1, 1], sum: 3.5 };

/** A snapshot with what a custom kind may get wrong, and workers. */
const SNAPSHOT: MetricsSnapshot = {
  services: [
    {
      name: 'web',
      kind: 'http',
      state: 'ready',
      restarts: 2,
      figures: [
        { ...histogram, counts: [1, 2, 3] },
        { type: 'counter', name: 'http_requests_total', help: 'Responses by class.', labels: { code: '2xx' }, value: 6 },
        // a custom kind's mistakes: a name Prometheus refuses, a label named like the core's, a type clash
        { type: 'gauge', name: 'bad-name', help: 'x', value: 1 },
        { type: 'gauge', name: 'echo_open', help: 'Open connections.', labels: { service: 'spoofed' }, value: 4 },
      ],
    },
    {
      name: 'api',
      kind: 'echo',
      state: 'failed',
      restarts: 0,
      figures: [
        { ...histogram, counts: [0, 0, 1], sum: 7 },
        { type: 'gauge', name: 'http_requests_total', help: 'A clash of types.', value: 9 },
      ],
    },
  ],
  workers: [
    { id: '1', role: 'each', pid: 10, state: 'ready', since: '', restarts: 0, rss: 1000, cpuSeconds: 1.5, requests: 4 },
    { id: '2', role: 'each', pid: 11, state: 'restarting', since: '', restarts: 1, rss: undefined, cpuSeconds: undefined, requests: 2 },
  ],
  reloads: { applied: 3, failed: 1 },
};

describe('the Prometheus text of a metrics snapshot', () => {
  it('renders every family a parser reads: cumulative buckets from counts, the core label wins, bad names and type clashes left out, workers', async () => {
    const text = await createMetrics({ version: '9.9.9' }).render(SNAPSHOT);
    const families = parsePrometheusTextFormat(text);
    const names = families.map((f) => f.name);
    const value = (name: string, labels: Record<string, string>) => families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;

    expect(text).toContain(['hendrix_http_request_duration_seconds_bucket{service="web",le="0.1"} 1', 'hendrix_http_request_duration_seconds_bucket{service="web",le="1"} 3', 'hendrix_http_request_duration_seconds_bucket{service="web",le="+Inf"} 6', 'hendrix_http_request_duration_seconds_sum{service="web"} 3.5', 'hendrix_http_request_duration_seconds_count{service="web"} 6'].join('\n'));
    expect(text).toContain('hendrix_http_request_duration_seconds_count{service="api"} 1');
    expect(value('hendrix_http_requests_total', { service: 'web', code: '2xx' })).toBe('6');
    expect(families.find((f) => f.name === 'hendrix_http_requests_total')?.metrics).toHaveLength(1);
    expect(value('hendrix_echo_open', { service: 'web' })).toBe('4');
    expect(names.filter((n) => n.includes('bad'))).toEqual([]);
    expect(value('hendrix_service_state', { service: 'api', kind: 'echo', state: 'failed' })).toBe('1');
    expect(families.find((f) => f.name === 'hendrix_service_state')?.metrics).toHaveLength(16);
    expect(value('hendrix_service_restarts_total', { service: 'web' })).toBe('2');
    expect(value('hendrix_reloads_total', { outcome: 'applied' })).toBe('3');
    expect(value('hendrix_reloads_total', { outcome: 'failed' })).toBe('1');
    expect(value('hendrix_info', { version: '9.9.9' })).toBe('1');
    expect(value('hendrix_worker_up', { worker: '1' })).toBe('1');
    expect(value('hendrix_worker_up', { worker: '2' })).toBe('0');
    expect(value('hendrix_worker_resident_memory_bytes', { worker: '1' })).toBe('1000');
    expect(value('hendrix_worker_resident_memory_bytes', { worker: '2' })).toBeUndefined();
    expect(value('hendrix_worker_cpu_seconds_total', { worker: '1' })).toBe('1.5');
    expect(value('hendrix_worker_requests_total', { worker: '2' })).toBe('2');
    expect(value('hendrix_worker_restarts_total', { worker: '2' })).toBe('1');
    expect(names).toContain('process_resident_memory_bytes');
  });

  it('each scrape shows the snapshot it is given: a family gone from the graph is gone from the text', async () => {
    const metrics = createMetrics({ version: '1' });
    expect(await metrics.render(SNAPSHOT)).toContain('hendrix_echo_open');
    const without = await metrics.render({ ...SNAPSHOT, services: [SNAPSHOT.services[1]!], workers: [] });
    expect(without).not.toContain('hendrix_echo_open');
    expect(without).not.toContain('hendrix_worker_up');
    expect(without).toContain('hendrix_service_state{service="api"');
  });
});
