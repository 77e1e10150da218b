import { existsSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus, StatusJson } from '../../src/admin/types.js';
import { admin, adminEvent, sse, type SseEvent } from '../helpers/admin.js';
import { addressOf, ROOT, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const MANIFEST = `services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
  front:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
    dependsOn: [web]
`;
const APP = `export default (req, res) => {
  if (req.url === '/missing') res.statusCode = 404;
  res.end('hello');
};
`;

/** The status code of one GET, or the error code when nothing answers. */
function hit(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

const frontReady = (list: SseEvent[]) => list.some((e) => e.event === 'transition' && adminEvent(e).data.service === 'front' && adminEvent(e).data.to === 'ready');

describe('the admin API on the control socket of a running graph', () => {
  let p: CliProcess;
  let socket: { socket: string };
  let webUrl: string;
  let dir: string;
  const status = async (): Promise<StatusJson> => {
    const answer = await admin(socket, 'GET', '/status');
    expect(answer.status).toBe(200);
    return answer.json as StatusJson;
  };
  const service = (s: StatusJson, name: string): ServiceStatus => s.services.find((x) => x.name === name)!;

  beforeAll(async () => {
    dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': APP });
    p = spawnCli(['up'], { cwd: dir });
    const ready = await p.waitForLog(isReady, 15_000);
    socket = { socket: String(ready.control) };
    webUrl = addressOf(ready, 'web');
    for (const path of ['/', '/a', '/b', '/missing']) expect(await hit(`${webUrl}${path}`)).toBe(path === '/missing' ? 404 : 200);
  });
  afterAll(() => {
    if (p.process.exitCode === null) p.process.kill('SIGKILL');
  });

  it('GET /status: the instance, every service in start order with its figures after real traffic, the edges, the last event id', async () => {
    const s = await status();
    const plan = (await admin(socket, 'GET', '/plan')).json as { fingerprint: string };
    expect(s.instance).toMatchObject({ version: VERSION, pid: p.process.pid, files: [join(dir, 'hendrix.yaml')], fingerprint: plan.fingerprint, state: 'running', draining: false, control: socket.socket });
    expect(s.instance.rss).toBeGreaterThan(0);
    expect(Date.parse(s.instance.startedAt)).toBeLessThanOrEqual(Date.now());
    expect(s.services.map((x) => [x.name, x.kind, x.state, x.at])).toEqual([
      ['web', 'http', 'ready', 'hendrix.yaml:2:3'],
      ['front', 'http', 'ready', 'hendrix.yaml:6:3'],
    ]);
    const web = service(s, 'web');
    expect(web).toMatchObject({ address: webUrl, dependsOn: [], dependents: ['front'], restarts: 0 });
    expect(web.figures.http_requests_total).toEqual({ '2xx': 3, '3xx': 0, '4xx': 1, '5xx': 0 });
    expect(web.figures.http_request_duration_seconds).toMatchObject({ count: 4 });
    expect(service(s, 'front').figures.http_requests_total).toMatchObject({ '2xx': 0 });
    expect(s.edges).toEqual([{ from: 'front', to: 'web', via: 'dependsOn' }]);
    expect(s.lastEventId).toBeGreaterThan(0);
  });

  it('GET /metrics: Prometheus text that a Prometheus parser reads, with the names and values of the traffic', async () => {
    const answer = await admin(socket, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(answer.text);
    const family = (name: string) => families.find((f) => f.name === name);
    const sample = (name: string, labels: Record<string, string>) => family(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    expect(family('hendrix_http_requests_total')?.type).toBe('COUNTER');
    expect(sample('hendrix_http_requests_total', { service: 'web', code: '2xx' })?.value).toBe('3');
    expect(sample('hendrix_http_requests_total', { service: 'web', code: '4xx' })?.value).toBe('1');
    expect(sample('hendrix_http_requests_total', { service: 'front', code: '2xx' })?.value).toBe('0');
    expect(sample('hendrix_http_requests_in_flight', { service: 'web' })?.value).toBe('0');
    expect(family('hendrix_http_request_duration_seconds')?.type).toBe('HISTOGRAM');
    // the parser folds a labelled histogram into one sample: the series are read from the text
    const buckets = [...answer.text.matchAll(/^hendrix_http_request_duration_seconds_bucket\{service="web",le="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])] as const);
    expect(buckets.map(([le]) => le)).toEqual(['0.001', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
    expect(buckets.every(([, n], i) => i === 0 || n >= buckets[i - 1]![1])).toBe(true);
    expect(buckets.at(-1)![1]).toBe(4);
    expect(answer.text).toMatch(/^hendrix_http_request_duration_seconds_count\{service="web"\} 4$/m);
    expect(answer.text).toMatch(/^hendrix_http_request_duration_seconds_sum\{service="web"\} [\d.e-]+$/m);
    expect(sample('hendrix_service_state', { service: 'web', kind: 'http', state: 'ready' })?.value).toBe('1');
    expect(sample('hendrix_service_state', { service: 'web', kind: 'http', state: 'failed' })?.value).toBe('0');
    expect(sample('hendrix_service_restarts_total', { service: 'front' })?.value).toBe('0');
    expect(sample('hendrix_reloads_total', { outcome: 'applied' })?.value).toBe('0');
    expect(sample('hendrix_info', { version: VERSION })?.value).toBe('1');
    expect(family('hendrix_crosstown_tasks_total')?.type).toBe('COUNTER');
    // prom-client's process metrics
    expect(family('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
    expect(family('nodejs_heap_size_used_bytes')?.type).toBe('GAUGE');
  });

  it('restart, stop and start one service: its dependents follow, and the restarted one is a new instance', async () => {
    const before = await status();
    const events = await sse(socket, { lastEventId: String(before.lastEventId) });
    const restarted = await admin(socket, 'POST', '/services/web/restart');
    expect(restarted.status).toBe(200);
    const web = restarted.json.service as ServiceStatus;
    expect(web.state).toBe('ready');
    // a new instance: its counters start from nothing, and its state changed after the old one's
    expect(web.figures.http_requests_total).toEqual({ '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 });
    expect(Date.parse(web.since)).toBeGreaterThan(Date.parse(service(before, 'web').since));
    // the operation, then the dependent stops before the service, and starts after it
    await events.until(frontReady);
    const after = await status();
    expect(service(after, 'front').state).toBe('ready');
    expect(Date.parse(service(after, 'front').since)).toBeGreaterThan(Date.parse(service(before, 'front').since));
    const steps = events.events.map(adminEvent).map((e) => (e.type === 'operation' ? `${e.data.op} ${e.data.service}` : `${e.data.service} ${e.data.to}`));
    expect(steps).toEqual(['restart web', 'front stopping', 'front stopped', 'web stopping', 'web stopped', 'web created', 'web starting', 'web ready', 'front created', 'front starting', 'front ready']);

    const stopped = await admin(socket, 'POST', '/services/web/stop');
    expect(stopped.status).toBe(200);
    expect(stopped.json.service).toMatchObject({ name: 'web', state: 'stopped', why: 'stopped by an operator; `hendrix start web` starts it again' });
    const down = await status();
    expect(service(down, 'front')).toMatchObject({ state: 'stopped', why: 'waiting for web (stopped)' });
    expect(await hit(webUrl)).toBe('ECONNREFUSED');

    const started = await admin(socket, 'POST', '/services/web/start');
    expect(started.status).toBe(200);
    expect(started.json.service).toMatchObject({ name: 'web', state: 'ready' });
    // the dependents start once it is ready: the answer does not wait for them
    const seen = events.events.length;
    await events.until((list) => frontReady(list.slice(seen)));
    events.close();
    const up = await status();
    expect(up.services.map((s) => s.state)).toEqual(['ready', 'ready']);
    expect(await hit(service(up, 'web').address!)).toBe(200);
  });

  it('an operation on a service the graph does not run is a 422 with HX_ERR_UNKNOWN_SERVICE, and no event', async () => {
    const before = (await status()).lastEventId;
    const answer = await admin(socket, 'POST', '/services/nope/restart');
    expect(answer.status).toBe(422);
    expect(answer.json.error.code).toBe('HX_ERR_UNKNOWN_SERVICE');
    expect(answer.json.errors[0].hint).toBe('services: web, front');
    expect((await status()).lastEventId).toBe(before);
  });

  it('GET / lists the admin routes; GET /dashboard is the page', async () => {
    const routes = (await admin(socket, 'GET', '/')).json.routes as string[];
    expect(routes).toEqual(expect.arrayContaining(['GET /status', 'GET /events', 'GET /metrics', 'POST /services/{name}/restart', 'POST /services/{name}/stop', 'POST /services/{name}/start', 'POST /stop', 'POST /reload', 'GET /plan', 'GET /dashboard']));
    const page = await admin(socket, 'GET', '/dashboard');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  it('POST /stop answers 202, then the instance stops as on SIGTERM: exit 0, the socket removed', async () => {
    const answer = await admin(socket, 'POST', '/stop');
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ stopping: true, pid: p.process.pid });
    expect(await p.exited()).toBe(0);
    expect(p.stdout()).toMatch(/"by":"POST \/stop","msg":"stopping"/);
    expect(p.stdout()).toMatch(/"msg":"stopped"/);
    expect(existsSync(socket.socket)).toBe(false);
  });
});
