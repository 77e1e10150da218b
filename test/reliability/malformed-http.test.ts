import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange, statusOf } from '../helpers/http/test-client.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { errorLines, fuzzSeed, inPool, prng, startGraph, type Graph } from '../helpers/reliability.js';

// Malformed and ambiguous HTTP/1.1 requests against an http service, on raw sockets. The app
// records every request it is handed: a request hidden in another's body must never reach it.

const SEEN = Symbol.for('hendrix.test.malformed-http.seen');
const seen = ((globalThis as Record<symbol, unknown>)[SEEN] ??= []) as string[];
const APP = `
const seen = (globalThis[Symbol.for('hendrix.test.malformed-http.seen')] ??= []);
export default async function app(req, res) {
  let bytes = 0;
  try {
    for await (const chunk of req) bytes += chunk.length;
  } catch {
    return; // the client gave up on a body it announced (the fuzz does): nothing to answer
  }
  seen.push(req.method + ' ' + req.url + ' ' + bytes);
  res.end('ok ' + req.url + ' ' + bytes + '\\n');
}
`;

const H = 'Host: x\r\n';
/** The request an ambiguous framing would smuggle through: it must never reach the app. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
/** Its length: a Content-Length that frames it as a body. */
const L = SMUGGLED.length;
const post = (headers: string, body: string): string => `POST /outer HTTP/1.1\r\n${H}${headers}\r\n${body}`;

