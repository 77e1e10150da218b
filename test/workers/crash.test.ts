import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addressOf, logLines } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { answersFrom, fetchBody, isAlive, isReady, livePids, pidApp, processesMarked, slowRequest, spawnMarked, startGraph, startPidLoad, until, webManifest, workerPids, type Hit, useRunningClis } from '../helpers/workers.js';

// A worker that dies: SIGKILLed under load, with the restart policy of its services deciding
// whether it is replaced and whether the graph stops; and the primary dying under its workers.

const running = useRunningClis();
const makeDir = useManifestDirs();
const CLIENTS = 8;

describe('a worker killed', () => {
  it('under load from keep-alive clients: the other worker answers throughout, only requests on the killed one fail, a new pid replaces it, the log says who, which pid, why', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    const [first, second] = g.pids as [number, number];
    const load = startPidLoad(g.url, CLIENTS, 20, 8_000);
    // every client has had a few answers, and each worker has clients (round robin splits them)
    const latest = (): Map<number, Hit> => new Map(load.hits.map((h) => [h.client, h]));
    await until(() => {
      const now = [...latest().values()];
      const answered = (client: number) => load.hits.filter((h) => h.client === client && h.pid).length >= 3;
      return now.length === CLIENTS && now.every((h) => answered(h.client)) && now.filter((h) => h.pid === first).length >= 2 && now.filter((h) => h.pid === second).length >= 2;
    }, 'load on both workers');
    const killedAt = Date.now();
    process.kill(second, 'SIGKILL');
    const back = await g.p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('worker 2 is back'), 15_000);
    const replacement = Number(back.pid);
    expect([first, second]).not.toContain(replacement);
    // the keep-alive clients all moved to the survivor: new connections reach the replacement
    const backAt = Date.now();
    await answersFrom(g.url, [replacement]);
    // a little more load after the replacement is back
    const seen = load.hits.length;
    await until(() => load.hits.length > seen + 4 * CLIENTS, 'more requests after the replacement');
    const hits = await load.stop();

    const failures = hits.filter((h) => h.error);
    const lastBefore = new Map<number, Hit>();
    for (const h of hits) if (h.pid !== undefined && h.ended < killedAt) lastBefore.set(h.client, h);
    // a client whose connection went to the surviving worker never failed; one on the killed
    // worker lost at most the request it had on the wire when the process died
    for (const f of failures) expect(lastBefore.get(f.client)?.pid, `failure ${JSON.stringify(f)}`).toBe(second);
    for (let client = 0; client < CLIENTS; client++) expect(failures.filter((f) => f.client === client).length).toBeLessThanOrEqual(1);
    // the survivor answered every client between the kill and the replacement being back — but
    // one whose new connection node:cluster was handing to the worker as it died: the primary
    // keeps its copy of that socket, so the request waits for the client's deadline (rare)
    const between = hits.filter((h) => h.pid === first && h.sent > killedAt && h.ended < backAt);
    const handedToTheDead = new Set(failures.filter((f) => f.ended > backAt).map((f) => f.client));
    for (let client = 0; client < CLIENTS; client++) {
      if (!handedToTheDead.has(client)) expect(between.some((h) => h.client === client), `client ${client}`).toBe(true);
    }
    // after the replacement was back, nothing failed
    expect(hits.filter((h) => h.error && h.sent > backAt)).toEqual([]);

    const lines = logLines(g.p).map((l) => String(l.msg));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^worker 2 \\(pid ${second}\\) killed by SIGKILL: replacing it in \\d+ ms \\(restart 1\\)$`)));
    expect(isAlive(second)).toBe(false);
    // both serve on, and the graph stops cleanly with the replacement
    await answersFrom(g.url, [first, replacement]);
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(0);
    await until(() => processesMarked(g.marker).length === 0, 'every process of the graph to exit');
  });

  it('`restart.limit.burst: 0`, onFailed stop (the default): a killed worker is not replaced, the graph stops, exit 4 with the reason', async () => {
    const extra = '    restart: { limit: { burst: 0 } }\n';
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2, extra), 'app.mjs': pidApp('v1') }), [], running);
    process.kill(g.pids[0]!, 'SIGKILL');
    expect(await g.p.exited()).toBe(4);
    const lines = logLines(g.p).map((l) => String(l.msg));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^worker 1 \\(pid ${g.pids[0]}\\) killed by SIGKILL; restart limit reached \\(0 restarts within restart.limit.window of web\\)$`)));
    expect(lines).not.toContainEqual(expect.stringMatching(/replacing it/));
    expect(lines).toContain('web failed: stopping the graph (onFailed: stop; exit 4)');
    expect(g.p.stderr()).toContain('error[HX_ERR_WORKER_EXIT]');
    // at the service whose restart policy gave up, as a single process's restart limit
    expect(g.p.stderr()).toContain('--> hendrix.yaml:3:3  (services.web.restart.limit)');
    expect(g.p.stderr().match(/HX_ERR_WORKER_EXIT/g)).toHaveLength(1);
    expect(g.p.stderr()).not.toMatch(/^\s+at /m);
    await until(() => processesMarked(g.marker).length === 0, 'every process of the graph to exit');
  });

  it('`restart.limit.burst: 0` with `onFailed: keep`: the other worker serves on alone', async () => {
    const extra = '    restart: { limit: { burst: 0 } }\n    onFailed: keep\n';
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2, extra), 'app.mjs': pidApp('v1') }), [], running);
    const [first, second] = g.pids as [number, number];
    process.kill(first, 'SIGKILL');
    await g.p.waitForLog((l) => l.msg === '1 of 2 workers serve on (onFailed: keep)');
    for (let i = 0; i < 10; i++) expect(await fetchBody(g.url)).toBe(`v1 ${second}`);
    expect(g.p.process.exitCode).toBe(null);
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(0);
  });
});

