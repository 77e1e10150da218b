import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';

/** The answer to one request: status, headers, body and the socket it came on. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: Socket;
}

/** Options of one request: an agent (false: a fresh connection), headers, a CA for https. */
export interface RequestOptions {
  agent?: HttpAgent | false;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
  ca?: string;
  timeoutMs?: number;
}

/** Sends one request with node:http or node:https (by the URL) and collects the whole answer. */
export function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      { method: options.method ?? 'GET', agent: options.agent ?? false, headers: options.headers, ...(options.ca === undefined ? {} : { ca: options.ca }) },
      (res) => {
        // the socket goes back to the agent (res.socket null) by the time the body has ended
        const socket = res.socket;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket }));
        res.on('error', reject);
      },
    );
    // generous: a loaded machine may be slow, but a request that never ends is a failure
    req.setTimeout(options.timeoutMs ?? 15_000, () => req.destroy(new Error('no answer within the deadline')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The `Keep-Alive` header of a keep-alive request on a fresh connection (which is then closed). */
export async function keepAliveHeader(url: string, ca: string): Promise<string | undefined> {
  const agent = url.startsWith('https:') ? new HttpsAgent({ keepAlive: true, ca }) : new HttpAgent({ keepAlive: true });
  try {
    const value = (await request(url, { agent })).headers['keep-alive'];
    return Array.isArray(value) ? value.join(', ') : value;
  } finally {
    agent.destroy();
  }
}

/** What the load loops saw once stopped. */
export interface LoadReport {
  /** Requests answered with an accepted status and body. */
  ok: number;
  /** Every failure: loop, request number, what happened. */
  failures: string[];
  /** Per loop, how many distinct connections its agent used (1: the keep-alive connection lasted). */
  connections: number[];
}

/** Running paced request loops. */
export interface Load {
  /** Requests answered well so far. */
  ok(): number;
  /** Ends the loops after their current request and reports. */
  stop(): Promise<LoadReport>;
}

/** Options of startLoad(). */
export interface LoadOptions {
  /** One loop per URL, each on its own keep-alive agent with one socket. */
  urls: readonly string[];
  /** The CA that signed the https listener's certificates. */
  ca: string;
  /** Pause between two requests of one loop (paced, not flat out: the machine is shared). */
  paceMs: number;
  /** Whether an answer counts as a success (e.g. 200 and one of the texts the app has served). */
  accept(answer: Answer): boolean;
}

/**
 * Starts one request loop per URL, each over its own keep-alive agent (`maxSockets: 1`, so a
 * loop is one client on one connection), pacing its requests. Every socket error, timeout or
 * answer `accept` refuses is a failure; the connections each loop used are counted.
 */
export function startLoad(options: LoadOptions): Load {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const connections: Set<Socket>[] = [];
  const agents: HttpAgent[] = [];
  const loop = async (url: string, n: number): Promise<void> => {
    const agent = url.startsWith('https:') ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: options.ca }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const sockets = new Set<Socket>();
    connections[n] = sockets;
    for (let i = 0; running; i++) {
      try {
        const answer = await request(url, { agent, headers: { 'x-load': `${n}-${i}` } });
        sockets.add(answer.socket);
        if (options.accept(answer)) ok++;
        else failures.push(`loop ${n} request ${i}: ${answer.status} ${JSON.stringify(answer.body.slice(0, 80))}`);
      } catch (error) {
        failures.push(`loop ${n} request ${i}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      await new Promise((r) => setTimeout(r, options.paceMs * (0.5 + Math.random())));
    }
  };
  const loops = options.urls.map((url, n) => loop(url, n));
  return {
    ok: () => ok,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
      return { ok, failures, connections: connections.map((s) => s.size) };
    },
  };
}
