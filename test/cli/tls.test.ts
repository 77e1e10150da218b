import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { request } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { addressOf, BIN, spawnCli, type CliProcess } from '../helpers/cli.js';
import { createLeaf, createTestCa, useCertDir } from '../helpers/test-certs.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const tempProject = useManifestDirs();
const certDir = useCertDir();

function getH1(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('hendrix up with a tls listener', () => {
  it('runs examples/tls: HTTP/2 and HTTP/1.1 over a development certificate, HSTS, and the redirect listener', async () => {
    const p = spawnCli(['up', '-f', 'examples/tls/hendrix.yaml'], { env: { WEB_PORT: '0', TLS_PORT: '0', REDIRECT_PORT: '0' } });
    running.push(p);
    const redirecting = await p.waitForLog((l) => l.msg === 'redirecting to https');
    const ready = await p.waitForLog(isReady, 15_000);
    const secure = addressOf(ready, 'secure');
    const h1 = await getH1(`${secure}/`);
    expect(h1.body).toBe('hello over HTTP/1.1 with TLS (TLSv1.3)\n');
    expect(h1.headers['strict-transport-security']).toBe('max-age=300');
    const session = http2Connect(secure, { rejectUnauthorized: false });
    const h2 = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/' });
      let body = '';
      stream.on('data', (c: Buffer) => (body += c.toString()));
      stream.on('end', () => resolve(body));
      stream.on('error', reject);
    });
    session.close();
    expect(h2).toBe('hello over HTTP/2.0 with TLS (TLSv1.3)\n');
    const redirectUrl = String(redirecting.address);
    // the example serves this machine only: both listeners on 127.0.0.1 by the manifest itself
    expect(redirectUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((ready['services'] as Record<string, string>)['secure']).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const moved = await fetch(`${redirectUrl}/x?y=1`, { redirect: 'manual' });
    expect(moved.status).toBe(308);
    expect(moved.headers.get('location')).toBe(`${secure}/x?y=1`);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });

  it('refuses at the plan (exit 78) with the file, the manifest line and no stack trace when a key does not match', async () => {
    const ca = await createTestCa(certDir);
    const [a, b] = await Promise.all([createLeaf(certDir, ca, { hosts: ['localhost'], name: 'a' }), createLeaf(certDir, ca, { hosts: ['localhost'], name: 'b' })]);
    const dir = tempProject({
      'app.mjs': 'export default (req, res) => res.end("ok")',
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        '  secure:',
        '    kind: tls',
        '    listen: 127.0.0.1:0',
        '    serves: web',
        `    cert: ${a.certFile}`,
        `    key: ${b.keyFile}`,
      ].join('\n'),
    });
    const p = spawnCli(['up'], { cwd: dir });
    running.push(p);
    expect(await p.exited()).toBe(78);
    const err = p.stderr();
    expect(err).toContain('HX_ERR_TLS_KEY_MISMATCH');
    expect(err).toContain(`the key ${b.keyFile} does not match the certificate ${a.certFile}`);
    expect(err).toMatch(/hendrix\.yaml:9:\d+/);
    expect(err).not.toMatch(/\n\s+at .*\.js:\d+/);
  });

  it('reports a manifest with two sources of certificates, or none, before starting anything', async () => {
    const dir = tempProject({
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0" }',
        '  both: { kind: tls, serves: web, listen: 0, selfSigned: true, cert: ./c.pem, key: ./k.pem }',
        '  none: { kind: tls, serves: web, listen: 0 }',
        '  ghost: { kind: tls, serves: nobody, listen: 0, selfSigned: true }',
      ].join('\n'),
    });
    const p = spawnCli(['check'], { cwd: dir });
    expect(await p.exited()).toBe(78);
    const err = p.stderr();
    expect(err).toContain('give one source of certificates, not cert/key and selfSigned');
    expect(err).toContain('a tls service needs certificates: cert + key, certs: [...], selfSigned: true or acme: {...}');
    expect(err).toContain('HX_ERR_UNKNOWN_REFERENCE');
  });

  it('refuses a port below 1024 this user may not bind at the plan, saying what to do', async () => {
    const dir = tempProject({
      'app.mjs': 'export default (req, res) => res.end("ok")',
      'hendrix.yaml': ['version: 1', 'services:', '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }', '  secure: { kind: tls, serves: web, listen: "127.0.0.1:443", selfSigned: true, stateDir: /tmp/hendrix-priv-test }'].join('\n'),
    });
    chmodSync(dir, 0o755);
    // as root, drop to nobody (util-linux setpriv) so that binding 443 is refused as for any user
    const asRoot = process.getuid?.() === 0;
    const args = asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'up'] : [BIN, 'up'];
    const result = spawnSync(asRoot ? 'setpriv' : process.execPath, args, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: '/tmp' }, timeout: 20_000 });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('error[HX_ERR_LISTEN_PRIVILEGED]: service `secure` listens on port 443, below 1024, and this process (uid 65534) may not bind it');
    expect(result.stderr).toContain('hendrix.yaml:4:');
    expect(result.stderr).toContain('setcap cap_net_bind_service+ep');
  });
});
