import { Agent, request as httpRequest } from 'node:http';

// What "failed" means for a node:http keep-alive client, as these loops count it.
//
// A server may close a keep-alive connection between two requests (HTTP/1.1 allows it at any
// time), and the client may be sending its next request on it at that very moment: Node's
// agent hands out a pooled socket before the event loop has read the FIN waiting in it
// (timers run before I/O polling). Such a request reaches a connection the server has already
// closed, and an http service's drain refuses it unprocessed (services/http/connections.ts),
// so the client sees the server's FIN with not a byte of response: Node reports it as
// `ECONNRESET` "socket hang up" on a reused socket. RFC 9112 §9.3.1 lets a client send such a
// request again on a new connection, and so do these loops — once — counting it as `retried`.
//
// Everything else without a whole response is `failed`: an RST ("read ECONNRESET", EPIPE), a
// close after part of a response, a timeout, any error on a fresh connection, or a retry that
// fails too. A request the server read and then dropped without answering would show as one of
// these, or as a "socket hang up" whose retry is then processed twice — which a test catches
// by its effects (a message published twice).

/** One request of a keep-alive loop that got a whole response. */
export interface Answered {
  client: number;
  /** Date.now() when the request was made, and when its response ended. */
  sent: number;
  ended: number;
  status: number;
  body: string;
  /** Whether the response said `Connection: close`. */
  close: boolean;
  /** Whether it was sent again after a clean close (see above). */
  retried: boolean;
}

/** One request that got no whole response (after its retry, if it had one). */
export interface Failed {
  client: number;
  sent: number;
  /** The error code and message. */
  error: string;
  /** Whether it went on a connection an earlier request had used (req.reusedSocket). */
  reused: boolean;
  /** Whether any of a response had come. */
  responded: boolean;
  retried: boolean;
}

/** Running keep-alive request loops. */
export interface KeepAliveLoad {
  readonly answered: Answered[];
  readonly failed: Failed[];
  /** Ends the loops after their current request. */
  stop(): Promise<void>;
}

/** Options of one request: method, body, headers. */
export interface LoadRequest {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
}

type Outcome = { status: number; body: string; close: boolean } | { error: string; reused: boolean; responded: boolean };

/**
 * Starts `clients` loops, each one node:http client on its own keep-alive agent with one
 * socket (a loop is one keep-alive connection for as long as the server keeps it), pausing
 * `paceMs` between requests (paced: the machine is shared). `what(n)` says what the n-th request
 * of a loop is (default GET). Every request is recorded, answered or failed (see above).
 */
export function startKeepAliveLoad(url: string, clients: number, paceMs: number, what: (n: number) => LoadRequest = () => ({})): KeepAliveLoad {
  let running = true;
  const answered: Answered[] = [];
  const failed: Failed[] = [];
  const agents: Agent[] = [];
  const loop = async (client: number): Promise<void> => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    for (let n = 0; running; n++) {
      const sent = Date.now();
      const options = what(n);
      let outcome = await send(url, agent, options);
      let retried = false;
      if ('error' in outcome && outcome.reused && !outcome.responded && outcome.error === 'ECONNRESET socket hang up') {
        retried = true;
        outcome = await send(url, agent, options);
      }
      if ('status' in outcome) answered.push({ client, sent, ended: Date.now(), retried, ...outcome });
      else failed.push({ client, sent, retried, ...outcome });
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
      for (const agent of agents) agent.destroy();
    },
  };
}

function send(url: string, agent: Agent, what: LoadRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    let responded = false;
    const req = httpRequest(url, { agent, method: what.method ?? 'GET', headers: what.headers }, (res) => {
      responded = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, close: res.headers.connection === 'close' }));
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('response aborted')));
    });
    function fail(error: NodeJS.ErrnoException): void {
      resolve({ error: `${error.code ?? ''} ${error.message}`.trim(), reused: req.reusedSocket, responded });
    }
    // generous: a loaded machine may be slow, but a request that never ends is a failure
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within the deadline')));
    req.on('error', fail);
    req.end(what.body);
  });
}
