import type { Server } from 'node:net';

/**
 * The hand-over of listening sockets between two instances of one service (a reload replaces
 * a service whose listen address did not change): the new instance's server takes the old
 * one's socket instead of binding a new one, so there is no moment where the port refuses a
 * connection, and the old instance keeps the connections it already has while it drains.
 *
 * Caddy does this with a listener pool and "fake-closed" listeners; Node lets a server listen
 * on another server's handle (`server.listen(otherServer)`, documented), so here the old server
 * is only detached from the socket it gave away (its `_handle` cleared): its own close() then
 * closes its connections, not the socket. A new instance that stops while its predecessor still
 * runs (a reload rolled back) gives the socket back the same way.
 *
 * Unix sockets cannot be shared like this (libuv registers one fd once): the predecessor's
 * socket is closed just before the new one binds the path, a window of one bind call.
 */

/** What listen-handover tracks about one server that listens under a key. */
interface Holder {
  readonly key: string;
  readonly server: Server;
  /** The server this one took the socket from, while that one has not closed. */
  predecessor: Holder | undefined;
  /** Its owner called close(). */
  closed: boolean;
}

type Handled = Server & { _handle: unknown };

const current = new Map<string, Holder>();
const holders = new WeakMap<Server, Holder>();

/**
 * Which running graph the code that listens belongs to: the orchestrator says so (its start
 * and reload calls run in its async context). Sockets are handed over only within one graph,
 * between two instances of one service; a listen outside any graph (a kind's own unit test, an
 * app's own server) neither takes nor gives one.
 */
let scopeReader: () => object | undefined = () => undefined;
const scopeIds = new WeakMap<object, number>();
let nextScopeId = 0;

/** Tells listen-handover how to find the graph of the code running now (the runtime does, once). */
export function setListenScope(reader: () => object | undefined): void {
  scopeReader = reader;
}

/** The hand-over key of a listener: graph, service, role, configured address; undefined outside a graph. */
export function handoverKey(service: string, role: string, address: string): string | undefined {
  const scope = scopeReader();
  if (scope === undefined) return undefined;
  let id = scopeIds.get(scope);
  if (id === undefined) scopeIds.set(scope, (id = ++nextScopeId));
  return `${id}\0${service}\0${role}\0${address}`;
}

/**
 * The live server a new listener under `key` (service, role, configured address) takes over,
 * if any: only a server that is still listening.
 */
export function predecessorFor(key: string, server: Server): Server | undefined {
  const holder = current.get(key);
  if (!holder || holder.server === server || holder.closed || !holder.server.listening) return undefined;
  return holder.server;
}

/**
 * Makes `server` listen on the socket `previous` listens on (TCP), detaching `previous` from it.
 * Resolves once `server` listens.
 */
export function takeOver(server: Server, previous: Server): Promise<void> {
  return new Promise((done, fail) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      fail(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      done();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(previous);
    // the socket is the new server's now: the old one's close() must not close it
    (previous as Handled)._handle = null;
  });
}

/**
 * Closes the socket of a unix-socket predecessor so that the path can be bound again (libuv
 * removes the file); its connections stay open.
 */
export function releaseUnixSocket(previous: Server): void {
  const handle = (previous as Handled)._handle as { close?: () => void } | null;
  (previous as Handled)._handle = null;
  handle?.close?.();
}

/**
 * Records that `server` listens under `key`, having taken the socket from `predecessor` (or
 * not), and makes its close() give the socket back to a predecessor that still runs.
 */
export function registerListener(key: string, server: Server, predecessor: Server | undefined, unix: string | undefined): void {
  const previous = predecessor ? holders.get(predecessor) : undefined;
  const holder: Holder = { key, server, predecessor: previous, closed: false };
  holders.set(server, holder);
  current.set(key, holder);
  const close = server.close;
  server.close = function closeAndHandBack(this: Server, callback?: (error?: Error) => void): Server {
    holder.closed = true;
    handBack(holder, unix);
    return close.call(this, callback);
  } as Server['close'];
}

/** On close of `holder`: its live predecessor gets the socket back; otherwise the key is free. */
function handBack(holder: Holder, unix: string | undefined): void {
  if (current.get(holder.key) !== holder) return;
  let previous = holder.predecessor;
  while (previous?.closed) previous = previous.predecessor;
  if (!previous || !(holder.server as Handled)._handle) {
    current.delete(holder.key);
    return;
  }
  current.set(holder.key, previous);
  if (unix === undefined) {
    previous.server.listen(holder.server);
    (holder.server as Handled)._handle = null;
  } else {
    // the path is bound again by the predecessor once this server's socket is closed
    holder.server.once('close', () => previous.server.listen({ path: unix }));
  }
}
