import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AdminEvent, StatusJson, WorkerStatus } from '../../src/admin/types.js';
import { logLines } from '../helpers/cli.js';
import { startKeepAliveLoad } from '../helpers/keepalive-load.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { request } from '../helpers/reload/load.js';
import { answersFrom, livePids, pidApp, processesMarked, startGraph, until, webManifest, useRunningClis } from '../helpers/workers.js';
import { controlCall, parseMetrics, readEvents, sample, statusOf } from '../helpers/workers-admin.js';

// The admin API of a graph served by workers (`workers: 2`), on the primary's control socket:
// status and metrics add the workers up and show each one; events carry the workers'
// transitions and their processes' lives; operations on a service go to every worker in turn;
// drainDelay turns readiness off in every worker before the stop.

const running = useRunningClis();
const makeDir = useManifestDirs();

const transitionsOf = (events: readonly AdminEvent[], worker: string): AdminEvent[] =>
  events.filter((e) => e.type === 'transition' && e.data.service === 'web' && e.data.worker === worker);

describe('admin API with workers', () => {
  it('status and metrics show each worker (pid, rss, cpu, requests) and sum both workers’ figures per service', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    // fresh connections: node:cluster hands them to the workers in turn
    const N = 40;
    const byPid = new Map<number, number>();
    for (let i = 0; i < N; i++) {
      const answer = await request(g.url);
      expect(answer.status).toBe(200);
      const pid = Number(answer.body.split(' ')[1]);
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    expect([...byPid.keys()].sort()).toEqual([...g.pids].sort());

    // a request is counted once its response is finished: the last one may lag its answer a moment
    let status = await statusOf(g.control);
    await until(async () => {
      status = await statusOf(g.control);
      return (status.instance.workers ?? []).reduce((n, w) => n + w.requests, 0) === N;
    }, `the workers to have counted ${N} requests`);
    const workers = status.instance.workers as WorkerStatus[];
    expect(workers.map((w) => [w.id, w.role, w.pid, w.state])).toEqual([
      ['1', 'each', g.pids[0], 'ready'],
      ['2', 'each', g.pids[1], 'ready'],
    ]);
    for (const w of workers) {
      // what each worker counted is what it answered, and both answered some
      expect(w.requests).toBe(byPid.get(w.pid!));
      expect(w.requests).toBeGreaterThan(0);
      expect(w.rss).toBeGreaterThan(1_000_000);
      expect(w.cpuSeconds).toBeGreaterThan(0);
      expect(w.restarts).toBe(0);
    }
    expect(status.instance.pid).toBe(g.p.process.pid);
    const web = status.services.find((s) => s.name === 'web')!;
    expect(web).toMatchObject({ kind: 'http', state: 'ready', placement: 'each', restarts: 0, address: g.url });
    expect(web.figures.http_requests_total).toEqual({ '2xx': N, '3xx': 0, '4xx': 0, '5xx': 0 });
    expect((web.figures.http_request_duration_seconds as { count: number }).count).toBe(N);
    expect(Object.keys(web.workers!)).toEqual(['1', '2']);
    for (const [id, w] of Object.entries(web.workers!)) {
      expect(w.state).toBe('ready');
      expect(w.figures.http_requests_total).toMatchObject({ '2xx': byPid.get(g.pids[Number(id) - 1]!) });
    }

    const metrics = await controlCall(g.control, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    const families = parseMetrics(metrics.text);
    expect(sample(families, 'hendrix_http_requests_total', { service: 'web', code: '2xx' })).toBe(N);
    expect(families.get('hendrix_http_request_duration_seconds')?.metrics[0]?.buckets?.['+Inf']).toBe(String(N));
    expect(sample(families, 'hendrix_service_state', { service: 'web', state: 'ready' })).toBe(1);
    for (const [i, pid] of g.pids.entries()) {
      const worker = { worker: String(i + 1) };
      expect(sample(families, 'hendrix_worker_requests_total', worker)).toBe(byPid.get(pid));
      expect(sample(families, 'hendrix_worker_up', worker)).toBe(1);
      expect(sample(families, 'hendrix_worker_resident_memory_bytes', worker)).toBeGreaterThan(1_000_000);
      expect(sample(families, 'hendrix_worker_cpu_seconds_total', worker)).toBeGreaterThan(0);
      expect(sample(families, 'hendrix_worker_restarts_total', worker)).toBe(0);
    }
  });

  it('a service that runs once is in status with placement once and the once process’s figures; the once process is among the workers', async () => {
    const manifest = `${webManifest(2)}  hub:\n    kind: pubsub\n    listen: 127.0.0.1:0\n`;
    const g = await startGraph(makeDir({ 'hendrix.yaml': manifest, 'app.mjs': pidApp('v1') }), [], running);
    const status = await statusOf(g.control);
    expect(status.instance.workers!.map((w) => [w.id, w.role, w.state])).toEqual([
      ['once', 'once', 'ready'],
      ['1', 'each', 'ready'],
      ['2', 'each', 'ready'],
    ]);
    const hub = status.services.find((s) => s.name === 'hub')!;
    expect(hub).toMatchObject({ kind: 'pubsub', state: 'ready', placement: 'once' });
    expect(Object.keys(hub.workers!)).toEqual(['once']);
    expect(hub.figures).toMatchObject({ pubsub_connections: 0, pubsub_messages_total: 0 });
    expect(hub.address).toMatch(/^ws:\/\/127\.0\.0\.1:\d+/);
    expect(status.services.find((s) => s.name === 'web')).toMatchObject({ placement: 'each', state: 'ready' });
    // the once process answered no HTTP request
    expect(status.instance.workers!.find((w) => w.id === 'once')!.requests).toBe(0);
  });

  it('GET /events carries each worker’s transitions, and the death and replacement of a SIGKILLed worker', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    // from the first event: the start of web in both workers is in the buffer
    const reader = readEvents(g.control, 0);
    try {
      for (const worker of ['1', '2']) await reader.waitFor((e) => transitionsOf([e], worker).some((t) => t.data.to === 'ready'), `web ready in worker ${worker}`);
      await reader.waitFor((e) => e.type === 'worker' && e.data.worker === '2' && e.data.state === 'ready' && e.data.pid === g.pids[1], 'worker 2 ready');
      const [, victim] = g.pids as [number, number];
      process.kill(victim, 'SIGKILL');
      const died = await reader.waitFor((e) => e.type === 'worker' && e.data.worker === '2' && e.data.state === 'died', 'worker 2 died');
      expect(died.data).toMatchObject({ pid: victim, error: 'killed by SIGKILL' });
      const replaced = await reader.waitFor((e) => e.type === 'worker' && e.data.worker === '2' && e.data.state === 'replaced', 'worker 2 replaced');
      const fresh = replaced.data.pid as number;
      expect(replaced.data.was).toBe(victim);
      expect(fresh).not.toBe(victim);
      // the new process's web came up after the death, and says so from its own pid
      const again = transitionsOf(reader.events, '2').filter((e) => e.id > died.id);
      expect(again.map((e) => e.data.to)).toEqual(expect.arrayContaining(['starting', 'ready']));
      expect(again.every((e) => e.data.pid === fresh)).toBe(true);
      // ids only grow: the log is one sequence for the whole instance
      expect(reader.events.map((e) => e.id)).toEqual([...reader.events.map((e) => e.id)].sort((a, b) => a - b));

      const status = await statusOf(g.control);
      const worker2 = status.instance.workers!.find((w) => w.id === '2')!;
      expect(worker2).toMatchObject({ pid: fresh, state: 'ready', restarts: 1 });
      expect(status.services.find((s) => s.name === 'web')).toMatchObject({ state: 'ready', restarts: 1 });
      await answersFrom(g.url, [g.pids[0]!, fresh]);
    } finally {
      reader.close();
    }
  });

  it('a rolling reload is in the event log: begin, each worker replaced by a new pid and its old process retiring, one after the other, then applied', async () => {
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    const reader = readEvents(g.control, (await statusOf(g.control)).lastEventId);
    try {
      writeFileSync(join(dir, 'app.mjs'), pidApp('v2'));
      const answer = await controlCall(g.control, 'POST', '/reload');
      expect(answer.status, answer.text).toBe(200);
      const applied = await reader.waitFor((e) => e.type === 'reload' && e.data.phase === 'applied', 'reload applied');
      const begin = reader.events.find((e) => e.type === 'reload' && e.data.phase === 'begin')!;
      const slots = reader.events.filter((e) => e.type === 'worker' && (e.data.state === 'replaced' || e.data.state === 'retiring') && e.id < applied.id);
      expect(slots.map((e) => [e.data.worker, e.data.state])).toEqual([
        ['1', 'replaced'],
        ['1', 'retiring'],
        ['2', 'replaced'],
        ['2', 'retiring'],
      ]);
      expect(slots.map((e) => e.data.was ?? e.data.pid)).toEqual([g.pids[0], g.pids[0], g.pids[1], g.pids[1]]);
      expect(begin.id).toBeLessThan(slots[0]!.id);
      const status = await statusOf(g.control);
      expect(status.instance.state).toBe('running');
      const fresh = status.instance.workers!.map((w) => w.pid);
      expect(fresh).toEqual(slots.filter((e) => e.data.state === 'replaced').map((e) => e.data.pid));
      expect(fresh.some((pid) => g.pids.includes(pid!))).toBe(false);
      // a replacement by a reload is no restart
      expect(status.instance.workers!.map((w) => w.restarts)).toEqual([0, 0]);
    } finally {
      reader.close();
    }
  });

  it('POST /services/web/restart restarts web in one worker, then the other, the same processes, with no failed request under light load', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    await answersFrom(g.url, g.pids);
    const load = startKeepAliveLoad(g.url, 4, 20);
    try {
      await until(() => load.answered.length >= 20, 'some load answered');
      const reader = readEvents(g.control, (await statusOf(g.control)).lastEventId);
      try {
        const answer = await controlCall(g.control, 'POST', '/services/web/restart');
        expect(answer.status, answer.text).toBe(200);
        expect(answer.body).toMatchObject({ service: { name: 'web', state: 'ready' } });
        await reader.waitFor((e) => transitionsOf([e], '2').some((t) => t.data.to === 'ready'), 'web ready again in worker 2');
        const one = transitionsOf(reader.events, '1').map((e) => e.data.to);
        const two = transitionsOf(reader.events, '2').map((e) => e.data.to);
        // stopped, then a new instance (created, starting, ready) in the same process
        expect(one).toEqual(['stopping', 'stopped', 'created', 'starting', 'ready']);
        expect(two).toEqual(['stopping', 'stopped', 'created', 'starting', 'ready']);
        // one after the other: worker 2's web stops only once worker 1's is ready again
        const firstReady = transitionsOf(reader.events, '1').at(-1)!.id;
        expect(transitionsOf(reader.events, '2')[0]!.id).toBeGreaterThan(firstReady);
        expect(reader.events.find((e) => e.type === 'operation')?.data).toEqual({ op: 'restart', service: 'web' });
      } finally {
        reader.close();
      }
      const seen = load.answered.length;
      await until(() => load.answered.length >= seen + 20, 'more load answered after the restart');
    } finally {
      await load.stop();
    }
    expect(load.failed).toEqual([]);
    // a restart of the service, not of the processes
    expect((await livePids(g.control)).sort()).toEqual([...g.pids].sort());
  });

  it('POST /services/web/stop stops web in every worker (kept stopped in a worker that replaces a killed one), /start starts it in every worker again', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    const stopped = await controlCall(g.control, 'POST', '/services/web/stop');
    expect(stopped.status, stopped.text).toBe(200);
    const webOf = async () => (await statusOf(g.control)).services.find((s) => s.name === 'web')!;
    let web = await webOf();
    expect(web.state).toBe('stopped');
    expect(web.why).toMatch(/^stopped by an operator/);
    expect(Object.values(web.workers!).map((w) => w.state)).toEqual(['stopped', 'stopped']);
    // nobody listens: the shared socket is closed
    await expect(request(g.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    // a worker that dies meanwhile is replaced, and its web is stopped again
    const reader = readEvents(g.control, (await statusOf(g.control)).lastEventId);
    try {
      process.kill(g.pids[0]!, 'SIGKILL');
      const replaced = await reader.waitFor((e) => e.type === 'worker' && e.data.worker === '1' && e.data.state === 'replaced', 'worker 1 replaced');
      await reader.waitFor((e) => transitionsOf([e], '1').some((t) => t.data.to === 'stopped' && t.data.pid === replaced.data.pid), 'web stopped in the new worker 1');
    } finally {
      reader.close();
    }
    web = await webOf();
    expect(web.state).toBe('stopped');
    expect(Object.values(web.workers!).map((w) => w.state)).toEqual(['stopped', 'stopped']);

    const started = await controlCall(g.control, 'POST', '/services/web/start');
    expect(started.status, started.text).toBe(200);
    expect(started.body).toMatchObject({ service: { name: 'web', state: 'ready' } });
    const pids = await livePids(g.control);
    await answersFrom((await statusOf(g.control)).services.find((s) => s.name === 'web')!.address!, pids);
  });

  it('an operation on a service the instance does not run is refused (HX_ERR_UNKNOWN_SERVICE), and none while the graph stops (HX_ERR_SERVICE_OP)', async () => {
    const manifest = `drainDelay: 60s\n${webManifest(2)}`;
    const g = await startGraph(makeDir({ 'hendrix.yaml': manifest, 'app.mjs': pidApp('v1') }), [], running);
    const unknown = await controlCall(g.control, 'POST', '/services/nope/restart');
    expect(unknown.status).toBe(422);
    expect(unknown.body).toMatchObject({ error: { code: 'HX_ERR_UNKNOWN_SERVICE' } });
    g.p.process.kill('SIGTERM');
    await g.p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining:'), 15_000);
    const refused = await controlCall(g.control, 'POST', '/services/web/restart');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'HX_ERR_SERVICE_OP', message: 'cannot restart web: the graph is stopping' } });
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(2);
  });

  it('admin.listen: the primary serves the same admin API over TCP with the token (workers in status), refuses a request without it, and POST /stop stops the graph', async () => {
    const token = 'a-token-of-at-least-16-chars';
    const manifest = `admin:\n  listen: 127.0.0.1:0\n  token: ${token}\n${webManifest(2)}`;
    const g = await startGraph(makeDir({ 'hendrix.yaml': manifest, 'app.mjs': pidApp('v1') }), [], running);
    const admin = String((await g.p.waitForLog((l) => typeof l.admin === 'string')).admin);
    const auth = { authorization: `Bearer ${token}` };
    expect((await request(`${admin}/status`)).status).toBe(401);
    const status = await request(`${admin}/status`, { headers: auth });
    expect(status.status).toBe(200);
    expect((JSON.parse(status.body) as StatusJson).instance.workers?.map((w) => w.pid)).toEqual(g.pids);
    const stop = await request(`${admin}/stop`, { method: 'POST', headers: auth });
    expect(stop.status).toBe(202);
    expect(await g.p.exited()).toBe(0);
    expect(logLines(g.p).some((l) => l.by === 'POST /stop' && l.msg === 'stopping')).toBe(true);
    await until(() => processesMarked(g.marker).length === 0, 'every process of the graph to exit');
  });

  it('drainDelay: on SIGTERM every worker’s /readyz answers 503 while it still serves, before anything stops; a second signal forces', async () => {
    const manifest = `drainDelay: 60s\n${webManifest(2, '    health: true\n')}`;
    const g = await startGraph(makeDir({ 'hendrix.yaml': manifest, 'app.mjs': pidApp('v1') }), [], running);
    for (let i = 0; i < 4; i++) expect((await request(`${g.url}/readyz`)).status).toBe(200);
    g.p.process.kill('SIGTERM');
    await g.p.waitForLog((l) => typeof l.msg === 'string' && l.msg === 'draining: readiness off for 60s before the stop', 15_000);
    // every worker has turned readiness off (fresh connections go to both in turn), and the app still answers
    let in503 = 0;
    await until(async () => {
      in503 = (await request(`${g.url}/readyz`)).status === 503 ? in503 + 1 : 0;
      return in503 >= 6;
    }, '/readyz 503 from every worker');
    expect((await request(`${g.url}/healthz`)).status).toBe(200);
    await answersFrom(g.url, g.pids);
    const status = await statusOf(g.control);
    expect(status.instance.draining).toBe(true);
    // nothing has stopped yet: the stop waits for the delay
    expect(status.services.find((s) => s.name === 'web')?.state).toBe('ready');
    expect(logLines(g.p).some((l) => l.msg === 'stopped')).toBe(false);

    // as in one process: the second signal skips the rest of the delay and forces the stop
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(2);
    expect(logLines(g.p).map((l) => String(l.msg))).toContain('forced quit');
    await until(() => processesMarked(g.marker).length === 0, 'every process of the graph to exit');
  });
});
