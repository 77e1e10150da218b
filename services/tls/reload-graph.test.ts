import { copyFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { up, type Hendrix } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { h2Get, h2Session, httpsGet } from '../../test/helpers/tls/test-client.js';
import type { TlsHandle } from './handle.js';

/**
 * `hendrix reload` of a graph with a tls listener, through the real orchestrator: the plan
 * diff, the kind's canReload, reload(next) in place, the rebind that follows a replaced http
 * service, a replacement that takes the socket over, and a rollback (the open keep-alive
 * connection stays through every in-place step).
 */

const dirs = useManifestDirs();
const certDir = useCertDir();
let ca: TestCert;
let first: TestCert;
let second: TestCert;
let app: Hendrix | undefined;

beforeAll(async () => {
  ca = await createTestCa(certDir);
  [first, second] = await Promise.all([createLeaf(certDir, ca, { hosts: ['localhost'], name: 'first' }), createLeaf(certDir, ca, { hosts: ['localhost'], name: 'second' })]);
}, 30_000);

afterEach(async () => {
  await app?.stop();
  app = undefined;
});

/** What a reload rejected with. */
async function failure(reload: Promise<unknown>): Promise<HendrixError | undefined> {
  return (await reload.then(
    () => undefined,
    (e: unknown) => e,
  )) as HendrixError | undefined;
}

const appModule = (version: number) => `export default (req, res) => res.end(JSON.stringify({ version: ${version}, httpVersion: req.httpVersion }));\n`;

const manifest = (o: { web?: string; cert: string; key: string; http2?: boolean; redirect?: string }) =>
  [
    'version: 1',
    'services:',
    '  web:',
    '    kind: http',
    `    listen: ${o.web ?? './web.sock'}`,
    '    app: ./app.mjs',
    '  secure:',
    '    kind: tls',
    '    listen: 127.0.0.1:0',
    '    serves: web',
    `    cert: ./${o.cert}`,
    `    key: ./${o.key}`,
    '    watch: false',
    `    http2: ${o.http2 ?? false}`,
    ...(o.redirect === undefined ? [] : ['    redirect:', `      listen: ${o.redirect}`]),
    '',
  ].join('\n');

describe('reloading a graph with a tls listener (up() and handle.reload())', () => {
  it('in place (certificate), rebind after the http service is replaced, a broken key refused by the plan, a busy redirect address rolled back, http2 by replacement on the same port', async () => {
    const dir = dirs({ 'hendrix.yaml': manifest({ cert: 'first.crt', key: 'first.key' }), 'app.mjs': appModule(1) });
    for (const pair of [first, second]) {
      const stem = pair === first ? 'first' : 'second';
      copyFileSync(pair.certFile, join(dir, `${stem}.crt`));
      copyFileSync(pair.keyFile, join(dir, `${stem}.key`));
    }
    const file = join(dir, 'hendrix.yaml');
    app = await up(file, { environment: {}, logger: createSilentLogger(), handleFaults: false });
    const portOf = (): number => (app?.handle<TlsHandle>('secure').address() as { port: number }).port;
    const port = portOf();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const open = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(open.serverCN).toBe('first');
      let closed = false;
      open.socket.once('close', () => (closed = true));

      writeFileSync(file, manifest({ cert: 'second.crt', key: 'second.key' }));
      const inPlace = await app.reload();
      expect(inPlace.diff.changed.map((c) => [c.name, c.mode])).toEqual([['secure', 'in-place']]);
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent })).socket).toBe(open.socket);

      // the http service moves to another socket (replaced) with a new app: the listener rebinds
      writeFileSync(join(dir, 'app.mjs'), appModule(2));
      writeFileSync(file, manifest({ web: './web2.sock', cert: 'second.crt', key: 'second.key' }));
      const replaced = await app.reload();
      expect(replaced.diff.changed.map((c) => [c.name, c.mode])).toEqual([['web', 'replace']]);
      expect(replaced.report?.steps).toContainEqual(expect.objectContaining({ service: 'secure', action: 'rebind' }));
      const rebound = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(rebound.socket).toBe(open.socket);
      expect(rebound.json()).toMatchObject({ version: 2 });

      // a key that does not match is found by the plan, before anything is touched
      writeFileSync(file, manifest({ web: './web2.sock', cert: 'second.crt', key: 'first.key' }));
      const refused = await failure(app.reload());
      expect(refused?.code).toBe('HX_ERR_MANIFEST');
      expect(JSON.stringify(refused)).toContain('HX_ERR_TLS_KEY_MISMATCH');

      // a redirect address someone else holds is found only by the reload: it is rolled back
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      try {
        const busyPort = (busy.address() as { port: number }).port;
        writeFileSync(file, manifest({ web: './web2.sock', cert: 'first.crt', key: 'first.key', redirect: `127.0.0.1:${busyPort}` }));
        const error = await failure(app.reload());
        expect(error?.code).toBe('HX_ERR_RELOAD_FAILED');
        expect((error?.cause as HendrixError | undefined)?.code).toBe('HX_ERR_LISTEN');
        expect(error?.path).toEqual(['services', 'secure', 'redirect', 'listen']);
      } finally {
        busy.close();
      }
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent })).json()).toMatchObject({ version: 2 });
      expect(closed).toBe(false);

      writeFileSync(file, manifest({ web: './web2.sock', cert: 'second.crt', key: 'second.key', http2: true }));
      const h2 = await app.reload();
      expect(h2.diff.changed.map((c) => [c.name, c.mode])).toEqual([['secure', 'replace']]);
      expect(portOf()).toBe(port);
      const session = await h2Session({ port, ca: ca.cert, servername: 'localhost' });
      const res = await h2Get(session).finally(() => session.close());
      expect(JSON.parse(res.body)).toMatchObject({ version: 2, httpVersion: '2.0' });
    } finally {
      agent.destroy();
    }
  }, 60_000);
});
