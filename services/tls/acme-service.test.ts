import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { freePort, startPebble, type Pebble } from '../../test/helpers/pebble.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { startTls, stopTls, tlsConfig } from '../../test/helpers/tls/test-harness.js';
import { httpsGet } from '../../test/helpers/tls/test-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await stopTls();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function usePebble(httpPort: number): Promise<Pebble> {
  const pebble = await startPebble({ httpPort });
  cleanups.push(() => pebble.stop());
  return pebble;
}

async function useDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hendrix-acme-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe.runIf(needCommand('pebble'))('a tls listener with acme (against pebble)', () => {
  it('obtains its certificate through the redirect listener, serves it, and reuses it on the next start', async () => {
    const redirectPort = await freePort();
    const pebble = await usePebble(redirectPort);
    const dir = await useDir();
    const { log, lines } = createCapturingLogger();
    const config = {
      acme: { directory: pebble.directory, directoryCa: pebble.directoryCaFile, email: 'ops@example.com', hosts: ['localhost'] },
      redirect: { listen: `127.0.0.1:${redirectPort}` },
    };
    const first = await startTls(config, { baseDir: dir, log });
    const root = await pebble.root();
    const res = await httpsGet({ port: first.port, ca: root, servername: 'localhost' });
    expect(res.status).toBe(200);
    expect(res.socket.authorized).toBe(true);
    expect(res.serverCert.subjectaltname).toContain('DNS:localhost');
    const serial = res.serverCert.serialNumber;
    await stopTls();

    // the CA is gone: the stored certificate is enough
    await pebble.stop();
    const again = await startTls(config, { baseDir: dir, log });
    const reused = await httpsGet({ port: again.port, ca: root, servername: 'localhost' });
    expect(reused.serverCert.serialNumber).toBe(serial);
    expect(lines.some((l) => l['level'] === 50)).toBe(false);
  }, 60_000);

  it('answers the challenge on the served http service when there is no redirect listener', async () => {
    const webPort = await freePort();
    const pebble = await usePebble(webPort);
    const dir = await useDir();
    const { port } = await startTls(
      { acme: { directory: pebble.directory, directoryCa: pebble.directoryCaFile, hosts: ['127.0.0.1'] } },
      { baseDir: dir, web: { listen: `127.0.0.1:${webPort}` } },
    );
    const res = await httpsGet({ port, ca: await pebble.root() });
    expect(res.socket.authorized).toBe(true);
    expect(new X509Certificate(res.serverCert.raw).checkIP('127.0.0.1')).toBe('127.0.0.1');
    // the app still gets every other request on the http service
    const plain = await fetch(`http://127.0.0.1:${webPort}/plain`);
    expect(await plain.json()).toMatchObject({ path: '/plain', encrypted: false });
  }, 60_000);

  it('swaps a renewed certificate in without a restart', async () => {
    const redirectPort = await freePort();
    const pebble = await usePebble(redirectPort);
    const dir = await useDir();
    const { log, lines } = createCapturingLogger();
    // renewBefore longer than pebble's validity: every check renews
    const { port } = await startTls(
      {
        acme: { directory: pebble.directory, directoryCa: pebble.directoryCaFile, hosts: ['localhost'], renewBefore: '36500d', checkInterval: '300ms' },
        redirect: { listen: `127.0.0.1:${redirectPort}` },
      },
      { baseDir: dir, log },
    );
    const root = await pebble.root();
    const before = (await httpsGet({ port, ca: root, servername: 'localhost' })).serverCert.serialNumber;
    const deadline = Date.now() + 30_000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = (await httpsGet({ port, ca: root, servername: 'localhost' })).serverCert.serialNumber;
    }
    expect(after).not.toBe(before);
    expect(lines.filter((l) => Number(l['level']) >= 50)).toEqual([]);
  }, 60_000);

  it('switches to acme in place (the challenge answered by the running redirect listener) and back, an open connection staying', async () => {
    const redirectPort = await freePort();
    const pebble = await usePebble(redirectPort);
    const dir = await useDir();
    const { log, lines } = createCapturingLogger();
    const redirect = { listen: `127.0.0.1:${redirectPort}` };
    const { port, tls } = await startTls({ selfSigned: true, redirect }, { baseDir: dir, log });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const open = await httpsGet({ port, rejectUnauthorized: false, servername: 'localhost', agent });
      const acme = { directory: pebble.directory, directoryCa: pebble.directoryCaFile, hosts: ['localhost'] };
      await tls.reload(tlsConfig({ acme, redirect }), AbortSignal.timeout(30_000));
      const root = await pebble.root();
      const obtained = await httpsGet({ port, ca: root, servername: 'localhost' });
      expect(obtained.socket.authorized).toBe(true);
      expect(obtained.serverCert.fingerprint256).not.toBe(open.serverCert.fingerprint256);
      expect((await httpsGet({ port, rejectUnauthorized: false, servername: 'localhost', agent })).socket).toBe(open.socket);

      await tls.reload(tlsConfig({ selfSigned: true, redirect }), AbortSignal.timeout(10_000));
      const back = await httpsGet({ port, rejectUnauthorized: false, servername: 'localhost' });
      expect(back.serverCert.fingerprint256).toBe(open.serverCert.fingerprint256);
      // no challenge answered any more: the redirect listener redirects that path like any other
      expect((await fetch(`http://127.0.0.1:${redirectPort}/.well-known/acme-challenge/x`, { redirect: 'manual' })).status).toBe(308);
      expect(lines.filter((l) => Number(l['level']) >= 50)).toEqual([]);
    } finally {
      agent.destroy();
    }
  }, 60_000);

  it('fails the start with HX_ERR_TLS_ACME and the CA problem when nothing answers the challenge', async () => {
    const nobody = await freePort();
    const pebble = await usePebble(nobody);
    const dir = await useDir();
    const error = await startTls({ acme: { directory: pebble.directory, directoryCa: pebble.directoryCaFile, hosts: ['localhost'] } }, { baseDir: dir }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string; path?: unknown },
    );
    expect(error?.code).toBe('HX_ERR_TLS_ACME');
    expect(error?.message).toMatch(/http-01 challenge for localhost failed: .*connection/);
    expect(error?.path).toEqual(['services', 'secure', 'acme']);
  }, 60_000);
});
