import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { startFailure } from '../../test/helpers/start-failure.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { TlsService } from './service.js';
import { createTlsContext, startTls, stopTls } from '../../test/helpers/tls/test-harness.js';
import { httpsGet } from '../../test/helpers/tls/test-client.js';

const dir = useCertDir();
let ca: TestCert;
let site: TestCert;
let other: TestCert;
let expired: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  [site, other, expired] = await Promise.all([
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'site' }),
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'other' }),
    createLeaf(dir, ca, { hosts: ['localhost'], name: 'expired', notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }),
  ]);
}, 30_000);

afterEach(stopTls);

/** Starts a tls listener that must fail; returns its error after checking stop still works. */
async function startError(partial: Record<string, unknown>, peers: Record<string, unknown> = { web: fakeHttpHandle() }): Promise<HendrixError> {
  const service = new TlsService(createTlsContext(partial, { baseDir: dir, peers }));
  return startFailure(service);
}

function fakeHttpHandle(): unknown {
  // the shape of an http handle, never asked to serve: these starts fail before listening
  return { handleRequest: () => undefined, attachUpgrades: () => () => undefined, intercept: () => () => undefined, isUpgraded: () => false };
}

describe('certificate errors say which file and where in the manifest', () => {
  it('a missing certificate file', async () => {
    const error = await startError({ cert: './nope.pem', key: site.keyFile });
    expect(error.code).toBe('HX_ERR_TLS_FILE');
    expect(error.message).toBe(`cannot read the certificate ${join(dir, 'nope.pem')}: ENOENT (no such file)`);
    expect(error.path).toEqual(['services', 'secure', 'cert']);
    expect(error.location).toEqual({ file: 'hendrix.yaml', line: 9, column: 5 });
  });

  it('an unreadable key file', async () => {
    if (process.getuid?.() === 0) {
      // root reads everything: a folder stands in for an unreadable file
      const error = await startError({ cert: site.certFile, key: dir });
      expect(error.code).toBe('HX_ERR_TLS_FILE');
      expect(error.message).toMatch(/EISDIR \(is a folder\)/);
      expect(error.path).toEqual(['services', 'secure', 'key']);
      return;
    }
    const locked = join(dir, 'locked.key');
    await writeFile(locked, await readFile(site.keyFile));
    await chmod(locked, 0o000);
    const error = await startError({ cert: site.certFile, key: locked });
    expect(error.code).toBe('HX_ERR_TLS_FILE');
    expect(error.message).toMatch(/EACCES \(permission denied\)/);
  });

  it('a file that is not PEM, and cert and key swapped', async () => {
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'hello');
    const notPem = await startError({ cert: junk, key: site.keyFile });
    expect(notPem.code).toBe('HX_ERR_TLS_PEM');
    expect(notPem.message).toBe(`${junk} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
    expect(notPem.path).toEqual(['services', 'secure', 'cert']);
    const swapped = await startError({ cert: site.certFile, key: site.certFile });
    expect(swapped.code).toBe('HX_ERR_TLS_PEM');
    expect(swapped.message).toMatch(/holds no PEM private key \(it holds a certificate: are cert and key swapped\?\)/);
    expect(swapped.path).toEqual(['services', 'secure', 'key']);
  });

  it('a key that does not match its certificate', async () => {
    const error = await startError({ cert: site.certFile, key: other.keyFile });
    expect(error.code).toBe('HX_ERR_TLS_KEY_MISMATCH');
    expect(error.message).toBe(`the key ${other.keyFile} does not match the certificate ${site.certFile} (CN=site)`);
    expect(error.path).toEqual(['services', 'secure', 'key']);
  });

  it('a broken entry of an SNI list names its index', async () => {
    const error = await startError({ certs: [{ cert: site.certFile, key: site.keyFile }, { cert: other.certFile, key: site.keyFile }] });
    expect(error.code).toBe('HX_ERR_TLS_KEY_MISMATCH');
    expect(error.path).toEqual(['services', 'secure', 'certs', 1, 'key']);
  });

  it('a client CA that cannot be read', async () => {
    const error = await startError({ cert: site.certFile, key: site.keyFile, clientAuth: { ca: './missing-ca.pem' } });
    expect(error.code).toBe('HX_ERR_TLS_FILE');
    expect(error.path).toEqual(['services', 'secure', 'clientAuth', 'ca']);
  });

  it('serves naming a service that is not http', async () => {
    const error = await startError({ cert: site.certFile, key: site.keyFile }, { web: { publish() {} } });
    expect(error.code).toBe('HX_ERR_TLS_SERVES');
    expect(error.message).toBe('`serves: web` names a service that is not of kind http');
    expect(error.path).toEqual(['services', 'secure', 'serves']);
  });

  it('a port in use', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const { web } = await startTls({ cert: site.certFile, key: site.keyFile });
      const error = await startError({ cert: site.certFile, key: site.keyFile, listen: `127.0.0.1:${port}` }, { web: web.handle() });
      expect(error.code).toBe('HX_ERR_LISTEN');
      expect(error.message).toBe(`cannot listen on https://127.0.0.1:${port}: EADDRINUSE (address already in use)`);
      expect(error.path).toEqual(['services', 'secure', 'listen']);
      const redirect = await startError({ cert: site.certFile, key: site.keyFile, redirect: { listen: `127.0.0.1:${port}` } }, { web: web.handle() });
      expect(redirect.code).toBe('HX_ERR_LISTEN');
      expect(redirect.path).toEqual(['services', 'secure', 'redirect', 'listen']);
    } finally {
      taken.close();
    }
  });
});

