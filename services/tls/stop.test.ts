import { connect as http2Connect } from 'node:http2';
import { Agent } from 'node:https';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { startTls, stopTls } from '../../test/helpers/tls/test-harness.js';
import { handshakeOutcome, httpsGet } from '../../test/helpers/tls/test-client.js';

const dir = useCertDir();
let ca: TestCert;
let site: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  site = await createLeaf(dir, ca, { hosts: ['localhost'], name: 'site' });
}, 30_000);

afterEach(stopTls);

describe('graceful stop', () => {
  it('closes idle keep-alive connections at once and lets a request in flight finish with Connection: close', async () => {
    const { port, tls } = await startTls({ cert: site.certFile, key: site.keyFile });
    const agent = new Agent({ keepAlive: true });
    const idle = await httpsGet({ port, ca: ca.cert, servername: 'localhost', agent });
    const idleClosed = new Promise<void>((r) => idle.socket.once('close', () => r()));
    const slow = httpsGet({ port, ca: ca.cert, servername: 'localhost', path: '/slow?ms=300' });
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    const stopping = tls.stop(AbortSignal.timeout(5_000));
    await idleClosed;
    const res = await slow;
    expect(res.status).toBe(200);
    expect(res.headers['connection']).toBe('close');
    await stopping;
    expect(performance.now() - started).toBeLessThan(2_000);
    // no new handshakes once stopped
    expect(await handshakeOutcome({ port, ca: ca.cert, servername: 'localhost' })).toMatch(/ECONNREFUSED/);
    agent.destroy();
  });

  it('sends HTTP/2 clients a GOAWAY and finishes their streams in flight', async () => {
    const { port, tls } = await startTls({ cert: site.certFile, key: site.keyFile, http2: true });
    const session = http2Connect(`https://localhost:${port}`, { ca: ca.cert });
    const goaway = new Promise<void>((r) => session.once('goaway', () => r()));
    const body = new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/slow?ms=300' });
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (text += c));
      stream.on('end', () => resolve(text));
      stream.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 50));
    const stopping = tls.stop(AbortSignal.timeout(5_000));
    await goaway;
    expect(JSON.parse(await body)).toMatchObject({ path: '/slow', httpVersion: '2.0' });
    await stopping;
    expect(session.closed || session.destroyed).toBe(true);
  });

  it('forces every connection closed when the signal aborts', async () => {
    const { port, tls } = await startTls({ cert: site.certFile, key: site.keyFile });
    const slow = httpsGet({ port, ca: ca.cert, servername: 'localhost', path: '/slow?ms=5000' }).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await tls.stop(AbortSignal.timeout(100));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await slow).toMatch(/socket hang up|ECONNRESET/);
  });

  it('leaves WebSockets to the upgrade handler that owns them, and is safe to call twice', async () => {
    const { port, tls, web } = await startTls({ cert: site.certFile, key: site.keyFile });
    const wss = new WebSocketServer({ noServer: true });
    web.handle().onUpgrade((req, socket, head) => {
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (d) => ws.send(String(d))));
    });
    const ws = new WebSocket(`wss://localhost:${port}/`, { ca: ca.cert });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    await Promise.all([tls.stop(AbortSignal.timeout(2_000)), tls.stop(AbortSignal.timeout(2_000))]);
    // the listener is gone but the hub's socket is still open and answers
    const echo = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
    ws.send('still here');
    expect(await echo).toBe('still here');
    // its owner closes it with its own close code
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    for (const client of wss.clients) client.close(1001, 'going away');
    expect(await closed).toBe(1001);
    wss.close();
  });
});
