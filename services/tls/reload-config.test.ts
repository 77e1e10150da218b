import { copyFile, mkdtemp } from 'node:fs/promises';
import { Agent } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { freePort } from '../../test/helpers/pebble.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { startTls, stopTls, tlsConfig } from '../../test/helpers/tls/test-harness.js';
import { h2Get, h2ServerCN, h2Session, handshakeOutcome, httpsGet, plainGet } from '../../test/helpers/tls/test-client.js';
import { tlsKind } from './kind.js';

const dir = useCertDir();
let ca: TestCert;
let first: TestCert;
let second: TestCert;
let third: TestCert;
let a: TestCert;
let b: TestCert;
let client: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  [first, second, third, a, b, client] = await Promise.all([
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'first' }),
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'second' }),
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'third' }),
    createLeaf(dir, ca, { hosts: ['a.test'] }),
    createLeaf(dir, ca, { hosts: ['b.test'] }),
    createLeaf(dir, ca, { hosts: ['alice'], clientAuth: true }),
  ]);
}, 30_000);

afterEach(stopTls);

const signal = (): AbortSignal => AbortSignal.timeout(15_000);

/** A probe that says whether `socket` has closed since the call. */
function closedSince(socket: { once(event: 'close', listener: () => void): unknown }): () => boolean {
  let closed = false;
  socket.once('close', () => (closed = true));
  return () => closed;
}

async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a reload rejected with. */
async function rejection(promise: Promise<unknown>): Promise<{ code?: string; path?: unknown; message?: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isHendrixError(error)).toBe(true);
  return error as { code?: string; path?: unknown };
}

describe('canReload', () => {
  it('applies everything in place but listen, serves, http2 and handshakeTimeout', () => {
    const can = (fields: string[][], files: { path: string; role: 'cert' | 'key' | 'ca' }[] = []): boolean => tlsKind.canReload?.({ fields, files }) === true;
    const inPlace = [['cert'], ['key'], ['certs'], ['selfSigned'], ['clientAuth', 'ca'], ['clientAuth', 'required'], ['hsts'], ['hsts', 'maxAge'], ['redirect', 'listen', 'port'], ['redirect', 'status']];
    expect(can([...inPlace, ['acme', 'hosts'], ['minVersion'], ['ciphers'], ['watch'], ['stateDir']])).toBe(true);
    expect(can([], [{ path: '/etc/site.pem', role: 'cert' }, { path: '/etc/ca.pem', role: 'ca' }])).toBe(true);
    for (const replaced of [['listen', 'port'], ['serves'], ['http2'], ['handshakeTimeout']]) expect(can([['cert'], replaced])).toBe(false);
  });
});

