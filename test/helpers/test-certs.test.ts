import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { needCommand } from './system-command.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from './test-certs.js';

const DAY = 86_400_000;

/**
 * A mutual-TLS handshake: the server presents `server`, the client `client`; both trust only
 * `ca`. Rejects with the client's verify error, or with the server's verdict on the client.
 */
async function handshake(ca: TestCert, server: TestCert, client: TestCert, servername: string): Promise<void> {
  // the server lets every client finish the handshake and reports why it would have refused it:
  // with rejectUnauthorized node just drops the socket and the reason is lost
  let serverVerdict: Error | undefined;
  const tlsServer = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false }, (socket) => {
    if (!socket.authorized) serverVerdict = new Error(`client certificate refused: ${String(socket.authorizationError)}`);
    socket.end();
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = tlsServer.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername, ca: ca.cert, cert: client.cert, key: client.key }, () => socket.resume());
      socket.on('error', reject);
      socket.on('close', () => (serverVerdict ? reject(serverVerdict) : resolve()));
    });
  } finally {
    await new Promise((resolve) => tlsServer.close(resolve));
  }
}

describe.runIf(needCommand('openssl'))('test certificates (test helper)', () => {
  const dir = useCertDir();

  it('makes a CA that signs a server leaf for DNS names and IPs', async () => {
    const ca = await createTestCa(dir, 'Unit CA');
    const leaf = await createLeaf(dir, ca, { hosts: ['localhost', 'api.test', '127.0.0.1', '::1'] });
    const caX = new X509Certificate(ca.cert);
    const x = new X509Certificate(leaf.cert);

    expect(caX.ca).toBe(true);
    expect(caX.subject).toBe('CN=Unit CA');
    expect(caX.checkPrivateKey(createPrivateKey(ca.key))).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.subject).toBe('CN=localhost');
    expect(x.issuer).toBe('CN=Unit CA');
    expect(x.checkIssued(caX)).toBe(true);
    expect(x.verify(caX.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(leaf.key))).toBe(true);
    expect(x.subjectAltName).toBe('DNS:localhost, DNS:api.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x.checkHost('api.test')).toBe('api.test');
    expect(x.checkIP('::1')).toBe('::1');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(x.publicKey.asymmetricKeyType).toBe('ec');
    expect(leaf.certFile.startsWith(dir)).toBe(true);
  });

  it('makes expired and not-yet-valid leaves, RSA keys and client certificates', async () => {
    const ca = await createTestCa(dir);
    const now = Date.now();
    const expired = await createLeaf(dir, ca, { hosts: ['old.test'], notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) });
    const future = await createLeaf(dir, ca, { hosts: ['new.test'], notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) });
    const rsa = await createLeaf(dir, ca, { hosts: ['rsa.test'], keyType: 'rsa' });
    const client = await createLeaf(dir, ca, { hosts: ['alice'], name: 'alice', clientAuth: true });

    const old = new X509Certificate(expired.cert);
    expect(Date.parse(old.validTo)).toBeLessThan(now);
    expect(Date.parse(old.validFrom)).toBeCloseTo(now - 30 * DAY, -4);
    expect(Date.parse(new X509Certificate(future.cert).validFrom)).toBeGreaterThan(now);
    expect(new X509Certificate(rsa.cert).publicKey.asymmetricKeyType).toBe('rsa');
    const clientX = new X509Certificate(client.cert);
    expect(clientX.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(clientX.subject).toBe('CN=alice');
    expect(clientX.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
  });

  it('gives every certificate its own files and key, so pairs can be mismatched on purpose', async () => {
    const ca = await createTestCa(dir);
    const [a, b] = await Promise.all([createLeaf(dir, ca, { hosts: ['same.test'] }), createLeaf(dir, ca, { hosts: ['same.test'] })]);
    expect(a.certFile).not.toBe(b.certFile);
    const mismatched = { ...a, key: b.key, keyFile: b.keyFile };
    expect(new X509Certificate(mismatched.cert).checkPrivateKey(createPrivateKey(mismatched.key))).toBe(false);
  });

  it('signs with SHA-256 (openssl says so)', async () => {
    const ca = await createTestCa(dir);
    const leaf = await createLeaf(dir, ca, { hosts: ['sha.test'], keyType: 'rsa' });
    expect(execFileSync('openssl', ['x509', '-noout', '-text', '-in', ca.certFile], { encoding: 'utf8' })).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(execFileSync('openssl', ['x509', '-noout', '-text', '-in', leaf.certFile], { encoding: 'utf8' })).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
  });

  it('makes certificates node:tls accepts for mutual TLS, and rejects when expired', async () => {
    const ca = await createTestCa(dir);
    const server = await createLeaf(dir, ca, { hosts: ['localhost', '127.0.0.1'] });
    const client = await createLeaf(dir, ca, { hosts: ['alice'], clientAuth: true });
    await handshake(ca, server, client, 'localhost');
    // a server certificate is not a client certificate
    await expect(handshake(ca, server, server, 'localhost')).rejects.toThrow(/refused: INVALID_PURPOSE/);
    const expired = await createLeaf(dir, ca, { hosts: ['localhost'], notBefore: new Date(Date.now() - 2 * DAY), notAfter: new Date(Date.now() - DAY) });
    await expect(handshake(ca, expired, client, 'localhost')).rejects.toThrow(/expired/);
    const other = await createTestCa(dir, 'Other CA');
    await expect(handshake(other, server, client, 'localhost')).rejects.toThrow(/self-signed|unable to (get|verify)/i);
  });

  it('makes intermediate CAs whose leaves verify up the chain', async () => {
    const root = await createTestCa(dir, 'Root CA');
    const intermediate = await createTestCa(dir, 'Intermediate CA', root);
    const leaf = await createLeaf(dir, intermediate, { hosts: ['chain.test'] });
    const interX = new X509Certificate(intermediate.cert);
    expect(interX.ca).toBe(true);
    expect(interX.verify(new X509Certificate(root.cert).publicKey)).toBe(true);
    expect(new X509Certificate(leaf.cert).verify(interX.publicKey)).toBe(true);
  });
});
