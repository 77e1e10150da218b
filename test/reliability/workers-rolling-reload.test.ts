import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, type CliProcess } from '../helpers/cli.js';
import { startKeepAliveLoad, type KeepAliveLoad } from '../helpers/keepalive-load.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { request } from '../helpers/reload/load.js';
import { ResumingSubscriber } from '../helpers/resuming-subscriber.js';
import { pidApp, startGraph, until } from '../helpers/workers.js';
import { hubManifest, seqOf } from '../helpers/workers-hub.js';

// The acceptance test of rolling reloads (#15): `hendrix up` with `workers: 2` (an http app
// answering `<version> <pid>`, a hub attached to it with history on `ticks`) under load — 20
// keep-alive node:http clients looping requests, a publisher POSTing to the hub every 10 ms
// over keep-alive, 100 WebSocket subscribers that resume with `since` when closed — through two
// rolling reloads of new app code by `hendrix reload` (the built CLI, the same control socket).
//
// "Failed" for an HTTP request is defined in helpers/keepalive-load.ts: no whole response,
// except a request on a reused connection the server closed cleanly (its FIN, no byte of
// response: never processed), which is sent again once on a new connection and counted as
// retried. The publisher's requests count the same way; that a retried POST is not processed
// twice shows in the ids: as many messages as 202 answers, no more. A publish answered 503
// (the hub of a retired worker is stopping; with Connection: close, so that the next goes on a
// new connection to a worker that serves on) was answered, and published nothing.

const HTTP_CLIENTS = 20;
const SUBSCRIBERS = 100;
/** Between two requests of one HTTP client, and between two publishes. */
const PACE_MS = 20;
const PUBLISH_MS = 10;

const running: CliProcess[] = [];
const subscribers: ResumingSubscriber[] = [];
let loads: KeepAliveLoad[] = [];
afterAll(async () => {
  await Promise.all(loads.map((l) => l.stop()));
  for (const s of subscribers) s.close();
  for (const p of running) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});

/** Fresh-connection requests until two workers answered; every answer must be `version`. */
async function workersOf(url: string, version: string): Promise<number[]> {
  const pids = new Set<number>();
  await until(async () => {
    const [v, pid] = (await request(url)).body.split(' ');
    expect(v).toBe(version);
    pids.add(Number(pid));
    return pids.size === 2;
  }, `both workers answering ${version}`);
  return [...pids];
}

describe('rolling reloads of two workers under load', () => {
  const makeDir = useManifestDirs();

  it('0 failed requests; every WebSocket client is closed with 1012, resumes with since and gets every message once in order; only the new code answers', async () => {
    const dir = makeDir({ 'hendrix.yaml': hubManifest(2), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    const pidsOf: Record<string, number[]> = { v1: g.pids };

    for (let i = 0; i < SUBSCRIBERS; i++) subscribers.push(new ResumingSubscriber(g.url, 'ticks'));
    for (let i = 0; i < SUBSCRIBERS; i += 20) await Promise.all(subscribers.slice(i, i + 20).map((s) => s.connect()));

    const load = startKeepAliveLoad(`${g.url}/`, HTTP_CLIENTS, PACE_MS);
    const publisher = startKeepAliveLoad(`${g.url}/hub/publish/ticks`, 1, PUBLISH_MS, (n) => ({
      method: 'POST',
      body: JSON.stringify({ n }),
      headers: { 'content-type': 'application/json' },
    }));
    loads = [load, publisher];
    const published = (): number => publisher.answered.filter((a) => a.status === 202).length;
    await until(() => published() >= 20 && load.answered.length >= 100, 'the load to run');

    /** When each reload began and returned, and how long it took. */
    const reloads: { version: string; ms: number; began: number; done: number }[] = [];
    for (const version of ['v2', 'v3']) {
      writeFileSync(join(dir, 'app.mjs'), pidApp(version));
      const began = Date.now();
      const t0 = performance.now();
      const r = await runCli(['reload'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/worker 1 replaced .*worker 2 replaced/);
      reloads.push({ version, ms: Math.round(performance.now() - t0), began, done: Date.now() });
      // the old workers are gone: only the new code answers, from two new pids
      pidsOf[version] = await workersOf(`${g.url}/`, version);
      const before = published();
      await until(() => published() >= before + 20, `publishes after the reload to ${version}`);
    }
    expect(new Set(Object.values(pidsOf).flat()).size).toBe(6);

    await publisher.stop();
    const last = await request(`${g.url}/hub/publish/ticks`, { method: 'POST', body: '"last"', headers: { 'content-type': 'application/json' } });
    expect(last.status).toBe(202);
    const lastSeq = seqOf(String((JSON.parse(last.body) as { id: string }).id));
    await until(() => subscribers.every((s) => s.seqs.at(-1) === lastSeq), 'every subscriber to get the last message');
    await load.stop();

    // HTTP: nothing failed; each request answered by the code running when it was sent
    expect(load.failed).toEqual([]);
    expect(publisher.failed).toEqual([]);
    for (const a of load.answered) {
      expect(a.status).toBe(200);
      const [version, pid] = a.body.split(' ');
      expect(pidsOf[version!], a.body).toContain(Number(pid));
      if (a.sent > reloads[0]!.done) expect(version).not.toBe('v1');
      if (a.sent > reloads[1]!.done) expect(version).toBe('v3');
    }
    // the publisher and the clients ran through each reload
    for (const { began, done } of reloads) {
      expect(publisher.answered.filter((a) => a.status === 202 && a.sent > began && a.sent < done).length).toBeGreaterThan(0);
      expect(load.answered.filter((a) => a.sent > began && a.sent < done).length).toBeGreaterThan(0);
    }
    // one message per 202 (a retried publish was not processed twice), ids 1..last
    const refused = publisher.answered.filter((a) => a.status !== 202);
    expect(refused.filter((a) => a.status !== 503 || !a.close)).toEqual([]);
    expect(lastSeq).toBe(published() + 1);

    // WebSockets: closed only with 1012, at least once per reload; resumed without loss; every id once, in order
    const every = Array.from({ length: lastSeq }, (_, i) => i + 1);
    for (const s of subscribers) {
      expect(s.closes.length).toBeGreaterThanOrEqual(2);
      expect(new Set(s.closes)).toEqual(new Set([1012]));
      // every resubscription was a replay from the last id seen, and nothing was lost
      expect(s.acks.slice(1).filter((ack) => typeof ack['replayed'] !== 'number' || ack['lost'] !== undefined)).toEqual([]);
      expect(s.epochs.size).toBe(1);
      expect(s.seqs).toEqual(every);
    }

    const reconnects = subscribers.reduce((n, s) => n + s.reconnects, 0);
    const retried = load.answered.filter((a) => a.retried).length + publisher.answered.filter((a) => a.retried).length;
    process.stdout.write(
      `rolling reloads: ${reloads.map((r) => `${r.version} in ${r.ms} ms`).join(', ')}; ` +
        `${load.answered.length} requests answered (${retried} retried after a clean close), 0 failed; ` +
        `${published()} publishes (${refused.length} more answered 503 by a stopping hub); ${reconnects} WebSocket reconnections by ${SUBSCRIBERS} clients; ` +
        `${lastSeq} messages × ${SUBSCRIBERS} subscribers checked\n`,
    );
  });
});
