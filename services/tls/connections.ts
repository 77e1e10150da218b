import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Server, TLSSocket } from 'node:tls';
import { DRAIN_POLL_MS, LAST_CALL_MS, closableNow, closeCleanly, idleSocketsOf } from '../../src/net/drain-close.js';

/** A TLS connection; Node keeps the HTTP/1.1 response being written in `_httpMessage`. */
type Connection = TLSSocket & { _httpMessage?: ServerResponse | null };

/**
 * The connections of one TLS listener, for a drain that loses no request.
 *
 * HTTP/1.1: a keep-alive connection may be closed by the server only between requests, and a
 * client may be sending its next one at that very moment; Node's `server.close()` destroys idle
 * connections at once (disabled on the listener's server: tls-server.ts), so a request already
 * in the socket, or one crossing the close, is lost — or processed and its answer lost. Here a
 * connection is closed as src/net/drain-close.ts says (close_notify and FIN, only between
 * requests), and what still arrives is refused unprocessed (admit()). When the process is retired, connections get a last call first.
 *
 * HTTP/2: a GOAWAY (`session.close()`) names the last stream the listener processes; streams up
 * to it finish, and the client opens no new one. A stream that crossed the GOAWAY never reaches
 * the app: Node refuses every stream that arrives once close() was called (REFUSED_STREAM, even
 * in the moment between close() and nghttp2 sending the GOAWAY), and the client refuses its own
 * streams above the GOAWAY's last id — either way it may send them again (RFC 9113 §8.7).
 *
 * Upgraded sockets (WebSockets) are left to the upgrade handler that owns them (the hub closes
 * them with 1001 or 1012).
 */
export class TlsConnections {
  readonly #sockets = new Set<Connection>();
  readonly #sessions = new Set<Http2Session>();
  /** Sockets the drain closed: a request still arriving on one is refused. */
  readonly #closed = new WeakSet<Duplex>();
  /** Sockets an http service this listener served before a rebind had taken over. */
  readonly #upgradedBefore = new WeakSet<Connection>();
  #isUpgraded: (socket: Duplex) => boolean;
  #idle: (() => Set<Duplex | null | undefined> | undefined) | undefined;
  #draining = false;

  constructor(isUpgraded: (socket: Duplex) => boolean) {
    this.#isUpgraded = isUpgraded;
  }

  /**
   * Asks another http service which sockets it took over (the served service was replaced):
   * those the previous one took stay its handlers' (a hub closes them), not the drain's.
   */
  setUpgradedCheck(isUpgraded: (socket: Duplex) => boolean): void {
    for (const socket of this.#sockets) if (this.#isUpgraded(socket)) this.#upgradedBefore.add(socket);
    this.#isUpgraded = isUpgraded;
  }

  /** Starts tracking the connections of `server` (an https or http2 secure server), before it listens. */
  track(server: Server): void {
    // server.close() would destroy idle HTTP/1.1 connections at once: the drain closes them itself
    (server as Server & { closeIdleConnections?: () => void }).closeIdleConnections = () => undefined;
    server.on('secureConnection', (socket: Connection) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('session', (session: Http2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      if (this.#draining) this.#goAway(session); // its handshake ended after the drain began
    });
    this.#idle = idleSocketsOf(server);
  }

  /** How many connections are open (upgraded ones included). */
  get size(): number {
    return this.#sockets.size;
  }

  /**
   * Whether a request may reach the app (called for every request, before the app). While
   * draining, an HTTP/1.1 request on a connection the drain closed is refused unprocessed, with
   * no byte of an answer; other HTTP/1.1 answers carry `Connection: close`.
   */
  admit(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | object): boolean {
    if (!this.#draining || req.httpVersionMajor === 2) return true;
    if (this.#closed.has(req.socket as Duplex)) {
      (req as IncomingMessage).resume();
      return false;
    }
    if (!(res as ServerResponse).headersSent) (res as ServerResponse).setHeader('connection', 'close');
    return true;
  }

  /** The connections the drain waits for: every open one but upgraded sockets. */
  #pending(): Connection[] {
    return [...this.#sockets].filter((s) => !this.#upgradedBefore.has(s) && !this.#isUpgraded(s));
  }

  /**
   * Drains: sends every HTTP/2 session a GOAWAY, answers with `Connection: close` from now on,
   * and closes HTTP/1.1 connections as they become idle — at once (once the event loop has read
   * what already arrived), or, `lastCall`, after LAST_CALL_MS. Resolves once no connection is
   * left (upgraded ones aside) — or, when `signal` aborts, destroys every connection and resolves.
   */
  async drain(signal: AbortSignal, options: { lastCall: boolean }): Promise<void> {
    this.#draining = true;
    for (const session of this.#sessions) this.#goAway(session);
    for (const socket of this.#sockets) {
      const res = socket._httpMessage;
      if (res && !res.headersSent) res.setHeader('connection', 'close');
    }
    const lastCallEnds = options.lastCall ? performance.now() + LAST_CALL_MS : 0;
    // two turns of the event loop: a poll phase in between reads what has already arrived
    await new Promise((r) => setImmediate(() => setImmediate(r)));
    while (this.#pending().length > 0) {
      if (signal.aborted) {
        this.destroyAll();
        return;
      }
      if (performance.now() >= lastCallEnds) this.#sweep();
      await new Promise<void>((done) => {
        const timer = setTimeout(finish, DRAIN_POLL_MS);
        signal.addEventListener('abort', finish, { once: true });
        function finish(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', finish);
          done();
        }
      });
    }
  }

  /** Closes (cleanly) every HTTP/1.1 connection that is idle now. */
  #sweep(): void {
    const idle = this.#idle?.();
    for (const socket of this.#pending()) {
      if (socket.alpnProtocol === 'h2' || this.#closed.has(socket) || socket.destroyed) continue;
      if (closableNow(socket, idle)) closeCleanly(socket, this.#closed);
    }
  }

  /** GOAWAY: its streams finish, the client opens no new one; the session closes once they are done. */
  #goAway(session: Http2Session): void {
    if (!session.closed && !session.destroyed) session.close();
  }

  /** Destroys every connection, upgraded ones too (a forced stop). */
  destroyAll(): void {
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }
}