describe('reload in place: certificates', () => {
  it('gives new handshakes the new certificate while a keep-alive connection stays open on its own', async () => {
    const { log, lines } = createCapturingLogger();
    const config = { cert: first.certFile, key: first.keyFile, watch: false };
    const { port, tls } = await startTls(config, { baseDir: dir, log });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(before.serverCN).toBe('first');
      const closed = closedSince(before.socket);
      await tls.reload(tlsConfig({ ...config, cert: second.certFile, key: second.keyFile }), signal());
      const again = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent, path: '/again' });
      expect(again.socket).toBe(before.socket);
      expect(again.serverCN).toBe('first');
      expect(again.json()).toMatchObject({ path: '/again' });
      expect(closed()).toBe(false);
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
      expect(lines.find((l) => l['msg'] === 'reloaded')).toMatchObject({ changed: ['cert', 'key'] });
    } finally {
      agent.destroy();
    }
  });

  it('keeps an HTTP/2 session open across a certificate change; a new session gets the new certificate', async () => {
    const config = { cert: first.certFile, key: first.keyFile, http2: true };
    const { port, tls } = await startTls(config, { baseDir: dir });
    const session = await h2Session({ port, ca: ca.cert, servername: 'localhost' });
    const fresh = await (async () => {
      expect(h2ServerCN(session)).toBe('first');
      expect((await h2Get(session, '/one')).status).toBe(200);
      const closed = closedSince(session);
      let goaway = false;
      session.once('goaway', () => (goaway = true));
      await tls.reload(tlsConfig({ ...config, cert: second.certFile, key: second.keyFile }), signal());
      const after = await h2Get(session, '/two');
      expect(JSON.parse(after.body)).toMatchObject({ path: '/two', httpVersion: '2.0' });
      expect(closed()).toBe(false);
      expect(goaway).toBe(false);
      return h2Session({ port, ca: ca.cert, servername: 'localhost' });
    })().finally(() => session.close());
    expect(h2ServerCN(fresh)).toBe('second');
    fresh.close();
  });

  it('reads the files again when only their content changed', async () => {
    const work = await mkdtemp(join(dir, 'content-'));
    await copyFile(first.certFile, join(work, 'site.crt'));
    await copyFile(first.keyFile, join(work, 'site.key'));
    const config = { cert: './site.crt', key: './site.key', watch: false };
    const { port, tls } = await startTls(config, { baseDir: work });
    await copyFile(second.keyFile, join(work, 'site.key'));
    await copyFile(second.certFile, join(work, 'site.crt'));
    await tls.reload(tlsConfig(config), signal());
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
  });

  it('watches the files of the new config after a reload, and no longer the old ones', async () => {
    const [oldDir, newDir] = await Promise.all([mkdtemp(join(dir, 'watch-old-')), mkdtemp(join(dir, 'watch-new-'))]);
    for (const [folder, pair] of [[oldDir, first], [newDir, second]] as const) {
      await copyFile(pair.certFile, join(folder, 'site.crt'));
      await copyFile(pair.keyFile, join(folder, 'site.key'));
    }
    const { log, lines } = createCapturingLogger();
    const { port, tls } = await startTls({ cert: join(oldDir, 'site.crt'), key: join(oldDir, 'site.key') }, { baseDir: dir, log });
    await tls.reload(tlsConfig({ cert: join(newDir, 'site.crt'), key: join(newDir, 'site.key') }), signal());
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
    // a change to the old files would be a reload back to them: it must not be seen
    await copyFile(third.keyFile, join(oldDir, 'site.key'));
    await copyFile(third.certFile, join(oldDir, 'site.crt'));
    await copyFile(third.keyFile, join(newDir, 'site.key'));
    await copyFile(third.certFile, join(newDir, 'site.crt'));
    await until(() => lines.some((l) => l['msg'] === 'certificates reloaded'));
    const reloaded = lines.filter((l) => l['msg'] === 'certificates reloaded');
    expect(reloaded.flatMap((l) => l['files'] as string[]).every((file) => file.startsWith(newDir))).toBe(true);
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('third');
  });

  it('adds and removes SNI names, from one certificate to several and back', async () => {
    const { port, tls } = await startTls({ cert: a.certFile, key: a.keyFile }, { baseDir: dir });
    const cn = async (servername: string): Promise<string | undefined> => (await httpsGet({ port, ca: ca.cert, servername, rejectUnauthorized: false })).serverCN;
    expect(await cn('b.test')).toBe('a.test');
    await tls.reload(tlsConfig({ certs: [{ cert: a.certFile, key: a.keyFile }, { cert: b.certFile, key: b.keyFile }] }), signal());
    expect(await cn('b.test')).toBe('b.test');
    expect(await cn('a.test')).toBe('a.test');
    expect((await httpsGet({ port, ca: ca.cert, servername: 'b.test' })).socket.authorized).toBe(true);
    await tls.reload(tlsConfig({ certs: [{ cert: b.certFile, key: b.keyFile }] }), signal());
    expect(await cn('a.test')).toBe('b.test');
  });

  it('applies minVersion to new handshakes only', async () => {
    const config = { cert: first.certFile, key: first.keyFile };
    const { port, tls } = await startTls(config, { baseDir: dir });
    const old = { port, ca: ca.cert, servername: 'localhost', maxVersion: 'TLSv1.2' as const };
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsGet({ ...old, agent });
      expect(before.socket.getProtocol()).toBe('TLSv1.2');
      await tls.reload(tlsConfig({ ...config, minVersion: 'TLSv1.3' }), signal());
      expect((await httpsGet({ ...old, agent })).socket).toBe(before.socket);
      expect(await handshakeOutcome(old)).toMatch(/protocol|version/i);
      expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost' })).toBe('connected');
    } finally {
      agent.destroy();
    }
  });
});

describe('reload in place: mutual TLS', () => {
  /** A TLS session ticket of an anonymous connection, for a resumption attempt. */
  function anonymousSession(port: number): Promise<{ session: Buffer; socket: TLSSocket }> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' });
      socket.once('session', (session: Buffer) => resolve({ session, socket }));
      socket.once('error', reject);
    });
  }

  it('turns client certificates on and off for new handshakes; open connections and resumed sessions do not skip them', async () => {
    const config = { cert: first.certFile, key: first.keyFile, minVersion: 'TLSv1.3' };
    const { port, tls } = await startTls(config, { baseDir: dir });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const open = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      const closed = closedSince(open.socket);
      const ticket = await anonymousSession(port);
      ticket.socket.destroy();
      // the control: before the reload, the ticket resumes a session
      const resumed = await new Promise<TLSSocket>((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost', session: ticket.session }, () => resolve(socket));
        socket.once('error', reject);
      });
      expect(resumed.isSessionReused()).toBe(true);
      resumed.destroy();

      await tls.reload(tlsConfig({ ...config, clientAuth: { ca: ca.certFile } }), signal());
      expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost' })).not.toBe('connected');
      expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost', session: ticket.session })).not.toBe('connected');
      const known = await httpsGet({ port, ca: ca.cert, servername: 'localhost', cert: client.cert, key: client.key });
      expect(known.json()).toMatchObject({ authorized: true, clientCN: 'alice' });
      const still = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(still.socket).toBe(open.socket);
      expect(still.json()).toMatchObject({ authorized: false, clientCN: null });
      expect(closed()).toBe(false);

      await tls.reload(tlsConfig({ ...config, clientAuth: { ca: ca.certFile, required: false } }), signal());
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).json()).toMatchObject({ authorized: false });
      await tls.reload(tlsConfig(config), signal());
      expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost' })).toBe('connected');
    } finally {
      agent.destroy();
    }
  });
});

