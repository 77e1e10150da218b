import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { HubClient } from './pubsub/test-client.js';

// How a test tells which worker a WebSocket landed on: node:cluster hands each accepted TCP
// connection to one worker, and every byte of that connection goes to that worker. So the
// client opens a TCP connection itself, asks `GET /` on it (the pid app answers `<version>
// <pid>`), and then sends the WebSocket upgrade (or a publish) on the SAME connection: the
// worker that answered the GET is the one that takes the upgrade. No guess, no timing.

/** A manifest: `workers`, `web` (http, ./app.mjs) and `hub` (pubsub attached to web, history on `ticks` and `alerts`). */
export function hubManifest(workers: number, extra = ''): string {
  return `workers: ${workers}
services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
  hub:
    kind: pubsub
    attach: web
    path: /hub
    topics:
      ticks: { history: 10000 }
      'alerts.>': { history: 1000 }
${extra}`;
}

/** A TCP connection to `base` (http://127.0.0.1:port) on which `GET /` was answered, and who answered it. */
export interface WorkerSocket {
  socket: Socket;
  pid: number;
  version: string;
}

/**
 * Opens a connection to `base`, sends `GET /` on it and reads the answer (`<version> <pid>`,
 * with a Content-Length, as Node sends for `res.end(text)`): the connection now belongs to
 * that worker, and is left open and idle for the next request on it.
 */
export function socketOnWorker(base: string, timeoutMs = 10_000): Promise<WorkerSocket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let head = Buffer.alloc(0);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error('no answer to GET / within the deadline')), timeoutMs);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers = head.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? NaN);
      if (!/^HTTP\/1\.1 200 /.test(headers) || Number.isNaN(length)) return fail(new Error(`unexpected answer to GET /: ${headers.split('\r\n')[0]}`));
      if (head.length < end + 4 + length) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      socket.off('end', onEnd);
      const [version, pid] = head.subarray(end + 4, end + 4 + length).toString('utf8').split(' ');
      resolve({ socket, pid: Number(pid), version: String(version) });
    };
    const onEnd = (): void => fail(new Error('closed before answering GET /'));
    socket.on('data', onData);
    socket.on('error', fail);
    socket.on('end', onEnd);
    socket.write(`GET / HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
  });
}

/** A hub client and the worker it is connected to. */
export interface PlacedClient {
  client: HubClient;
  pid: number;
}

/** Connects a hub client on a connection whose worker is known (see socketOnWorker). */
export async function connectPlaced(base: string, path = '/hub'): Promise<PlacedClient> {
  const { socket, pid } = await socketOnWorker(base);
  try {
    // ws sends its upgrade on the connection createConnection returns: the one the GET went on
    const client = await HubClient.connect(`${base.replace(/^http/, 'ws')}${path}`, { createConnection: () => socket });
    return { client, pid };
  } catch (error) {
    // refused (a worker stopping): ws leaves the connection open to whoever listens for the answer
    socket.destroy();
    throw error;
  }
}

/** Connects (closing the misses) until a client lands on worker `pid`. */
export async function connectOn(base: string, pid: number, tries = 50): Promise<HubClient> {
  for (let i = 0; i < tries; i++) {
    const placed = await connectPlaced(base);
    if (placed.pid === pid) return placed.client;
    placed.client.close();
  }
  throw new Error(`no connection landed on worker ${pid} in ${tries} tries`);
}

/** Connects until each worker of `pids` has `perWorker` clients; the extra ones are closed. */
export async function clientsOn(base: string, pids: readonly number[], perWorker: number, tries = 200): Promise<Map<number, HubClient[]>> {
  const placed = new Map<number, HubClient[]>(pids.map((pid) => [pid, []]));
  for (let i = 0; i < tries && [...placed.values()].some((list) => list.length < perWorker); i++) {
    const { client, pid } = await connectPlaced(base);
    const list = placed.get(pid);
    if (list && list.length < perWorker) list.push(client);
    else client.close();
  }
  const short = [...placed].filter(([, list]) => list.length < perWorker);
  if (short.length > 0) throw new Error(`too few clients landed on workers ${short.map(([pid]) => pid).join(', ')} in ${tries} tries`);
  return placed;
}

/** `POST {base}/hub/publish/{topic}` sent on a connection of worker `pid`; resolves with the message id (202). */
export async function publishOn(base: string, pid: number, topic: string, data: unknown, tries = 50): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const placed = await socketOnWorker(base);
    if (placed.pid !== pid) {
      placed.socket.destroy();
      continue;
    }
    return new Promise<string>((resolve, reject) => {
      const body = JSON.stringify(data);
      const req = httpRequest(`${base}/hub/publish/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, createConnection: () => placed.socket }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => (res.statusCode === 202 ? resolve(String((JSON.parse(text) as { id: string }).id)) : reject(new Error(`publish: ${res.statusCode} ${text}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  throw new Error(`no connection landed on worker ${pid} in ${tries} tries`);
}

/** The seq of a message id `<epoch>:<seq>`. */
export const seqOf = (id: string): number => Number(id.slice(id.lastIndexOf(':') + 1));
/** The epoch of a message id `<epoch>:<seq>`. */
export const epochOf = (id: string): string => id.slice(0, id.lastIndexOf(':'));

/** The ids of the messages a client received on `topic`, in order. */
export const idsOf = (client: HubClient, topic: string): string[] => client.messages(topic).map((m) => String(m['id']));

/** Waits until `client` has received message `id` on `topic`. */
export async function waitForId(client: HubClient, topic: string, id: string, timeoutMs = 10_000): Promise<void> {
  await client.next((f) => f.type === 'message' && f['topic'] === topic && f['id'] === id, timeoutMs);
}
