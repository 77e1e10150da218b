import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** A connection of the server; Node keeps the response being written in `_httpMessage`. */
type Connection = Socket & { _httpMessage?: ServerResponse | null };

/** Node's list of a server's HTTP/1.1 connections; `idle()`: those not in the middle of receiving a request. */
interface ConnectionsList {
  idle(): { socket?: Socket | null }[];
}

/**
 * How long, when the process is retired (a rolling reload: other workers serve on), a
 * connection without a request in progress may still send one — answered with `Connection:
 * close` — before it is closed. A client that sends at least this often never meets the close.
 */
export const LAST_CALL_MS = 1_000;
/** How long a closed connection (our FIN sent) may take to close its side before it is destroyed. */
const LINGER_MS = 2_000;
/** How often the drain looks at the connections again (only while draining). */
const POLL_MS = 25;

/**
 * The connections of one http server, for a drain that loses no request. A keep-alive
 * connection may be closed by the server only between requests, and a client may be sending
 * its next request at that very moment; Node's `server.close()` destroys idle connections at
 * once, so a request already in the socket's buffer, or one crossing the close, is lost without
 * a word (an RST, or a FIN after the request was written). Here a connection is closed only when
 * no response is in flight on it and Node's parser is not receiving a request on it, and it is
 * closed cleanly: a FIN, then whatever still arrives is read and refused unprocessed (the
 * pipeline asks closedByDrain()) — never an RST. A client that sees the FIN without a byte of
 * response knows its request was not processed and may send it again on a new connection
 * (RFC 9112 §9.3.1). When the process is retired, connections get a last call first.
 */
export class HttpConnections {
  readonly #sockets = new Set<Connection>();
  readonly #closed = new WeakSet<Duplex>();
  #list: (() => ConnectionsList | undefined) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastCallEnds = 0;
  #isUpgraded: (socket: Duplex) => boolean = () => false;

  /** Tracks the connections of `server` (before it listens). */
  track(server: Server): void {
    server.on('connection', (socket: Connection) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // Node's own bookkeeping of which connections are receiving a request (made at listen)
    this.#list = () => {
      const key = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connections');
      return key === undefined ? undefined : ((server as unknown as Record<symbol, ConnectionsList | undefined>)[key] ?? undefined);
    };
  }

  /** True when the drain closed this connection: a request still arriving on it must not reach the app. */
  closedByDrain(socket: Duplex | null | undefined): boolean {
    return socket != null && this.#closed.has(socket);
  }

  /**
   * Starts closing connections as they become idle, until stop(): at once (once the event loop
   * has read what already arrived, so that a request already received is answered), or —
   * `lastCall` — once LAST_CALL_MS have passed. Upgraded sockets are their handlers' (a hub closes them).
   */
  start(options: { lastCall: boolean; isUpgraded: (socket: Duplex) => boolean }): void {
    this.#isUpgraded = options.isUpgraded;
    this.#lastCallEnds = options.lastCall ? performance.now() + LAST_CALL_MS : 0;
    this.#timer ??= setInterval(() => this.sweep(), POLL_MS);
    // two turns of the event loop: a poll phase in between reads what has already arrived
    setImmediate(() => setImmediate(() => this.sweep()));
  }

  /** Closes (cleanly) every connection that is idle now. */
  sweep(): void {
    if (this.#timer === undefined || performance.now() < this.#lastCallEnds) return;
    const list = this.#list?.();
    const idle = list === undefined ? undefined : new Set(list.idle().map((p) => p.socket));
    for (const socket of this.#sockets) {
      if (this.#closed.has(socket) || this.#isUpgraded(socket) || socket.destroyed) continue;
      const res = socket._httpMessage;
      if (res && !res.writableFinished) continue; // it closes after its response (Connection: close)
      if (idle !== undefined && !idle.has(socket)) continue; // a request is being received
      this.#close(socket);
    }
  }

  /** Stops sweeping (the server closed, or the drain was forced). */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Destroys every connection (a forced stop). */
  destroyAll(): void {
    this.stop();
    for (const socket of this.#sockets) if (!this.#isUpgraded(socket)) socket.destroy();
  }

  #close(socket: Connection): void {
    this.#closed.add(socket);
    // the server's sockets allow half-open: after our FIN we go on reading (and refusing) until the client closes
    socket.end();
    const linger = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(linger));
  }
}
