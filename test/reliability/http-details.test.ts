import { connect as http2Connect, constants as h2 } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, statusOf } from '../helpers/http/test-client.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { errorLines, startGraph, type Graph } from '../helpers/reliability.js';

// HTTP details a mature server gets right, on real sockets: a request with two Host fields is
// refused (RFC 9112 §3.2) over plain HTTP/1.1 and through tls listeners, and a client that stops
// halfway through its headers is cut soon after headersTimeout — not after Node's 30 s check
// interval on top of it — over plain HTTP/1.1, HTTPS, and both sides of an HTTP/2 listener.

const SEEN = Symbol.for('hendrix.test.http-details.seen');
const seen = ((globalThis as Record<symbol, unknown>)[SEEN] ??= []) as string[];
const APP = `
const seen = (globalThis[Symbol.for('hendrix.test.http-details.seen')] ??= []);
export default function app(req, res) {
  seen.push(req.url);
  // /wait: the answer comes after 3 s, longer than headersTimeout, with nothing sent meanwhile
  setTimeout(() => res.end('ok ' + req.url + '\\n'), req.url === '/wait' ? 3000 : 0);
}
`;
const MANIFEST = `version: 1
services:
  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs, headersTimeout: 2s }
  secure: { kind: tls, listen: "127.0.0.1:0", serves: web, selfSigned: true, redirect: { listen: "127.0.0.1:0" } }
  secure2: { kind: tls, listen: "127.0.0.1:0", serves: web, selfSigned: true, http2: true }
`;

/** A connection to one of the graph's listeners: plain, or TLS with the given ALPN protocol. */
type Transport = { service: 'web' } | { service: 'secure' | 'secure2'; alpn: 'http/1.1' | 'h2' };

/** What came back on a connection: the bytes, and when the server closed it (ms after the last write). */
interface Outcome {
  readonly data: Buffer;
  readonly closedAfterMs: number | undefined;
}

