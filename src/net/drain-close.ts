import type { ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * The parts of a drain that loses no keep-alive request, shared by every kind that serves
 * HTTP/1.1 (http, tls). A keep-alive connection may be closed by the server only between
 * requests, and a client may be sending its next one at that very moment; Node's
 * `server.close()` destroys idle connections at once, losing such a request. Instead a
 * connection is closed only when no response is in flight on it and Node's parser is not
 * receiving a request on it, and cleanly: a FIN, then whatever still arrives is read and
 * refused unprocessed — never an RST, so the client may send it again (RFC 9112 §9.3.1).
 */

/**
 * How long, when the process is retired (a rolling reload: other workers serve on), a
 * connection without a request in progress may still send one — answered with `Connection:
 * close` — before it is closed. A client that sends at least this often never meets the close.
 */
export const LAST_CALL_MS = 1_000;
/** How often a drain looks at the connections again (only while draining). */
export const DRAIN_POLL_MS = 25;
/** How long a closed connection (our FIN sent) may take to close its side before it is destroyed. */
const LINGER_MS = 2_000;

/** A connection; Node keeps the HTTP/1.1 response being written in `_httpMessage`. */
type Connection = Duplex & { _httpMessage?: ServerResponse | null };

/** Node's list of a server's HTTP/1.1 connections; `idle()`: those not in the middle of receiving a request. */
interface ConnectionsList {
  idle(): { socket?: Duplex | null }[];
}

/**
 * Reads Node's own bookkeeping of which HTTP/1.1 connections of `server` are receiving a
 * request (made at listen): the function returns the sockets idle now, or undefined when the
 * server has no such list.
 */
export function idleSocketsOf(server: Server): () => Set<Duplex | null | undefined> | undefined {
  return () => {
    const key = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections');
    const list = key === undefined ? undefined : (server as unknown as Record<symbol, ConnectionsList | undefined>)[key];
    return list === undefined ? undefined : new Set(list.idle().map((p) => p.socket));
  };
}

/**
 * Whether a drain may close `socket` now: no response in flight on it (that one closes after
 * its answer, which says `Connection: close`) and no request being received (`idle`, from
 * idleSocketsOf; undefined: unknown, taken as idle).
 */
export function closableNow(socket: Duplex, idle: Set<Duplex | null | undefined> | undefined): boolean {
  const res = (socket as Connection)._httpMessage;
  if (res && !res.writableFinished) return false;
  return idle === undefined || idle.has(socket);
}

/**
 * Closes a connection cleanly (FIN; close_notify first on TLS) and remembers it in `closed`, so
 * that a request still arriving on it is refused unprocessed; the socket goes on reading until
 * the client closes, and is destroyed if it has not after LINGER_MS.
 */
export function closeCleanly(socket: Duplex, closed: WeakSet<Duplex>): void {
  closed.add(socket);
  socket.end();
  const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
  socket.once('close', () => clearTimeout(linger));
}
