import { constants } from 'node:http2';
import { Agent } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterLink } from '../../src/kinds/contract.js';
import { completeHandovers, setListenScope } from '../../src/net/listen-handover.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { startH2Load, startHttpsLoad, type TlsLoad } from '../../test/helpers/tls/keepalive-load-tls.js';
import { createTlsContext, startTlsService, startWeb, stopTls, TLS_FIXTURES } from '../../test/helpers/tls/test-harness.js';
import { h2Get, h2Session, httpsGet } from '../../test/helpers/tls/test-client.js';
import { TlsService } from './service.js';

// How a TLS listener's drain closes keep-alive connections (connections.ts): an HTTP/1.1
// connection only between requests and cleanly (close_notify, FIN, then what still arrives is
// read and dropped unprocessed: never an RST, never a request processed without its answer),
// after a last call when the worker is retired; an HTTP/2 session with a GOAWAY, its streams
// finishing, a stream that crossed the GOAWAY refused unprocessed (the client sends it again).

// both instances of `secure` belong to one graph: the replacement takes the listening socket over
const graph = {};
setListenScope(() => graph);

const dir = useCertDir();
let ca: TestCert;
let first: TestCert;
let second: TestCert;

beforeAll(async () => {
  ca = await createTestCa(dir);
  [first, second] = await Promise.all([createLeaf(dir, ca, { hosts: ['localhost'], name: 'first' }), createLeaf(dir, ca, { hosts: ['localhost'], name: 'second' })]);
}, 30_000);

const mine: TlsService[] = [];
const loads: TlsLoad[] = [];
afterEach(async () => {
  await Promise.all(loads.splice(0).map((l) => l.stop()));
  for (const tls of mine.splice(0)) await tls.stop(AbortSignal.timeout(2_000));
  await stopTls();
  recorded().length = 0;
});

const recorded = (): string[] => ((globalThis as { hxTlsRecorded?: string[] }).hxTlsRecorded ??= []);
const RECORDING = `${TLS_FIXTURES}recording.mjs`;

/** A tls listener `secure` (certificate `first`) serving `web`; retired: as in a worker a rolling reload replaces. */
async function startOld(web: { handle(): unknown }, options: { http2?: boolean; retired?: boolean } = {}): Promise<{ tls: TlsService; port: number }> {
  const ctx = createTlsContext({ cert: first.certFile, key: first.keyFile, http2: options.http2 ?? false }, { baseDir: dir, peers: { web: web.handle() } });
  const retired = { retiring: true, worker: { id: 1, role: 'each', count: 2 } } as unknown as ClusterLink;
  const tls = new TlsService(options.retired === true ? { ...ctx, cluster: retired } : ctx);
  mine.push(tls);
  await tls.start(AbortSignal.timeout(10_000));
  const address = tls.handle().address();
  return { tls, port: address !== undefined && 'port' in address ? address.port : 0 };
}

