import { createServer, get, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cancelHandovers, completeHandovers, setListenScope } from './listen-handover.js';
import { listenOn } from './listen.js';

/** The graph the listening code belongs to (the orchestrator's role in a real run). */
let graph: object | undefined;
setListenScope(() => graph);
beforeEach(() => void (graph = {}));

const context = (service: string) => ({ service, baseDir: process.cwd(), location: undefined });
const servers: Server[] = [];
const serving = (text: string): Server => {
  const server = createServer((_req, res) => res.end(text));
  servers.push(server);
  return server;
};
const closed = (server: Server) => new Promise<void>((done) => server.close(() => done()));
const fetchText = (target: { port: number } | { socketPath: string }) =>
  new Promise<string>((done, fail) => {
    get({ ...target, host: '127.0.0.1', path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done(body));
    }).on('error', fail);
  });

afterEach(async () => {
  for (const s of servers.splice(0)) if (s.listening) await closed(s);
});

describe('listening socket hand-over between two instances of one service', () => {
  it('a new instance on the same configured address takes the socket: same port, no refusal while it switches', async () => {
    const old = serving('old');
    const bound = await listenOn(old, { host: '127.0.0.1', port: 0 }, context('web'));
    const port = (bound as { port: number }).port;
    // requests run all through the hand-over; none may be refused
    let stop = false;
    const results: string[] = [];
    const load = (async () => {
      while (!stop) results.push(await fetchText({ port }));
    })();
    const next = serving('new');
    const nextBound = await listenOn(next, { host: '127.0.0.1', port: 0 }, context('web'));
    expect(nextBound).toEqual(bound);
    // promised, not moved: the running instance serves until the reload commits
    expect(await fetchText({ port })).toBe('old');
    completeHandovers(graph!, 'web');
    expect(old.listening).toBe(false);
    await closed(old); // the old instance stops: its close() must not close the shared socket
    expect(await fetchText({ port })).toBe('new');
    stop = true;
    await load;
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((r) => r === 'old' || r === 'new')).toBe(true);
  });

  it('a rolled-back reload leaves the socket where it was: the replacement never takes it', async () => {
    const old = serving('old');
    const bound = (await listenOn(old, { host: '127.0.0.1', port: 0 }, context('api'))) as { port: number };
    const next = serving('new');
    await listenOn(next, { host: '127.0.0.1', port: 0 }, context('api'));
    expect(next.address()).toEqual(old.address());
    cancelHandovers(graph!, 'api');
    completeHandovers(graph!, 'api'); // nothing left to complete
    expect(next.address()).toBe(null);
    expect(await fetchText({ port: bound.port })).toBe('old');
    // the next reload may replace it again
    const again = serving('again');
    await listenOn(again, { host: '127.0.0.1', port: 0 }, context('api'));
    completeHandovers(graph!, 'api');
    expect(await fetchText({ port: bound.port })).toBe('again');
  });

  it('another graph in the same process, or code outside any graph, never takes a socket', async () => {
    const first = serving('first');
    const bound = (await listenOn(first, { host: '127.0.0.1', port: 0 }, context('web'))) as { port: number };
    graph = {};
    const other = serving('other');
    await listenOn(other, { host: '127.0.0.1', port: 0 }, context('web'));
    graph = undefined;
    const outside = serving('outside');
    await listenOn(outside, { host: '127.0.0.1', port: 0 }, context('web'));
    expect(first.listening && other.listening && outside.listening).toBe(true);
    expect(await fetchText({ port: bound.port })).toBe('first');
  });

  it('other services and other roles never take each other’s sockets', async () => {
    const a = serving('a');
    await listenOn(a, { host: '127.0.0.1', port: 0 }, context('one'));
    const b = serving('b');
    await listenOn(b, { host: '127.0.0.1', port: 0 }, context('two'));
    const c = serving('c');
    await listenOn(c, { host: '127.0.0.1', port: 0 }, { ...context('one'), role: 'redirect' });
    expect(a.listening && b.listening && c.listening).toBe(true);
    expect(new Set([a, b, c].map((s) => (s.address() as { port: number }).port)).size).toBe(3);
  });

  it('a unix socket is re-bound by the new instance, and the old one keeps its connections', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hx-handover-')), 'app.sock');
    const old = serving('old');
    await listenOn(old, { path }, context('sock'));
    expect(await fetchText({ socketPath: path })).toBe('old');
    const next = serving('new');
    await listenOn(next, { path }, context('sock'));
    expect(await fetchText({ socketPath: path })).toBe('old');
    completeHandovers(graph!, 'sock');
    await new Promise((r) => next.once('listening', r));
    expect(await fetchText({ socketPath: path })).toBe('new');
    await closed(old);
    expect(await fetchText({ socketPath: path })).toBe('new');
  });
});
