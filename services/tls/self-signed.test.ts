import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { ensureSelfSigned, type SelfSignedOptions } from './self-signed.js';

const DAY = 86_400_000;
const root = mkdtempSync(join(tmpdir(), 'hendrix-self-signed-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let count = 0;
function options(overrides: Partial<SelfSignedOptions> = {}): SelfSignedOptions {
  return { hosts: [], stateDir: join(root, `state-${++count}`, 'tls'), name: 'web', log: createSilentLogger(), service: 'web', ...overrides };
}

/** Connects with full verification, trusting only `ca`; resolves once the handshake is done. */
async function handshake(cert: string, key: string, ca: string, servername: string): Promise<void> {
  const server = createServer({ cert, key }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: true }, () => {
        socket.end();
        resolve();
      });
      socket.on('error', reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('ensureSelfSigned', () => {
  it('creates a SHA-256 certificate for the loopback names and the extra hosts, stored safely', async () => {
    const opts = options({ hosts: ['dev.example.test', '10.1.2.3'] });
    const pair = await ensureSelfSigned(opts);
    expect(pair.certFile).toBe(join(opts.stateDir, 'web.self-signed.crt'));
    expect(pair.keyFile).toBe(join(opts.stateDir, 'web.self-signed.key'));

    const x509 = new X509Certificate(pair.cert);
    expect(x509.subject).toBe('CN=dev.example.test');
    expect(x509.subjectAltName).toBe('DNS:dev.example.test, IP Address:10.1.2.3, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x509.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(Date.parse(x509.validTo) - Date.parse(x509.validFrom)).toBe(365 * DAY);
    expect(Date.parse(x509.validFrom)).toBeLessThan(Date.now() - 30_000);

    expect(statSync(pair.keyFile).mode & 0o077).toBe(0);
    expect(statSync(pair.certFile).mode & 0o777).toBe(0o644 & ~process.umask());
    expect(readdirSync(opts.stateDir).sort()).toEqual(['web.self-signed.crt', 'web.self-signed.key']);
  });

  it.runIf(needCommand('openssl'))('signs with SHA-256 (openssl says so)', async () => {
    const pair = await ensureSelfSigned(options());
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', pair.certFile], { encoding: 'utf8' });
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).not.toMatch(/sha1/i);
  });

  it('passes a verifying TLS handshake for localhost and an extra host', async () => {
    const pair = await ensureSelfSigned(options({ hosts: ['dev.example.test'] }));
    await handshake(pair.cert, pair.key, pair.cert, 'localhost');
    await handshake(pair.cert, pair.key, pair.cert, 'dev.example.test');
    await expect(handshake(pair.cert, pair.key, pair.cert, 'other.test')).rejects.toThrow(/altnames/i);
  });

  it('reuses the stored certificate while it fits', async () => {
    const opts = options({ hosts: ['a.test'] });
    const first = await ensureSelfSigned(opts);
    const second = await ensureSelfSigned(opts);
    expect(new X509Certificate(second.cert).fingerprint256).toBe(new X509Certificate(first.cert).fingerprint256);
    expect(second.key).toBe(first.key);
    // a subset of the names, in another order and case, still fits
    const third = await ensureSelfSigned({ ...opts, hosts: ['A.test', '::1'] });
    expect(third.cert).toBe(first.cert);
    // 300 days on, more than a week is left
    const later = await ensureSelfSigned({ ...opts, now: () => new Date(Date.now() + 300 * DAY) });
    expect(later.cert).toBe(first.cert);
  });

  it('replaces it for a new host', async () => {
    const opts = options({ hosts: ['a.test'] });
    const first = await ensureSelfSigned(opts);
    const second = await ensureSelfSigned({ ...opts, hosts: ['a.test', 'b.test'] });
    expect(second.cert).not.toBe(first.cert);
    expect(new X509Certificate(second.cert).checkHost('b.test')).toBe('b.test');
    expect((await ensureSelfSigned({ ...opts, hosts: ['a.test', 'b.test'] })).cert).toBe(second.cert);
  });

  it('replaces it when it expired or has less than a week left', async () => {
    const opts = options();
    const first = await ensureSelfSigned(opts);
    const at = Date.now() + 400 * DAY;
    const expired = await ensureSelfSigned({ ...opts, now: () => new Date(at) });
    expect(expired.cert).not.toBe(first.cert);
    expect(Date.parse(new X509Certificate(expired.cert).validFrom)).toBe(Math.floor(at / 1000) * 1000 - 60_000);

    const second = await ensureSelfSigned(options({ stateDir: opts.stateDir, name: 'api' }));
    const soon = await ensureSelfSigned({ ...opts, name: 'api', now: () => new Date(Date.now() + 360 * DAY) });
    expect(soon.cert).not.toBe(second.cert);
  });

  it('replaces a pair whose key does not match, or that cannot be parsed', async () => {
    const opts = options();
    const first = await ensureSelfSigned(opts);
    const other = await ensureSelfSigned({ ...opts, name: 'other' });
    writeFileSync(first.keyFile, other.key);
    const fixed = await ensureSelfSigned(opts);
    expect(fixed.cert).not.toBe(first.cert);
    expect(new X509Certificate(fixed.cert).checkPrivateKey(createPrivateKey(fixed.key))).toBe(true);

    writeFileSync(fixed.certFile, 'not a certificate');
    const again = await ensureSelfSigned(opts);
    expect(again.cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('fails with HX_ERR_TLS_SELF_SIGNED when the folder cannot be written', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const location = { file: '/app/hendrix.yaml', line: 7, column: 5 };
    const err = await ensureSelfSigned(options({ stateDir: join(file, 'tls'), service: 'site', location })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isHendrixError(err)).toBe(true);
    if (!isHendrixError(err)) return;
    expect(err.code).toBe('HX_ERR_TLS_SELF_SIGNED');
    expect(err.message).toBe(`cannot store the development certificate in ${join(file, 'tls')}: ENOTDIR`);
    expect(err.service).toBe('site');
    expect(err.path).toEqual(['services', 'site', 'selfSigned']);
    expect(err.location).toEqual(location);
    expect(err.cause).toBeInstanceOf(Error);
  });
});
