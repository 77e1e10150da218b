import { connect as http2Connect, constants, type ClientHttp2Session } from 'node:http2';
import { Agent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Answered, Failed } from '../keepalive-load.js';

// Keep-alive load over TLS, counted as helpers/keepalive-load.ts counts it for node:http.
//
// HTTPS (node:https, an Agent with keepAlive and one socket per client): exactly the same
// definition. A request on a reused connection that the server closed cleanly (close_notify and
// FIN, not a byte of response: never processed) shows as `ECONNRESET socket hang up` with
// req.reusedSocket; it is sent again once on a new connection and counted as `retried`. Anything
// else without a whole response is `failed`.
//
// HTTP/2 (node:http2, one session per client, reopened when it closes): what node:http2 itself
// does when a server goes away. On a GOAWAY with NO_ERROR the client session closes itself
// (`session.closed`: no new stream, request() would throw ERR_HTTP2_GOAWAY_SESSION), and nghttp2
// closes every stream it opened above the GOAWAY's last stream id with REFUSED_STREAM, which
// node surfaces as ERR_HTTP2_STREAM_ERROR on the stream. node:http2 retries nothing itself. A
// stream refused so, with no response, was not processed (RFC 9113 §8.7, §6.8) and is sent again
// once on a new session (`retried`); so is a request that request() refused because the session
// was already going away. Anything else without a whole response is `failed` — a reset stream
// with another code (CANCEL, INTERNAL_ERROR), a session cut (ECONNRESET), a timeout.

/** One answered request, and which certificate (CN) the server presented on its connection. */
export interface TlsAnswered extends Answered {
  protocol: 'h1' | 'h2';
  /** The path it asked for. */
  path: string;
  serverCN: string | undefined;
}

/** One failed request, and over which protocol. */
export interface TlsFailed extends Failed {
  protocol: 'h1' | 'h2';
  path: string;
}

/** Running keep-alive request loops over TLS. */
export interface TlsLoad {
  readonly answered: TlsAnswered[];
  readonly failed: TlsFailed[];
  /** Ends the loops after their current request. */
  stop(): Promise<void>;
}

/** Where the loops send: `https://127.0.0.1:port`, trusting `ca`, asking for `servername`. */
export interface TlsTarget {
  origin: string;
  ca: string;
  servername: string;
  /** The path of request `n` of loop `client` (sent again as it is when retried); default `/`. */
  path?: (client: number, n: number) => string;
}

type Outcome =
  | { status: number; body: string; close: boolean; serverCN: string | undefined }
  | { error: string; reused: boolean; responded: boolean; retry: boolean };

const NO_ANSWER_MS = 15_000;

const cnOf = (socket: TLSSocket | null | undefined): string | undefined => [socket?.getPeerCertificate?.().subject?.CN].flat()[0];

/** Runs `clients` loops of `send`, each pausing `paceMs` between requests; a retryable outcome is sent again once. */
function runLoops(
  clients: number,
  paceMs: number,
  protocol: 'h1' | 'h2',
  client: () => { send: (path: string) => Promise<Outcome>; close: () => void },
  pathOf: (client: number, n: number) => string = () => '/',
): TlsLoad {
  let running = true;
  const answered: TlsAnswered[] = [];
  const failed: TlsFailed[] = [];
  const closers: (() => void)[] = [];
  const loop = async (id: number): Promise<void> => {
    const { send, close } = client();
    closers.push(close);
    for (let n = 0; running; n++) {
      const sent = Date.now();
      const path = pathOf(id, n);
      let outcome = await send(path);
      let retried = false;
      if ('error' in outcome && outcome.retry) {
        retried = true;
        outcome = await send(path);
      }
      if ('status' in outcome) answered.push({ client: id, sent, ended: Date.now(), retried, protocol, path, ...outcome });
      else failed.push({ client: id, sent, retried, protocol, path, error: outcome.error, reused: outcome.reused, responded: outcome.responded });
      await new Promise((r) => setTimeout(r, paceMs));
    }
  };
  const loops = Array.from({ length: clients }, (_, n) => loop(n));
  return {
    answered,
    failed,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const close of closers) close();
    },
  };
}

/** Starts `clients` node:https loops, each on its own keep-alive agent with one socket. */
export function startHttpsLoad(target: TlsTarget, clients: number, paceMs: number): TlsLoad {
  return runLoops(clients, paceMs, 'h1', () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: target.ca, servername: target.servername });
    return { send: (path) => sendHttps(`${target.origin}${path}`, agent), close: () => agent.destroy() };
  }, target.path);
}

function sendHttps(url: string, agent: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    let responded = false;
    const req = httpsRequest(url, { agent }, (res) => {
      responded = true;
      const serverCN = cnOf(res.socket as TLSSocket);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, close: res.headers.connection === 'close', serverCN }));
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('response aborted')));
    });
    function fail(error: NodeJS.ErrnoException): void {
      const text = `${error.code ?? ''} ${error.message}`.trim();
      const reused = req.reusedSocket;
      resolve({ error: text, reused, responded, retry: reused && !responded && text === 'ECONNRESET socket hang up' });
    }
    req.setTimeout(NO_ANSWER_MS, () => req.destroy(new Error('no answer within the deadline')));
    req.on('error', fail);
    req.end();
  });
}

/** Starts `clients` node:http2 loops, each on one session, opening a new one when the server closed it. */
export function startH2Load(target: TlsTarget, clients: number, paceMs: number): TlsLoad {
  return runLoops(clients, paceMs, 'h2', () => {
    let session: ClientHttp2Session | undefined;
    const current = (): ClientHttp2Session => {
      if (session === undefined || session.closed || session.destroyed) {
        session = http2Connect(target.origin, { ca: target.ca, servername: target.servername });
        // a session error also fails its streams, where it is counted
        session.on('error', () => undefined);
      }
      return session;
    };
    return { send: (path) => sendH2(current(), path), close: () => session?.close() };
  }, target.path);
}

function sendH2(session: ClientHttp2Session, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let stream;
    try {
      stream = session.request({ ':path': path });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      // the session learned of a GOAWAY (or closed) between the check and the request: nothing was sent
      resolve({ error: `${code} ${(error as Error).message}`, reused: true, responded: false, retry: code === 'ERR_HTTP2_GOAWAY_SESSION' || code === 'ERR_HTTP2_INVALID_SESSION' });
      return;
    }
    let responded = false;
    let status = 0;
    let body = '';
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    const fail = (error: NodeJS.ErrnoException): void => {
      const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
      settle({ error: `${error.code ?? ''} ${error.message}`.trim(), reused: true, responded, retry: refused && !responded });
    };
    stream.on('response', (headers) => {
      responded = true;
      status = Number(headers[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (body += d));
    stream.on('end', () => settle({ status, body, close: false, serverCN: cnOf(session.socket as TLSSocket) }));
    stream.on('error', fail);
    stream.on('close', () => fail(Object.assign(new Error(`stream closed without an answer (rst code ${stream.rstCode})`), { code: 'CLOSED' })));
    stream.setTimeout(NO_ANSWER_MS, () => stream.close(constants.NGHTTP2_CANCEL));
    stream.end();
  });
}
