import { fileURLToPath } from 'node:url';
import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { addressOf } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { isReady, pidApp, spawnMarked, until, useRunningClis } from '../helpers/workers.js';

// /readyz in a worker counts the once-services too: the primary sends their states to every
// worker (a stand-in in the worker is not the real service).

const running = useRunningClis();
const makeDir = useManifestDirs();

function status(url: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('readiness with workers', () => {
  it('a worker answers /readyz 503 once a once-service listed in health.services has failed', async () => {
    // answers on its own port; GET /crash makes it crash (restart: no → failed, onFailed: keep)
    const kind = fileURLToPath(new URL('../admin/fixtures/dashboard/crash-kind.mjs', import.meta.url));
    const manifest = [
      'workers: 2',
      'services:',
      '  web:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n    health: { path: /healthz, services: [web, flaky] }',
      `  flaky:\n    kind: ${kind}\n    restart: { policy: "no" }\n    onFailed: keep`,
      '',
    ].join('\n');
    const { p } = spawnMarked(makeDir({ 'hendrix.yaml': manifest, 'app.mjs': pidApp('v1') }));
    running.push(p);
    const ready = await p.waitForLog(isReady, 20_000);
    const web = addressOf(ready, 'web');
    const flaky = addressOf(ready, 'flaky');
    // both workers (fresh connections spread over them) say ready
    for (let i = 0; i < 6; i++) expect((await status(`${web}/readyz`)).code).toBe(200);
    await status(`${flaky}/crash`);
    await until(async () => (await status(`${web}/readyz`)).code === 503, '/readyz 503');
    // every worker says so, with what it waits for; liveness and the app are unaffected
    for (let i = 0; i < 6; i++) {
      const answer = await status(`${web}/readyz`);
      expect(answer.code).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ status: 'not ready', waiting: { flaky: 'failed' } });
    }
    expect((await status(`${web}/healthz`)).code).toBe(200);
    expect((await status(`${web}/`)).body).toMatch(/^v1 \d+$/);
  });
});