describe('an expired certificate', () => {
  it('is served with a warning that carries its code, file and dates', async () => {
    const { log, lines } = createCapturingLogger();
    const { port } = await startTls({ cert: expired.certFile, key: expired.keyFile }, { baseDir: dir, log });
    const warning = lines.find((l) => l['code'] === 'HX_ERR_TLS_CERT_EXPIRED');
    expect(warning).toMatchObject({ level: 40, file: expired.certFile });
    expect(String(warning?.['msg'])).toMatch(/^certificate expired on .*: clients will refuse it$/);
    const res = await httpsGet({ port, rejectUnauthorized: false, servername: 'localhost' });
    expect(res.serverCN).toBe('expired');
  });
});

describe('selfSigned', () => {
  it('creates a development certificate in stateDir and reuses it on the next start', async () => {
    const work = await mkdtemp(join(dir, 'dev-'));
    const { port, tls } = await startTls({ selfSigned: { hosts: ['dev.test'] } }, { baseDir: work });
    const first = await httpsGet({ port, rejectUnauthorized: false, servername: 'localhost' });
    const stored = await readFile(join(work, '.hendrix/tls/secure.self-signed.crt'), 'utf8');
    // trusted as its own CA, it verifies for localhost and the extra host
    expect((await httpsGet({ port, ca: stored, servername: 'localhost' })).socket.authorized).toBe(true);
    expect((await httpsGet({ port, ca: stored, servername: 'dev.test' })).socket.authorized).toBe(true);
    await tls.stop(AbortSignal.timeout(2_000));
    await stopTls();
    const again = await startTls({ selfSigned: { hosts: ['dev.test'] } }, { baseDir: work });
    const second = await httpsGet({ port: again.port, rejectUnauthorized: false, servername: 'localhost' });
    expect(second.serverCert.fingerprint256).toBe(first.serverCert.fingerprint256);
  });
});

describe('the ciphers field', () => {
  it('refuses weak cipher settings and accepts exclusions of them', async () => {
    const { tlsSchema, weakCipher } = await import('./schema.js');
    expect(weakCipher('ECDHE-ECDSA-AES128-GCM-SHA256:!aNULL:!eNULL:!EXPORT:!RC4')).toBeUndefined();
    expect(weakCipher('ECDHE-ECDSA-NULL-SHA:ECDHE-ECDSA-AES128-GCM-SHA256')).toBe('ECDHE-ECDSA-NULL-SHA');
    expect(weakCipher('HIGH:@SECLEVEL=0')).toBe('@SECLEVEL=0');
    expect(weakCipher('DES-CBC3-SHA')).toBe('DES-CBC3-SHA');
    expect(weakCipher('RC4-MD5')).toBe('RC4-MD5');
    const result = tlsSchema.safeParse({ serves: 'web', selfSigned: true, ciphers: 'EXP-RC4-MD5' });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('is a weak cipher setting');
  });
});