/** A TLS client that keeps writing after the server's close_notify and FIN (allowHalfOpen), recording what it sees. */
function rawClient(port: number): Promise<{ socket: TLSSocket; received: () => string; ended: Promise<void>; closed: Promise<string | undefined> }> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen is an option of tls.connect that @types/node leaves out
    const options = { host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost', ALPNProtocols: ['http/1.1'], allowHalfOpen: true };
    const socket = tlsConnect(options);
    let text = '';
    let error: string | undefined;
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    const ended = new Promise<void>((r) => socket.once('end', () => r()));
    const closed = new Promise<string | undefined>((r) => socket.once('close', () => r(error)));
    socket.once('secureConnect', () => resolve({ socket, received: () => text, ended, closed }));
    socket.once('error', reject);
  });
}

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the drain of keep-alive connections over TLS', () => {
  it('a request crossing the close of an idle HTTP/1.1 connection is not processed; the client sees close_notify and FIN, no answer, no RST', async () => {
    const web = await startWeb(RECORDING);
    const { tls, port } = await startOld(web);
    const client = await rawClient(port);
    client.socket.write('GET /before HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await until(() => client.received().endsWith('seen /before'), 'the first answer');
    const answered = client.received();
    const stopped = tls.stop(AbortSignal.timeout(10_000));
    await client.ended; // the listener closed the idle connection (close_notify, FIN)...
    client.socket.write('GET /crossing HTTP/1.1\r\nHost: localhost\r\n\r\n'); // ...and a request crosses it
    // a pause for an RST to come back if one does (the listener's socket gone), then another
    // write, which fails after an RST (EPIPE, ECONNRESET)
    await new Promise((r) => setTimeout(r, 50));
    client.socket.end('GET /crossing-2 HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(await client.closed).toBeUndefined(); // closed without an error: no ECONNRESET
    expect(client.received()).toBe(answered); // not a byte of an answer
    await stopped;
    expect(recorded()).toEqual(['/before']);
  });

  it('a retired listener gives idle keep-alive connections a last call: the next request is answered with Connection: close on the same connection, a quiet one is closed after it', async () => {
    const web = await startWeb(RECORDING, { keepAliveTimeout: '30s' });
    const { tls, port } = await startOld(web, { retired: true });
    const busy = new Agent({ keepAlive: true, maxSockets: 1 });
    const quiet = new Agent({ keepAlive: true, maxSockets: 1 });
    const target = { port, ca: ca.cert, servername: 'localhost' };
    try {
      const one = await httpsGet({ ...target, path: '/busy-1', agent: busy });
      const idle = await httpsGet({ ...target, path: '/quiet', agent: quiet });
      const quietClosed = new Promise<void>((r) => idle.socket.once('close', () => r()));
      const stopped = tls.stop(AbortSignal.timeout(10_000));
      // a pause well inside the last call (1 s): without one, the idle connection is closed at once
      await new Promise((r) => setTimeout(r, 100));
      const two = await httpsGet({ ...target, path: '/busy-2', agent: busy });
      expect(two.status).toBe(200);
      expect(two.body).toBe('seen /busy-2');
      expect(two.socket).toBe(one.socket); // on the same keep-alive connection
      expect(two.headers.connection).toBe('close');
      await quietClosed; // the connection that stayed quiet is closed once the last call is over
      await stopped;
      expect(recorded()).toEqual(['/busy-1', '/quiet', '/busy-2']);
    } finally {
      busy.destroy();
      quiet.destroy();
    }
  });

  it('HTTP/2: a stream that crossed the GOAWAY is refused unprocessed (REFUSED_STREAM), the streams before it finish', async () => {
    const web = await startWeb(RECORDING);
    const { tls, port } = await startOld(web, { http2: true });
    const session = await h2Session({ port, ca: ca.cert, servername: 'localhost' });
    session.on('error', () => undefined);
    let stopped: Promise<void> | undefined;
    // the drain begins while the listener processes /trigger: the GOAWAY (last stream 1) is
    // submitted then, and sent only after nghttp2 has read /crossing (stream 3), which came in
    // the same packet. Node refuses a stream that arrives once close() was called — this checks
    // it still does: /crossing is not run, and its REFUSED_STREAM tells the client so
    (globalThis as { hxTlsOnRequest?: (url: string) => void }).hxTlsOnRequest = (url) => {
      if (url === '/trigger') stopped = tls.stop(AbortSignal.timeout(10_000));
    };
    try {
      const trigger = h2Get(session, '/trigger');
      const crossing = session.request({ ':path': '/crossing' });
      const refused = new Promise<number | undefined>((resolve) => {
        crossing.on('response', () => resolve(undefined));
        crossing.on('error', () => undefined);
        crossing.on('close', () => resolve(crossing.rstCode));
      });
      crossing.resume();
      expect((await trigger).body).toBe('seen /trigger');
      expect(await refused).toBe(constants.NGHTTP2_REFUSED_STREAM);
      await stopped;
      expect(recorded()).toEqual(['/trigger']); // /crossing never reached the app: the client may send it again
    } finally {
      delete (globalThis as { hxTlsOnRequest?: unknown }).hxTlsOnRequest;
      session.destroy();
    }
  });

  // The listener is replaced as a reload replaces it (its successor takes the listening socket
  // over), while keep-alive clients send without pause: every request is answered once — by the
  // old listener, then by the new — and none is processed without its answer or twice.
  const cases = [
    { name: 'https, replaced in one process (idle connections closed at once)', http2: false, retired: false },
    { name: 'http2 with HTTP/1.1 and HTTP/2 clients, replaced in one process', http2: true, retired: false },
    { name: 'http2 with HTTP/1.1 and HTTP/2 clients, in a retired worker (last call)', http2: true, retired: true },
  ];
  it.each(cases)('$name: clients sending continuously through the drain see 0 failed requests', async ({ http2, retired }) => {
    const web = await startWeb(RECORDING, { keepAliveTimeout: '30s' });
    const old = await startOld(web, { http2, retired });
    const target = { origin: `https://127.0.0.1:${old.port}`, ca: ca.cert, servername: 'localhost' };
    const h1 = startHttpsLoad({ ...target, path: (c, n) => `/h1/${c}/${n}` }, 20, 1);
    const h2 = http2 ? startH2Load({ ...target, path: (c, n) => `/h2/${c}/${n}` }, 4, 1) : undefined;
    const all = [h1, ...(h2 ? [h2] : [])];
    loads.push(...all);
    const answers = () => all.flatMap((l) => l.answered);
    await until(() => answers().length >= 200, 'the load to run on the old listener');

    await startTlsService({ cert: second.certFile, key: second.keyFile, http2 }, { baseDir: dir, peers: { web: web.handle() } });
    completeHandovers(graph, 'secure'); // the reload commits: new connections go to the replacement
    await old.tls.stop(AbortSignal.timeout(10_000));
    const drained = Date.now();
    const onReplacement = (load: TlsLoad, clients: number): boolean =>
      Array.from({ length: clients }, (_, c) => c).every((c) => load.answered.some((a) => a.client === c && a.serverCN === 'second'));
    await until(() => onReplacement(h1, 20) && (h2 === undefined || onReplacement(h2, 4)), 'every client to be answered by the replacement');
    await Promise.all(all.map((l) => l.stop()));

    expect(all.flatMap((l) => l.failed)).toEqual([]);
    // every request answered once, by the listener it reached; none processed twice or without its answer
    const answered = answers().map((a) => a.body.replace(/^seen /, ''));
    expect([...recorded()].sort()).toEqual([...answered].sort());
    expect(new Set(answers().map((a) => a.serverCN))).toEqual(new Set(['first', 'second']));
    expect(answers().filter((a) => a.sent > drained && a.serverCN !== 'second')).toEqual([]);
    const retried = (load: TlsLoad | undefined): number => load?.answered.filter((a) => a.retried).length ?? 0;
    process.stdout.write(
      `tls drain (${http2 ? 'http2' : 'https'}${retired ? ', retired' : ''}): ${answers().length} answered, 0 failed; ` +
        `sent again: ${retried(h1)} HTTP/1.1 after a clean close, ${retried(h2)} HTTP/2 refused streams\n`,
    );
  });
});
