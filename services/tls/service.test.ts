import { execFile } from 'node:child_process';
import { connect as http2Connect } from 'node:http2';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { startTls, stopTls, TLS_FIXTURES } from '../../test/helpers/tls/test-harness.js';
import { FIXTURES as FETCH_FIXTURES } from '../../test/helpers/http/test-context.js';
import { handshakeOutcome, httpsGet } from '../../test/helpers/tls/test-client.js';

const run = promisify(execFile);
const dir = useCertDir();
let ca: TestCert;
let other: TestCert;
let site: TestCert;
let a: TestCert;
let b: TestCert;
let wild: TestCert;
let client: TestCert;
let stranger: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir, 'Hendrix Test CA');
  other = await createTestCa(dir, 'Other CA');
  [site, a, b, wild, client, stranger] = await Promise.all([
    createLeaf(dir, ca, { hosts: ['localhost', '127.0.0.1'], name: 'site' }),
    createLeaf(dir, ca, { hosts: ['a.test'] }),
    createLeaf(dir, ca, { hosts: ['b.test', 'www.b.test'] }),
    createLeaf(dir, ca, { hosts: ['*.w.test'], name: 'wild' }),
    createLeaf(dir, ca, { hosts: ['alice'], clientAuth: true }),
    createLeaf(dir, other, { hosts: ['mallory'], clientAuth: true }),
  ]);
}, 30_000);

afterEach(stopTls);

describe('serving the app', () => {
  it('serves the http service app over TLS with the configured certificate', async () => {
    const { port, tls } = await startTls({ cert: site.certFile, key: site.keyFile });
    const res = await httpsGet({ port, ca: ca.cert, servername: 'localhost', path: '/hello' });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ path: '/hello', encrypted: true, httpVersion: '1.1' });
    expect(res.serverCN).toBe('site');
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(tls.address()).toBe(`https://127.0.0.1:${port}`);
  });

  it('picks the certificate by server name (SNI): exact names, wildcards, then the default', async () => {
    const { port } = await startTls({
      certs: [
        { cert: a.certFile, key: a.keyFile },
        { cert: b.certFile, key: b.keyFile, default: true },
        { cert: wild.certFile, key: wild.keyFile },
        { cert: site.certFile, key: site.keyFile, hosts: ['alias.test'] },
      ],
    });
    const cn = async (servername?: string) =>
      (await httpsGet({ port, ca: ca.cert, rejectUnauthorized: false, ...(servername ? { servername } : {}) })).serverCN;
    expect(await cn('a.test')).toBe('a.test');
    expect(await cn('www.b.test')).toBe('b.test');
    expect(await cn('x.w.test')).toBe('wild');
    expect(await cn('deep.x.w.test')).toBe('b.test'); // a wildcard covers one label only
    expect(await cn('alias.test')).toBe('site'); // hosts: replaces the certificate's own names
    expect(await cn('unknown.test')).toBe('b.test');
    // verified end to end for a listed name
    const verified = await httpsGet({ port, ca: ca.cert, servername: 'a.test' });
    expect(verified.socket.authorized).toBe(true);
  });

  it('adds Strict-Transport-Security when hsts is on', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile, hsts: { maxAge: '2d', includeSubDomains: true } });
    const res = await httpsGet({ port, ca: ca.cert, servername: 'localhost' });
    expect(res.headers['strict-transport-security']).toBe('max-age=172800; includeSubDomains');
  });
});

