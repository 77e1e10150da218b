import { connect } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { figure, figureProblems, histogram, holdRequests } from '../../test/helpers/figures.js';
import { FIXTURES } from '../../test/helpers/http/test-context.js';
import { until } from '../../test/helpers/http/test-client.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { h2Get, h2Session, httpsGet } from '../../test/helpers/tls/test-client.js';
import { startTls, stopTls } from '../../test/helpers/tls/test-harness.js';

const dir = useCertDir();
let ca: TestCert;
let site: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir, 'Hendrix Test CA');
  site = await createLeaf(dir, ca, { hosts: ['localhost', '127.0.0.1'], name: 'site' });
}, 30_000);

afterEach(stopTls);

const APP = `${FIXTURES}figures-app.mjs`;

/** Plain text to a TLS port: the server fails the handshake and closes. */
function notTls(port: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

describe('tls figures', () => {
  it('requests over HTTP/1.1 and HTTP/2 count in the served http service; the listener counts its connections and failed handshakes', async () => {
    const { web, tls, port } = await startTls({ cert: site.certFile, key: site.keyFile, http2: true }, { baseDir: dir, app: APP });
    expect(figureProblems(tls, ['tls'])).toEqual([]);
    expect(figure(tls, 'tls_connections')).toBe(0);

    expect((await httpsGet({ port, ca: ca.cert, servername: 'localhost', path: '/status/404' })).status).toBe(404);
    const session = await h2Session({ port, ca: ca.cert, servername: 'localhost' });
    expect((await h2Get(session, '/status/503')).status).toBe(503);
    expect((await h2Get(session, '/')).status).toBe(200);
    await until(() => figure(tls, 'tls_connections') === 1);

    // an HTTP/2 stream in flight is counted too (once the streams before it have closed on the server)
    await until(() => figure(web, 'http_requests_in_flight') === 0);
    const gate = holdRequests();
    const held = h2Get(session, '/held');
    await gate.arrived;
    expect(figure(web, 'http_requests_in_flight')).toBe(1);
    gate.release();
    expect((await held).body).toBe('held');

    await until(() => figure(web, 'http_requests_in_flight') === 0);
    expect(['2xx', '4xx', '5xx'].map((code) => figure(web, 'http_requests_total', { code }))).toEqual([2, 1, 1]);
    expect(histogram(web, 'http_request_duration_seconds').counts.reduce((a, b) => a + b, 0)).toBe(4);

    session.close();
    await until(() => figure(tls, 'tls_connections') === 0);

    expect(figure(tls, 'tls_handshake_errors_total')).toBe(0);
    await notTls(port);
    await notTls(port);
    await until(() => figure(tls, 'tls_handshake_errors_total') === 2);
  });
});