describe('every worker killed at once', () => {
  it('both are replaced and web comes back on the port it had: the primary keeps the port it gave a port-0 listener', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    for (const pid of g.pids) process.kill(pid, 'SIGKILL');
    await until(() => logLines(g.p).filter((l) => typeof l.msg === 'string' && / is back \(pid \d+\)$/.test(l.msg)).length === 2, 'both workers back');
    const fresh = await livePids(g.control);
    expect(logLines(g.p).find((l) => l.moved === 'web')).toBeUndefined();
    await answersFrom(g.url, fresh);
  });
});

describe('an uncaught exception in a worker', () => {
  it('the worker stops and exits 5, and is replaced like a crash; the graph serves on', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    const boom = await fetchBody(`${g.url}/boom`);
    const pid = Number(boom.split(' ')[1]);
    const slot = g.pids.indexOf(pid) + 1;
    const back = await g.p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith(`worker ${slot} is back`), 15_000);
    const lines = logLines(g.p).map((l) => String(l.msg));
    expect(lines).toContain(`worker ${slot} had an uncaught exception: it stops and is replaced`);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^worker ${slot} \\(pid ${pid}\\) exited with code 5: replacing it in \\d+ ms \\(restart 1\\)$`)));
    expect(logLines(g.p).some((l) => (l.err as { code?: string } | undefined)?.code === 'HX_ERR_UNCAUGHT_EXCEPTION' && l.worker === slot)).toBe(true);
    await answersFrom(g.url, g.pids.map((p) => (p === pid ? Number(back.pid) : p)));
    expect(g.p.process.exitCode).toBe(null);
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(0);
  });
});

describe('the process of the once-services killed', () => {
  it('is replaced under its services\' policy while the workers serve on; the log names it', async () => {
    const kind = fileURLToPath(new URL('../fixtures/workers/once-kind.mjs', import.meta.url));
    const extra = `  single:\n    kind: ${kind}\n`;
    const { p, marker } = spawnMarked(makeDir({ 'hendrix.yaml': webManifest(2, extra), 'app.mjs': pidApp('v1') }));
    running.push(p);
    const ready = await p.waitForLog(isReady, 20_000);
    const [once] = workerPids(ready, 'once');
    expect(once).toBeGreaterThan(0);
    expect(String(ready.msg)).toMatch(new RegExp(`\\(2 workers, pids \\d+ \\d+; once process pid ${once}\\)$`));
    const url = addressOf(ready, 'web');
    process.kill(once!, 'SIGKILL');
    const back = await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('the once process is back'), 15_000);
    expect(Number(back.pid)).not.toBe(once);
    const lines = logLines(p).map((l) => String(l.msg));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^the once process \\(pid ${once}\\) killed by SIGKILL: replacing it in \\d+ ms \\(restart 1\\)$`)));
    await answersFrom(url, workerPids(ready));
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(processesMarked(marker)).toEqual([]);
  });
});

describe('the primary killed', () => {
  it('SIGKILL to the primary: the workers see the IPC channel close and stop gracefully on their own (a request in flight completes), then exit', async () => {
    const g = await startGraph(makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') }), [], running);
    await answersFrom(g.url, g.pids);
    const inFlight = slowRequest(g.url, 1000);
    await inFlight.started;
    g.p.process.kill('SIGKILL');
    await g.p.exited();
    expect(await inFlight.body).toMatch(/^v1 \d+$/);
    await until(() => g.pids.every((pid) => !isAlive(pid)), 'the orphaned workers to exit');
    expect(processesMarked(g.marker)).toEqual([]);
    // the workers' own log lines (they write to the same stdout)
    await until(() => logLines(g.p).filter((l) => l.msg === 'the primary is gone: stopping').length === 2, 'both workers to say why they stop');
  });
});