describe('protocols', () => {
  it('serves HTTP/2 and HTTP/1.1 on one port when http2 is on (ALPN)', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile, http2: true, hsts: true });
    const session = http2Connect(`https://localhost:${port}`, { ca: ca.cert, host: '127.0.0.1' } as never);
    try {
      const { headers, body } = await new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2' });
        let body = '';
        let headers: Record<string, unknown> = {};
        stream.on('response', (h) => (headers = h));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (body += c));
        stream.on('end', () => resolve({ headers, body }));
        stream.on('error', reject);
      });
      expect(headers[':status']).toBe(200);
      expect(headers['strict-transport-security']).toBe('max-age=31536000');
      expect(JSON.parse(body)).toMatchObject({ path: '/h2', httpVersion: '2.0', alpn: 'h2' });
      expect(session.alpnProtocol).toBe('h2');
    } finally {
      session.close();
    }
    const h1 = await httpsGet({ port, ca: ca.cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
    expect(h1.json()).toMatchObject({ httpVersion: '1.1', alpn: 'http/1.1' });
  });

  it('runs fetch apps (bodies streaming both ways) and static files over HTTP/2', async () => {
    const { log, lines } = createCapturingLogger();
    const { port } = await startTls(
      { cert: site.certFile, key: site.keyFile, http2: true },
      { baseDir: dir, log, app: `${FETCH_FIXTURES}fetch-stream.mjs`, web: { static: { '/assets': `${TLS_FIXTURES}public` } } },
    );
    const session = http2Connect(`https://localhost:${port}`, { ca: ca.cert });
    const exchange = (headers: Record<string, string>, body?: string) =>
      new Promise<{ status: unknown; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
        const stream = session.request(headers, { endStream: body === undefined });
        let text = '';
        let head: Record<string, unknown> = {};
        stream.on('response', (h) => (head = h));
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => (text += c));
        stream.on('end', () => resolve({ status: head[':status'], headers: head, body: text }));
        stream.on('error', reject);
        if (body !== undefined) stream.end(body);
      });
    try {
      const echo = await exchange({ ':method': 'POST', ':path': '/echo', 'content-type': 'text/plain' }, 'ping over h2');
      expect(echo).toMatchObject({ status: 200, body: 'ping over h2' });
      expect(echo.headers['x-method']).toBe('POST');
      const streamed = await exchange({ ':path': '/stream' });
      expect(streamed.body).toBe('chunk 0\nchunk 1\nchunk 2\n');
      const css = await exchange({ ':path': '/assets/site.css' });
      expect(css).toMatchObject({ status: 200, body: 'body { color: teal }\n' });
      expect(css.headers['content-type']).toMatch(/text\/css/);
    } finally {
      session.close();
    }
    // nothing went wrong on the way, and Node printed no warning about connection headers
    expect(lines.filter((l) => Number(l['level']) >= 50)).toEqual([]);
  });

  it('answers only http/1.1 by ALPN when http2 is off', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile });
    const res = await httpsGet({ port, ca: ca.cert, servername: 'localhost', ALPNProtocols: ['h2', 'http/1.1'] });
    expect(res.socket.alpnProtocol).toBe('http/1.1');
  });

  it('refuses TLS 1.0 and 1.1, and TLS 1.2 when minVersion is TLSv1.3', async () => {
    const { log, lines } = createCapturingLogger();
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile }, { baseDir: dir, log });
    // the client offers old versions only (its own security level lowered so it really offers them)
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const outcome = await handshakeOutcome({ port, minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false });
      expect(outcome).toMatch(/protocol version|unsupported protocol|no protocols available/i);
    }
    expect(lines.some((l) => l['msg'] === 'handshake failed' && /unsupported protocol|version/i.test(String(l['reason'])))).toBe(true);
    expect(await handshakeOutcome({ port, maxVersion: 'TLSv1.2', ca: ca.cert, servername: 'localhost' })).toBe('connected');
    await stopTls();
    const strict = await startTls({ cert: site.certFile, key: site.keyFile, minVersion: 'TLSv1.3' });
    expect(await handshakeOutcome({ port: strict.port, maxVersion: 'TLSv1.2', ca: ca.cert, servername: 'localhost' })).toMatch(/protocol version|unsupported/i);
    expect(await handshakeOutcome({ port: strict.port, minVersion: 'TLSv1.3', ca: ca.cert, servername: 'localhost' })).toBe('connected');
  });

  it('offers only forward-secret AEAD suites for TLS 1.2 by default', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile });
    expect(await handshakeOutcome({ port, maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256', rejectUnauthorized: false })).toMatch(/handshake failure|no shared cipher|alert/i);
    expect(await handshakeOutcome({ port, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA', rejectUnauthorized: false })).toMatch(/handshake failure|no shared cipher|alert/i);
    expect(await handshakeOutcome({ port, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', ca: ca.cert, servername: 'localhost' })).toBe('connected');
  });
});

describe('mutual TLS', () => {
  it('lets in a client certificate from the CA and refuses a missing or foreign one', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile, clientAuth: { ca: ca.certFile } });
    const good = await httpsGet({ port, ca: ca.cert, servername: 'localhost', cert: client.cert, key: client.key });
    expect(good.json()).toMatchObject({ authorized: true, clientCN: 'alice' });
    expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost' })).toMatch(/certificate required|handshake failure|alert|closed|hang up|ECONNRESET/i);
    expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost', cert: stranger.cert, key: stranger.key })).toMatch(/unknown ca|alert|closed|hang up|ECONNRESET/i);
  });

  it('verifies client certificates on every SNI certificate, not only the default', async () => {
    const { port } = await startTls({
      certs: [
        { cert: a.certFile, key: a.keyFile },
        { cert: b.certFile, key: b.keyFile },
      ],
      clientAuth: { ca: ca.certFile },
    });
    const res = await httpsGet({ port, ca: ca.cert, servername: 'b.test', cert: client.cert, key: client.key });
    expect(res.serverCN).toBe('b.test');
    expect(res.json()).toMatchObject({ authorized: true, clientCN: 'alice' });
  });

  it('lets clients without a certificate in when required is false; the app sees authorized: false', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile, clientAuth: { ca: ca.certFile, required: false } });
    const anonymous = await httpsGet({ port, ca: ca.cert, servername: 'localhost' });
    expect(anonymous.json()).toMatchObject({ authorized: false, clientCN: null });
    const stranger_ = await httpsGet({ port, ca: ca.cert, servername: 'localhost', cert: stranger.cert, key: stranger.key });
    expect(stranger_.json()).toMatchObject({ authorized: false, clientCN: 'mallory' });
    const known = await httpsGet({ port, ca: ca.cert, servername: 'localhost', cert: client.cert, key: client.key });
    expect(known.json()).toMatchObject({ authorized: true, clientCN: 'alice' });
  });
});

