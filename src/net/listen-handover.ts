import type { Server } from 'node:net';

/**
 * The hand-over of listening sockets between two instances of one service (a reload replaces
 * a service whose listen address did not change): the new instance's server takes the old
 * one's socket instead of binding a new one, so there is no moment where the port refuses a
 * connection, and the old instance keeps the connections it already has while it drains.
 *
 * The new instance's listen() returns at once with the old socket's address, but the socket
 * moves only when the reload commits (`completeHandovers`): until then the old instance serves
 * every new connection, so that nothing reaches the new one before its dependents have rebound
 * to it (a hub attached to a replaced http service), and a rolled-back reload
 * (`cancelHandovers`) leaves the socket where it always was. After the commit there is no way
 * back: the old instance is draining.
 *
 * Caddy does this with a listener pool and "fake-closed" listeners; Node lets a server listen
 * on another server's handle (`server.listen(otherServer)`, documented), so here the old server
 * is only detached from the socket it gave away (its `_handle` cleared): its own close() then
 * closes its connections, not the socket.
 *
 * Unix sockets cannot be shared like this (libuv registers one descriptor once): at the commit
 * the old socket is closed (libuv removes the file) and the new server binds the path, a window
 * of one bind call.
 */

type Handled = Server & { _handle: unknown };

/** The server listening under each key, while it is (a closed one leaves). */
const current = new Map<string, Server>();

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

function scopeId(scope: object): number {
  let id = scopeIds.get(scope);
  if (id === undefined) scopeIds.set(scope, (id = ++nextScopeId));
  return id;
}

/** The hand-over key of a listener: graph, service, role, configured address; undefined outside a graph. */
export function handoverKey(service: string, role: string, address: string): string | undefined {
  const scope = scopeReader();
  if (scope === undefined) return undefined;
  return `${scopeId(scope)}\0${service}\0${role}\0${address}`;
}

/** The server listening under `key` that a new listener there is to take over, if any. */
export function predecessorFor(key: string, server: Server): Server | undefined {
  const holder = current.get(key);
  return holder && holder !== server && holder.listening ? holder : undefined;
}

/** Records that `server` listens under `key` (until it closes). */
export function registerListener(key: string, server: Server): void {
  current.set(key, server);
  server.once('close', () => {
    if (current.get(key) === server) current.delete(key);
  });
}

/** A socket promised to a new instance, moved when the reload commits. */
interface Pending {
  readonly key: string;
  readonly server: Server;
  readonly predecessor: Server;
  /** The path, for a unix socket (re-bound rather than shared). */
  readonly unix: string | undefined;
}

/** By graph and service (`<scope id>\0<service>`): the sockets its new instance waits for. */
const pending = new Map<string, Pending[]>();
const groupOf = (key: string): string => key.split('\0', 2).join('\0');

/** Promises `previous`'s socket to `server`: it moves at completeHandovers(). */
export function deferTakeOver(key: string, server: Server, previous: Server, unix: string | undefined): void {
  const group = groupOf(key);
  const list = (pending.get(group) ?? []).filter((p) => p.key !== key);
  list.push({ key, server, predecessor: previous, unix });
  pending.set(group, list);
  // until then it answers for the socket it will have (a kind builds its handle's url from it)
  server.address = () => previous.address();
}

/** Gives a server back its own address(). */
function ownAddress(server: Server): void {
  delete (server as Partial<Server>).address;
}

/**
 * A reload committed the replacement of `service` in the graph `scope`: its new instance's
 * servers take the sockets they were promised, and the old instance's are detached from them.
 */
export function completeHandovers(scope: object, service: string): void {
  const group = `${scopeId(scope)}\0${service}`;
  const list = pending.get(group) ?? [];
  pending.delete(group);
  for (const p of list) {
    ownAddress(p.server);
    const old = p.predecessor as Handled;
    if (p.unix !== undefined) {
      const handle = old._handle as { close?: () => void } | null;
      old._handle = null;
      handle?.close?.();
      p.server.listen({ path: p.unix });
    } else if (old.listening) {
      p.server.listen(old);
      old._handle = null;
    } else {
      // the old server lost its socket meanwhile (it crashed and closed): nothing to take
      continue;
    }
    registerListener(p.key, p.server);
  }
}

/** A reload rolled back the replacement of `service`: its new instance never takes a socket. */
export function cancelHandovers(scope: object, service: string): void {
  const group = `${scopeId(scope)}\0${service}`;
  for (const p of pending.get(group) ?? []) ownAddress(p.server);
  pending.delete(group);
}
