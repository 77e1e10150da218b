import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressOf, runCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { request } from '../helpers/reload/load.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../helpers/test-certs.js';
import { startH2Load, startHttpsLoad, type TlsLoad } from '../helpers/tls/keepalive-load-tls.js';
import { isReady, spawnMarked, until, workerPids } from '../helpers/workers.js';

// The acceptance test of rolling reloads over TLS (#15): `hendrix up` with `workers: 2`, an http
// app answering `<version> <pid>` and a tls listener serving it (http2: true, so it speaks
// HTTP/1.1 and HTTP/2), under load — 20 keep-alive node:https clients and 4 node:http2 clients
// looping requests — through two rolling reloads of new app code by `hendrix reload` (the built
// CLI). The retiring worker's listener gives HTTP/1.1 connections a last call and closes them
// cleanly, and sends HTTP/2 sessions a GOAWAY (services/tls/connections.ts).
//
// "Failed" is defined in helpers/tls/keepalive-load-tls.ts, as helpers/keepalive-load.ts defines
// it for node:http: no whole response, except a request that the server provably did not
// process — on a reused HTTP/1.1 connection closed cleanly before a byte of answer, or an HTTP/2
// stream refused (REFUSED_STREAM, or not sent because the session had a GOAWAY) — which is sent
// again once on a new connection and counted as retried. That such a request was indeed not
// processed, and that none was processed without its answer, shows in the app's log: every
// request the workers ran, exactly the requests the clients got an answer to, each once.

const HTTPS_CLIENTS = 20;
const H2_CLIENTS = 4;
/** Between two requests of one client (paced: the machine is shared). */
const PACE_MS = 20;

const running: CliProcess[] = [];
let loads: TlsLoad[] = [];
afterAll(async () => {
  await Promise.all(loads.map((l) => l.stop()));
  for (const p of running) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});

const certs = useCertDir();
let ca: TestCert;
let site: TestCert;
beforeAll(async () => {
  ca = await createTestCa(certs);
  site = await createLeaf(certs, ca, { hosts: ['localhost', '127.0.0.1'], name: 'site' });
}, 30_000);

/** The app: answers `<version> <pid>`, and appends the URL of every load request to `log` (one write per line: atomic). */
function app(version: string, log: string): string {
  return `import { appendFileSync } from 'node:fs';
export default (req, res) => {
  if (req.url !== '/') appendFileSync(${JSON.stringify(log)}, req.url + '\\n');
  res.end(${JSON.stringify(version)} + ' ' + process.pid);
};
`;
}

function manifest(): string {
  return `workers: 2
services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
  secure:
    kind: tls
    listen: 127.0.0.1:0
    serves: web
    http2: true
    cert: ${JSON.stringify(site.certFile)}
    key: ${JSON.stringify(site.keyFile)}
`;
}

describe('rolling reloads of two workers under load over TLS', () => {
  const makeDir = useManifestDirs();

  it('0 failed requests over HTTPS keep-alive and HTTP/2; each answered by the code running when it was sent, then only by the new code', async () => {
    const dir = makeDir({ 'hendrix.yaml': manifest() });
    const log = join(dir, 'requests.log');
    writeFileSync(join(dir, 'app.mjs'), app('v1', log));
    const { p } = spawnMarked(dir);
    running.push(p);
    const ready = await p.waitForLog(isReady, 20_000);
    const origin = addressOf(ready, 'secure');
    const pidsOf: Record<string, number[]> = { v1: workerPids(ready) };

    /** Fresh-connection requests until two workers answered over TLS; every answer must be `version`. */
    const workersOf = async (version: string): Promise<number[]> => {
      const pids = new Set<number>();
      await until(async () => {
        const [v, pid] = (await request(`${origin}/`, { ca: ca.cert })).body.split(' ');
        expect(v).toBe(version);
        pids.add(Number(pid));
        return pids.size === 2;
      }, `both workers answering ${version}`);
      return [...pids];
    };

    const target = { origin, ca: ca.cert, servername: 'localhost' };
    const https = startHttpsLoad({ ...target, path: (c, n) => `/h1/${c}/${n}` }, HTTPS_CLIENTS, PACE_MS);
    const h2 = startH2Load({ ...target, path: (c, n) => `/h2/${c}/${n}` }, H2_CLIENTS, PACE_MS);
    loads = [https, h2];
    await until(() => https.answered.length >= 100 && h2.answered.length >= 20, 'the load to run');

    /** When each reload began and returned, and how long it took. */
    const reloads: { version: string; ms: number; began: number; done: number }[] = [];
    for (const version of ['v2', 'v3']) {
      writeFileSync(join(dir, 'app.mjs'), app(version, log));
      const began = Date.now();
      const t0 = performance.now();
      const r = await runCli(['reload'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/worker 1 replaced .*worker 2 replaced/);
      reloads.push({ version, ms: Math.round(performance.now() - t0), began, done: Date.now() });
      // the old workers are gone: only the new code answers, from two new pids
      pidsOf[version] = await workersOf(version);
      const counts = [https.answered.length, h2.answered.length];
      await until(() => https.answered.length >= counts[0]! + 40 && h2.answered.length >= counts[1]! + 10, `requests after the reload to ${version}`);
    }
    await Promise.all(loads.map((l) => l.stop()));
    expect(new Set(Object.values(pidsOf).flat()).size).toBe(6);

    // nothing failed; each request answered by the code running when it was sent
    expect(https.failed).toEqual([]);
    expect(h2.failed).toEqual([]);
    for (const load of loads) {
      for (const a of load.answered) {
        expect(a.status).toBe(200);
        const [version, pid] = a.body.split(' ');
        expect(pidsOf[version!], a.body).toContain(Number(pid));
        if (a.sent > reloads[0]!.done) expect(version).not.toBe('v1');
        if (a.sent > reloads[1]!.done) expect(version).toBe('v3');
      }
      // the clients ran through each reload
      for (const { began, done } of reloads) expect(load.answered.filter((a) => a.sent > began && a.sent < done).length).toBeGreaterThan(0);
    }

    // every request processed once, and only those answered: none processed twice, or without its answer
    const processed = readFileSync(log, 'utf8').split('\n').filter(Boolean).sort();
    expect(processed).toEqual(loads.flatMap((l) => l.answered.map((a) => a.path)).sort());

    const retried = (load: TlsLoad): number => load.answered.filter((a) => a.retried).length;
    process.stdout.write(
      `rolling reloads over TLS: ${reloads.map((r) => `${r.version} in ${r.ms} ms`).join(', ')}; ` +
        `${https.answered.length} HTTPS keep-alive requests (${retried(https)} sent again after a clean close, ` +
        `${https.answered.filter((a) => a.close).length} answered with Connection: close), ` +
        `${h2.answered.length} HTTP/2 requests (${retried(h2)} refused streams sent again), 0 failed\n`,
    );
  });
});