describe('redirect listener', () => {
  it('answers plain http with 308 to the https URL, keeping path and query', async () => {
    const { port, tls } = await startTls({ cert: site.certFile, key: site.keyFile, redirect: { listen: '127.0.0.1:0' } });
    const redirectPort = redirectPortOf(tls);
    const moved = await rawHttp(redirectPort, 'GET /a/b?c=1 HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n');
    expect(moved).toMatch(/^HTTP\/1\.1 308 /);
    expect(moved).toContain(`\r\nlocation: https://example.test:${port}/a/b?c=1\r\n`);
    const v6 = await rawHttp(redirectPort, 'HEAD /x HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n');
    expect(v6).toContain(`\r\nlocation: https://[::1]:${port}/x\r\n`);
    const injected = await rawHttp(redirectPort, 'GET / HTTP/1.1\r\nHost: evil.test/path\r\nConnection: close\r\n\r\n');
    expect(injected).toMatch(/^HTTP\/1\.1 400/);
    const raw = await rawHttp(redirectPort, 'GET / HTTP/1.0\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
  });
});

describe('upgrades through the listener', () => {
  for (const http2 of [false, true]) {
    it(`carries WebSocket upgrades to the served service's handlers (wss${http2 ? ', http2 on' : ''})`, async () => {
      const { port, web } = await startTls({ cert: site.certFile, key: site.keyFile, http2 });
      const wss = new WebSocketServer({ noServer: true });
      wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo ${String(data)}`)));
      web.handle().onUpgrade((req, socket, head) => {
        if (req.url !== '/ws') return false;
        wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        return true;
      });
      const ws = new WebSocket(`wss://localhost:${port}/ws`, { ca: ca.cert });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hi'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      expect(reply).toBe('echo hi');
      ws.close();
      wss.close();
    });
  }
});

describe.runIf(needCommand('openssl'))('with openssl s_client', () => {
  it('negotiates h2 by ALPN and presents the SNI certificate', async () => {
    const { port } = await startTls({ certs: [{ cert: a.certFile, key: a.keyFile }, { cert: b.certFile, key: b.keyFile }], http2: true });
    const out = await sClient(port, ['-servername', 'b.test', '-alpn', 'h2', '-CAfile', ca.certFile]);
    expect(out).toMatch(/ALPN protocol: h2/);
    expect(out).toMatch(/subject=CN ?= ?b\.test/);
    expect(out).toMatch(/Verification: OK|Verify return code: 0/);
  });
});

describe.runIf(needCommand('curl'))('with curl', () => {
  it('fetches over HTTP/2 and HTTP/1.1', async () => {
    const { port } = await startTls({ cert: site.certFile, key: site.keyFile, http2: true });
    const h2 = await run('curl', ['-sS', '--http2', '--cacert', ca.certFile, '-w', '\\n%{http_version}', `https://localhost:${port}/curl`]);
    expect(h2.stdout).toMatch(/"httpVersion":"2.0"[\s\S]*\n2$/);
    const h1 = await run('curl', ['-sS', '--http1.1', '--cacert', ca.certFile, '-w', '\\n%{http_version}', `https://localhost:${port}/curl`]);
    expect(h1.stdout).toMatch(/"httpVersion":"1.1"[\s\S]*\n1.1$/);
  });
});

function redirectPortOf(tls: unknown): number {
  const server = (tls as { redirectAddress?: () => unknown }).redirectAddress?.();
  const address = server as { port?: number } | undefined;
  if (address?.port === undefined) throw new Error('no redirect address');
  return address.port;
}

function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ connect }) => {
      const socket = connect({ host: '127.0.0.1', port }, () => socket.write(text));
      let out = '';
      socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
      socket.on('close', () => resolve(out));
      socket.on('error', reject);
    }, reject);
  });
}

/** Runs openssl s_client against the port, sends nothing, returns everything it printed. */
async function sClient(port: number, args: string[]): Promise<string> {
  const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { timeout: 10_000 });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  child.stdin?.end();
  await new Promise((resolve) => child.once('close', resolve));
  return out;
}
