import { copyFile, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { startTls, stopTls } from '../../test/helpers/tls/test-harness.js';
import { httpsGet } from '../../test/helpers/tls/test-client.js';

const dir = useCertDir();
let ca: TestCert;
let first: TestCert;
let second: TestCert;
let third: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  [first, second, third] = await Promise.all([
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'first' }),
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'second' }),
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'third' }),
  ]);
}, 30_000);

afterEach(stopTls);

/** Copies a pair into `work` as site.crt/site.key the way renewal tools do: write beside, then rename. */
async function install(work: string, pair: TestCert, keyFrom: TestCert = pair): Promise<void> {
  await copyFile(pair.certFile, join(work, 'site.crt.tmp'));
  await copyFile(keyFrom.keyFile, join(work, 'site.key.tmp'));
  await rename(join(work, 'site.key.tmp'), join(work, 'site.key'));
  await rename(join(work, 'site.crt.tmp'), join(work, 'site.crt'));
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hot certificate reload', () => {
  it('swaps in a changed pair for new handshakes while an open connection keeps working', async () => {
    const work = await mkdtemp(join(dir, 'reload-'));
    await install(work, first);
    const { log, lines } = createCapturingLogger();
    const { port } = await startTls({ cert: './site.crt', key: './site.key' }, { baseDir: work, log });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(before.serverCN).toBe('first');
      const openSocket = before.socket;

      await install(work, second);
      await until(() => lines.some((l) => l['msg'] === 'certificates reloaded'));

      // the kept-alive connection still answers, on its original handshake
      const again = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
      expect(again.socket).toBe(openSocket);
      expect(again.serverCN).toBe('first');
      expect(again.status).toBe(200);
      // a new connection gets the new certificate
      const fresh = await httpsGet({ port, ca: ca.cert, servername: 'localhost' });
      expect(fresh.serverCN).toBe('second');
    } finally {
      agent.destroy();
      await rm(work, { recursive: true, force: true });
    }
  });

  it('keeps the old pair and logs the file when the new one is broken, then takes the next good one', async () => {
    const work = await mkdtemp(join(dir, 'broken-'));
    await install(work, first);
    const { log, lines } = createCapturingLogger();
    const { port } = await startTls({ cert: './site.crt', key: './site.key' }, { baseDir: work, log });

    await install(work, second, third); // a key that does not match the certificate
    await until(() => lines.some((l) => l['code'] === 'HX_ERR_TLS_RELOAD'));
    const rejected = lines.find((l) => l['code'] === 'HX_ERR_TLS_RELOAD')!;
    expect(rejected['level']).toBe(50);
    expect(String(rejected['msg'])).toContain(join(work, 'site.key'));
    expect(rejected['cause']).toBe('HX_ERR_TLS_KEY_MISMATCH');
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');

    await writeFile(join(work, 'site.crt'), 'not a certificate');
    await until(() => lines.filter((l) => l['code'] === 'HX_ERR_TLS_RELOAD').length >= 2);
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');

    await install(work, third);
    await until(() => lines.some((l) => l['msg'] === 'certificates reloaded'));
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('third');
    await rm(work, { recursive: true, force: true });
  });

  it('reloads SNI certificates as well', async () => {
    const work = await mkdtemp(join(dir, 'sni-'));
    await install(work, first);
    const other = await createLeaf(work, ca, { hosts: ['other.test'] });
    const { log, lines } = createCapturingLogger();
    const { port } = await startTls(
      { certs: [{ cert: './site.crt', key: './site.key', hosts: ['localhost'] }, { cert: other.certFile, key: other.keyFile }] },
      { baseDir: work, log },
    );
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');
    await install(work, second);
    await until(() => lines.some((l) => l['msg'] === 'certificates reloaded'));
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('second');
    expect((await httpsGet({ port, ca: ca.cert, servername: 'other.test' })).serverCN).toBe('other.test');
    await rm(work, { recursive: true, force: true });
  });

  it('does not watch when watch is false', async () => {
    const work = await mkdtemp(join(dir, 'nowatch-'));
    await install(work, first);
    const { port } = await startTls({ cert: './site.crt', key: './site.key', watch: false }, { baseDir: work });
    await install(work, second);
    await new Promise((r) => setTimeout(r, 400));
    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost' })).serverCN).toBe('first');
    await rm(work, { recursive: true, force: true });
  });
});