/** Each case: the bytes sent on one connection and the status the server must answer. */
const CASES: Record<string, { data: string; status: number }> = {
  'Content-Length and Transfer-Encoding (CL.TE)': { data: post('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding and Content-Length (TE.CL)': { data: post('Transfer-Encoding: chunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'two different Content-Length': { data: post(`Content-Length: 0\r\nContent-Length: ${L}\r\n`, SMUGGLED), status: 400 },
  'two equal Content-Length': { data: post(`Content-Length: ${L}\r\nContent-Length: ${L}\r\n`, SMUGGLED), status: 400 },
  'Content-Length as a list': { data: post(`Content-Length: ${L}, 0\r\n`, SMUGGLED), status: 400 },
  'Content-Length with a sign': { data: post(`Content-Length: +${L}\r\n`, SMUGGLED), status: 400 },
  'negative Content-Length': { data: post('Content-Length: -1\r\n', SMUGGLED), status: 400 },
  'hex Content-Length': { data: post(`Content-Length: 0x${L.toString(16)}\r\n`, SMUGGLED), status: 400 },
  'Content-Length with a space inside': { data: post(`Content-Length: ${String(L)[0]} ${String(L).slice(1)}\r\n`, SMUGGLED), status: 400 },
  'Content-Length past 2^64': { data: post('Content-Length: 99999999999999999999999\r\n', SMUGGLED), status: 400 },
  'Transfer-Encoding folded (obs-fold)': { data: post('Transfer-Encoding:\r\n chunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'any folded header (obs-fold)': { data: `GET /a HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`, status: 400 },
  'space before the colon': { data: post('Transfer-Encoding : chunked\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding: xchunked': { data: post('Transfer-Encoding: xchunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding: chunked, identity': { data: post('Transfer-Encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding: identity': { data: post('Transfer-Encoding: identity\r\n', SMUGGLED), status: 400 },
  'two Transfer-Encoding headers': { data: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding after a tab': { data: post('Transfer-Encoding:\tchunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding after a vertical tab': { data: post('Transfer-Encoding:\x0bchunked\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'Transfer-Encoding: CHUNKED with Content-Length': { data: post('Transfer-Encoding: CHUNKED\r\nContent-Length: 40\r\n', `0\r\n\r\n${SMUGGLED}`), status: 400 },
  'chunked in HTTP/1.0 followed by a request': { data: `POST /outer HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: 400 },
  'a chunk size that is not hex': { data: post('Transfer-Encoding: chunked\r\n', 'zz\r\nhello\r\n0\r\n\r\n'), status: 400 },
  'a chunk size past 2^64': { data: post('Transfer-Encoding: chunked\r\n', 'fffffffffffffffff1\r\nhello\r\n0\r\n\r\n'), status: 400 },
  'a bare LF in a chunk extension': { data: post('Transfer-Encoding: chunked\r\n', '5;a\nb\r\nhello\r\n0\r\n\r\n'), status: 400 },
  'chunks with bare LF line ends': { data: post('Transfer-Encoding: chunked\r\n', `5\nhello\n0\n\n${SMUGGLED}`), status: 400 },
  'a chunk longer than its size': { data: post('Transfer-Encoding: chunked\r\n', '5\r\nhelloX0\r\n\r\n'), status: 400 },
  'NUL in a header value': { data: `GET /a HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`, status: 400 },
  'NUL in a header name': { data: `GET /a HTTP/1.1\r\n${H}X\0A: b\r\n\r\n`, status: 400 },
  'NUL in the target': { data: `GET /a\0b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'NUL in the method': { data: `G\0ET /a HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'a bare CR in a header value': { data: `GET /a HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`, status: 400 },
  'a bare LF hiding a header': { data: `GET /a HTTP/1.1\r\n${H}X-A: a\nTransfer-Encoding: chunked\r\n\r\n`, status: 400 },
  'a request with bare LF line ends': { data: 'GET /a HTTP/1.1\nHost: x\n\n', status: 400 },
  'a space in a header name': { data: `GET /a HTTP/1.1\r\n${H}X A: b\r\n\r\n`, status: 400 },
  'a header line without a colon': { data: `GET /a HTTP/1.1\r\n${H}XA\r\n\r\n`, status: 400 },
  'a header line starting with a space': { data: 'GET /a HTTP/1.1\r\n Host: x\r\n\r\n', status: 400 },
  'HTTP/1.1 without Host': { data: 'GET /a HTTP/1.1\r\n\r\n', status: 400 },
  'an unknown HTTP version': { data: `GET /a HTTP/1.7\r\n${H}\r\n`, status: 400 },
  'a method with a separator': { data: `G(T /a HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'an unknown method': { data: `FOOBAR /a HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'a space in the target': { data: `GET /a b HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'DEL in the target': { data: `GET /a\x7f HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'an 8-bit byte in the target': { data: `GET /a\xff HTTP/1.1\r\n${H}\r\n`, status: 400 },
  'binary garbage': { data: String.fromCharCode(...Array.from({ length: 200 }, (_, i) => (i * 37) % 256)), status: 400 },
  'a 64 KB header': { data: `GET /a HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(65_536)}\r\n\r\n`, status: 431 },
  '3,000 headers': { data: `GET /a HTTP/1.1\r\n${H}${Array.from({ length: 3000 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`, status: 431 },
  'a 64 KB target': { data: `GET /${'a'.repeat(65_536)} HTTP/1.1\r\n${H}\r\n`, status: 431 },
};

describe('malformed HTTP requests', () => {
  const dirs = useManifestDirs();
  let graph: Graph;
  let port: number;
  beforeAll(async () => {
    graph = await startGraph(dirs({ 'app.mjs': APP }), 'version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n');
    port = graph.port('web');
  });
  afterAll(async () => {
    await graph?.app.stop();
  });

  const send = (data: string, ms = 3_000) => rawExchange(port, Buffer.from(data, 'latin1'), ms);
  const valid = async (): Promise<string> => (await send(`GET /after HTTP/1.1\r\n${H}Connection: close\r\n\r\n`)).text;

  it('the detector works: a body is not a request, a pipelined request is', async () => {
    seen.length = 0;
    await send(`${post(`Content-Length: ${L}\r\nConnection: close\r\n`, SMUGGLED)}`);
    expect(seen).toEqual([`POST /outer ${L}`]);
    await send(`GET /first HTTP/1.1\r\n${H}\r\n${SMUGGLED.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n')}`);
    expect(seen).toEqual([`POST /outer ${L}`, 'GET /first 0', 'GET /smuggled 0']);
  });

  it.each(Object.entries(CASES))('%s: refused, the connection closed, nothing smuggled, the next connection served', async (_name, { data, status }) => {
    seen.length = 0;
    const { text, closedByServer } = await send(data);
    expect(statusOf(text)).toBe(status);
    expect(text.match(/HTTP\/1\.[01] \d{3}/g)).toHaveLength(1);
    expect(closedByServer).toBe(true);
    expect(seen.filter((line) => line.includes('/smuggled'))).toEqual([]);
    expect(await valid()).toMatch(/^HTTP\/1\.1 200 [\s\S]*ok \/after 0\n$/);
  });

  it('an h2c upgrade is not honored: a plain answer, no 101', async () => {
    const h2c = `GET /a HTTP/1.1\r\n${H}Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`;
    const { text } = await send(h2c, 1_000);
    expect(statusOf(text)).toBe(200);
  });

  it('1,000 randomly mutated requests: every answer well-formed, the server keeps serving, nothing logged as an error', async () => {
    const seed = fuzzSeed();
    const random = prng(seed);
    const template = post(`Content-Length: ${L}\r\nX-Pad: abc\r\n`, SMUGGLED);
    const head = template.indexOf('\r\n\r\n');
    const bytes = ['\0', '\r', '\n', ' ', '\t', ':', ',', '\x7f', '\xff', '-', '0', '9', 'a', ';', '"', '\x0b'];
    const requests = Array.from({ length: 1_000 }, () => {
      let text = template;
      for (let m = 1 + random.int(3); m > 0; m--) {
        const at = random.int(head);
        const op = random.int(3);
        const b = random.pick(bytes);
        text = op === 0 ? text.slice(0, at) + b + text.slice(at) : op === 1 ? text.slice(0, at) + b + text.slice(at + 1) : text.slice(0, at) + text.slice(at + 1);
      }
      return text;
    });
    const statuses = new Map<number, number>();
    // a mutation may leave a request incomplete (a larger Content-Length): such a connection is
    // given up after 500 ms, as a client would
    await inPool(requests, 50, async (data) => {
      const { text } = await send(data, 500);
      for (const [, code] of text.matchAll(/HTTP\/1\.1 (\d{3}) /g)) statuses.set(Number(code), (statuses.get(Number(code)) ?? 0) + 1);
    });
    const allowed = [200, 400, 413, 417, 431, 501, 505];
    expect([...statuses.keys()].filter((code) => !allowed.includes(code)), `seed ${seed}: ${JSON.stringify([...statuses])}`).toEqual([]);
    expect(await valid()).toMatch(/^HTTP\/1\.1 200 /);
    expect(errorLines(graph.lines)).toEqual([]);
  }, 25_000);
});