describe('HTTP details', () => {
  const dirs = useManifestDirs();
  let graph: Graph;
  beforeAll(async () => {
    graph = await startGraph(dirs({ 'app.mjs': APP }), MANIFEST);
  }, 20_000);
  afterAll(async () => {
    await graph?.app.stop();
  });

  function open(to: Transport): Promise<Socket | TLSSocket> {
    const port = graph.port(to.service);
    return new Promise((resolve, reject) => {
      const socket =
        to.service === 'web'
          ? netConnect({ host: '127.0.0.1', port }, () => resolve(socket))
          : tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: [to.alpn] }, () => resolve(socket));
      socket.once('error', reject);
    });
  }

  /** Writes `data`, then reads until the server closes the connection or `ms` passes. */
  async function exchange(to: Transport, data: string | Buffer, ms: number): Promise<Outcome> {
    const socket = await open(to);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined); // a reset after the answer is a close like any other
    return new Promise((resolve) => {
      let written = 0;
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ data: Buffer.concat(chunks), closedAfterMs: undefined });
      }, ms);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve({ data: Buffer.concat(chunks), closedAfterMs: performance.now() - written });
      });
      socket.write(data, () => (written = performance.now()));
    });
  }

  describe('more than one Host field: 400, the connection closed, the app never called', () => {
    const TWO_HOSTS = 'GET /two-hosts HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nhost: b.test\r\n\r\n';
    const SAME_TWICE = 'GET /same-twice HTTP/1.1\r\nHost: a.test\r\nHOST: a.test\r\n\r\n';
    const ONE_HOST = 'GET /one-host HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n';
    const transports: [string, Transport][] = [
      ['plain HTTP/1.1', { service: 'web' }],
      ['HTTPS (tls listener, HTTP/1.1)', { service: 'secure', alpn: 'http/1.1' }],
      ['HTTP/1.1 on an http2 tls listener', { service: 'secure2', alpn: 'http/1.1' }],
    ];

    it.each(transports)('%s', async (_name, to) => {
      seen.length = 0;
      for (const request of [TWO_HOSTS, SAME_TWICE]) {
        const { data, closedAfterMs } = await exchange(to, request, 5_000);
        const text = data.toString('latin1');
        expect(statusOf(text), text).toBe(400);
        expect(text).toMatch(/\r\nconnection: close\r\n/i);
        expect(closedAfterMs).toBeDefined();
      }
      expect(seen).toEqual([]);
      // one Host field is served as ever
      const { data } = await exchange(to, ONE_HOST, 5_000);
      expect(statusOf(data.toString('latin1'))).toBe(200);
      expect(data.toString('latin1')).toMatch(/ok \/one-host\n$/);
      expect(seen).toEqual(['/one-host']);
    });

    it('the plain-http redirect listener of a tls listener: 400, not a redirect to one of the hosts', async () => {
      const line = graph.lines.find((l) => l['msg'] === 'redirecting to https');
      const port = Number(new URL(String(line?.['address'])).port);
      const send = (request: string) => rawExchange(port, request, 5_000);
      const two = await send(TWO_HOSTS);
      expect(statusOf(two.text)).toBe(400);
      expect(two.closedByServer).toBe(true);
      const one = await send(ONE_HOST);
      expect(statusOf(one.text)).toBe(308);
      expect(one.text).toMatch(/\r\nlocation: https:\/\/a\.test:\d+\/one-host\r\n/i);
    });

    it('HTTP/2: two Host fields never reach the app (nghttp2 resets the stream)', async () => {
      seen.length = 0;
      // GET https://a.test/two-hosts-h2 with Host a.test and Host b.test (static entries: 1
      // :authority, 38 host; 0x82 GET, 0x87 https), END_STREAM | END_HEADERS
      const block = (...hosts: string[]): Buffer =>
        Buffer.concat([Buffer.from([0x82, 0x87]), literal(4, `/hosts-${hosts.length}`), literal(1, 'a.test'), ...hosts.map((host) => literal(38, host))]);
      const send = (hosts: string[]): Promise<Outcome> => exchange({ service: 'secure2', alpn: 'h2' }, Buffer.concat([PREFACE, frame(0x1, 0x5, 1, block(...hosts))]), 1_000);
      // the control: the same request with one Host field is answered (HEADERS) and seen
      expect(frameTypes((await send(['a.test'])).data)).toContain(0x1);
      expect(seen).toEqual(['/hosts-1']);
      expect(frameTypes((await send(['a.test', 'b.test'])).data)).toContain(0x3); // RST_STREAM
      expect(seen).toEqual(['/hosts-1']);
    });

    it('HTTP/2: a Host field that differs from :authority is refused, a matching one is served', async () => {
      const client = http2Connect(`https://127.0.0.1:${graph.port('secure2')}`, { rejectUnauthorized: false });
      client.on('error', () => undefined);
      const status = (headers: Record<string, string>): Promise<number> =>
        new Promise((resolve, reject) => {
          const stream = client.request({ ':path': '/h2', ...headers });
          stream.on('response', (h) => resolve(Number(h[h2.HTTP2_HEADER_STATUS])));
          stream.on('error', reject);
          stream.resume();
        });
      try {
        expect(await status({ ':authority': 'a.test', host: 'b.test' })).toBe(400);
        expect(await status({ ':authority': 'a.test', host: 'A.test' })).toBe(200);
        expect(await status({ ':authority': 'a.test' })).toBe(200);
      } finally {
        client.close();
      }
    });
  });

  it('every listener carries the http service\'s limits, checked often enough (2 s / 4)', () => {
    for (const name of ['web', 'secure', 'secure2']) {
      const server = graph.app.handle<{ server: Record<string, unknown> }>(name).server;
      expect({ name, headersTimeout: server['headersTimeout'], interval: server['connectionsCheckingInterval'], keepAlive: server['keepAliveTimeout'] }).toEqual({
        name,
        headersTimeout: 2_000,
        interval: 500,
        keepAlive: 5_000,
      });
    }
  });

  // concurrent: each waits out the timeout on its own connection
  describe.concurrent('a client that stops halfway through its headers is cut soon after headersTimeout (2 s)', () => {
    // generous bounds for a loaded machine: not cut before the limit, and cut well before
    // limit + Node's default 30 s check interval (the bug this guards against)
    const HALF = 'GET /slow HTTP/1.1\r\nHost: a.test\r\nX-First: 1\r\n';
    const expectCut = ({ closedAfterMs }: Outcome): void => {
      expect(closedAfterMs, 'the connection is still open after 5 s').toBeDefined();
      expect(closedAfterMs).toBeGreaterThanOrEqual(1_500);
    };

    it.each([
      ['plain HTTP/1.1', { service: 'web' }],
      ['HTTPS (tls listener, HTTP/1.1)', { service: 'secure', alpn: 'http/1.1' }],
      ['HTTP/1.1 on an http2 tls listener', { service: 'secure2', alpn: 'http/1.1' }],
    ] as [string, Transport][])('%s: 408, then closed', async (_name, to) => {
      const outcome = await exchange(to, HALF, 5_000);
      expectCut(outcome);
      expect(statusOf(outcome.data.toString('latin1'))).toBe(408);
    });

    it('HTTP/2: a session whose header block stops halfway gets a GOAWAY and is closed', async () => {
      // HEADERS for stream 1 with `:method: GET` (HPACK index 2) and no END_HEADERS: the
      // CONTINUATION that would finish it never comes
      const headers = frame(0x1, 0, 1, Buffer.from([0x82]));
      const outcome = await exchange({ service: 'secure2', alpn: 'h2' }, Buffer.concat([PREFACE, headers]), 5_000);
      expectCut(outcome);
      // the server said why: a GOAWAY frame (type 7) among what it sent
      expect(frameTypes(outcome.data)).toContain(0x7);
    });
  });

  it('HTTP/2: a session silent for longer than headersTimeout while the app prepares its answer is not cut', async () => {
    const client = http2Connect(`https://127.0.0.1:${graph.port('secure2')}`, { rejectUnauthorized: false });
    client.on('error', () => undefined);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const stream = client.request({ ':path': '/wait' });
        let text = '';
        stream.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      });
      expect(body).toBe('ok /wait\n');
    } finally {
      client.close();
    }
  });

  it('nothing above was logged as an error', () => {
    expect(errorLines(graph.lines)).toEqual([]);
  });
});

/** An HTTP/2 frame: type, flags, stream id and payload. */
function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** The client connection preface and an empty SETTINGS frame. */
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(0x4, 0, 0, Buffer.alloc(0))]);

/** An HPACK literal field without indexing whose name is the static table's entry `index` (< 15 + 128). */
function literal(index: number, value: string): Buffer {
  const name = index < 15 ? [index] : [0x0f, index - 15];
  return Buffer.concat([Buffer.from([...name, value.length]), Buffer.from(value, 'latin1')]);
}

/** The types of the HTTP/2 frames in a server's byte stream. */
function frameTypes(data: Buffer): number[] {
  const types: number[] = [];
  for (let at = 0; at + 9 <= data.length; at += 9 + data.readUIntBE(at, 3)) types.push(data.readUInt8(at + 3));
  return types;
}