describe('reload in place: HSTS and the redirect listener', () => {
  it('changes HSTS and the redirect status for the next requests on the same connection, and removes the redirect listener', async () => {
    const config = { cert: first.certFile, key: first.keyFile, redirect: { listen: '127.0.0.1:0' } };
    const { port, tls } = await startTls(config, { baseDir: dir });
    const redirectPort = (tls.redirectAddress() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(before.headers['strict-transport-security']).toBeUndefined();
      expect((await plainGet(redirectPort, '/x')).status).toBe(308);

      await tls.reload(tlsConfig({ ...config, hsts: { maxAge: '1d' }, redirect: { listen: '127.0.0.1:0', status: 301 } }), signal());
      const after = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(after.socket).toBe(before.socket);
      expect(after.headers['strict-transport-security']).toBe('max-age=86400');
      const moved = await plainGet(redirectPort, '/x');
      expect(moved.status).toBe(301);
      expect(moved.headers.location).toBe(`https://example.test:${port}/x`);

      await tls.reload(tlsConfig({ cert: first.certFile, key: first.keyFile }), signal());
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent })).headers['strict-transport-security']).toBeUndefined();
      await expect(plainGet(redirectPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      agent.destroy();
    }
  });

  it('moves the redirect listener to a new address, and back on a rollback', async () => {
    const [oldPort, newPort] = [await freePort(), await freePort()];
    const config = { cert: first.certFile, key: first.keyFile, redirect: { listen: `127.0.0.1:${oldPort}` } };
    const { tls } = await startTls(config, { baseDir: dir });
    expect((await plainGet(oldPort)).status).toBe(308);
    await tls.reload(tlsConfig({ ...config, redirect: { listen: `127.0.0.1:${newPort}` } }), signal());
    expect((await plainGet(newPort)).status).toBe(308);
    await expect(plainGet(oldPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await tls.reload(tlsConfig(config), signal());
    expect((await plainGet(oldPort)).status).toBe(308);
    await expect(plainGet(newPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects a redirect address in use at redirect.listen and changes nothing', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      const config = { cert: first.certFile, key: first.keyFile, redirect: { listen: '127.0.0.1:0' } };
      const { port, tls } = await startTls(config, { baseDir: dir });
      const redirectPort = (tls.redirectAddress() as { port: number }).port;
      const error = await rejection(tls.reload(tlsConfig({ ...config, cert: second.certFile, key: second.keyFile, redirect: { listen: `127.0.0.1:${busyPort}` } }), signal()));
      expect(error.code).toBe('HX_ERR_LISTEN');
      expect(error.path).toEqual(['services', 'secure', 'redirect', 'listen']);
      expect((await plainGet(redirectPort)).status).toBe(308);
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');
    } finally {
      busy.close();
    }
  });
});

describe('reload in place: a broken new config', () => {
  it('rejects a mismatched or unreadable key, or a bad CA, at its manifest path; the old certificate keeps serving', async () => {
    const config = { cert: first.certFile, key: first.keyFile };
    const { port, tls } = await startTls(config, { baseDir: dir });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const open = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      const closed = closedSince(open.socket);
      const cases: [Record<string, unknown>, string, (string | number)[]][] = [
        [{ cert: second.certFile, key: third.keyFile }, 'HX_ERR_TLS_KEY_MISMATCH', ['key']],
        [{ cert: second.certFile, key: join(dir, 'missing.key') }, 'HX_ERR_TLS_FILE', ['key']],
        [{ cert: second.certFile, key: dir }, 'HX_ERR_TLS_FILE', ['key']],
        [{ cert: second.keyFile, key: second.keyFile }, 'HX_ERR_TLS_PEM', ['cert']],
        [{ certs: [{ cert: a.certFile, key: a.keyFile }, { cert: b.certFile, key: a.keyFile }] }, 'HX_ERR_TLS_KEY_MISMATCH', ['certs', 1, 'key']],
        [{ ...config, clientAuth: { ca: first.keyFile } }, 'HX_ERR_TLS_PEM', ['clientAuth', 'ca']],
      ];
      for (const [next, code, path] of cases) {
        const error = await rejection(tls.reload(tlsConfig(next), signal()));
        expect({ code: error.code, path: error.path }).toEqual({ code, path: ['services', 'secure', ...path] });
      }
      const still = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(still.socket).toBe(open.socket);
      expect(closed()).toBe(false);
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');
      // the clientAuth of the rejected config was not applied either
      expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost' })).toBe('connected');
      // and the next good reload applies
      await tls.reload(tlsConfig({ cert: second.certFile, key: second.keyFile }), signal());
      expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
    } finally {
      agent.destroy();
    }
  });
});
