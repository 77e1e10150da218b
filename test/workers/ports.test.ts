import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addressOf } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { fetchBody, isReady, pidApp, spawnMarked, workerPids, useRunningClis } from '../helpers/workers.js';

// node:cluster shares one listening socket per address and port, and sees every port 0 as one
// port: without the primary's port book two services on 127.0.0.1:0 would share one socket.

const running = useRunningClis();
const makeDir = useManifestDirs();

describe('listeners on port 0 with workers', () => {
  it('two per-worker services and two once-services (a hub, a custom kind calling server.listen(0)), all on 127.0.0.1:0, each get a port of their own', async () => {
    // answers `alive` on a port 0 it opens itself, outside listenOn
    const ownKind = fileURLToPath(new URL('../admin/fixtures/dashboard/crash-kind.mjs', import.meta.url));
    const manifest = [
      'workers: 2',
      'services:',
      '  a:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./a.mjs',
      '  b:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./b.mjs',
      '  hub:\n    kind: pubsub\n    listen: 127.0.0.1:0',
      `  own:\n    kind: ${ownKind}`,
      '',
    ].join('\n');
    const { p } = spawnMarked(makeDir({ 'hendrix.yaml': manifest, 'a.mjs': pidApp('a'), 'b.mjs': pidApp('b') }));
    running.push(p);
    const ready = await p.waitForLog(isReady, 20_000);
    const a = addressOf(ready, 'a');
    const b = addressOf(ready, 'b');
    const hub = addressOf(ready, 'hub');
    const own = addressOf(ready, 'own');
    expect(new Set([a, b, hub, own].map((u) => new URL(u).port)).size).toBe(4);
    const pids = workerPids(ready);
    // each service answers with its own app, from the workers, every time
    for (let i = 0; i < 10; i++) {
      const [fromA, fromB] = await Promise.all([fetchBody(`${a}/`), fetchBody(`${b}/`)]);
      expect(fromA).toMatch(/^a \d+$/);
      expect(fromB).toMatch(/^b \d+$/);
      expect(pids).toContain(Number(fromA.split(' ')[1]));
      expect(await fetchBody(`${own}/`)).toBe('alive\n');
    }
  });
});
