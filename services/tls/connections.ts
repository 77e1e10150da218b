import type { ServerResponse } from 'node:http';
import type { Http2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Server, TLSSocket } from 'node:tls';

/** A TLS connection; Node keeps the HTTP/1.1 response being written in `_httpMessage`. */
type Connection = TLSSocket & { _httpMessage?: ServerResponse | null };

const POLL_MS = 25;

/**
 * The connections of one TLS listener, for a protocol-aware drain: HTTP/2 sessions get a
 * GOAWAY and finish their streams; idle HTTP/1.1 connections close at once, busy ones after
 * their response (sent with `Connection: close` when still possible); upgraded sockets
 * (WebSockets) are left to the upgrade handler that owns them (the hub closes them with 1001).
 */
export class TlsConnections {
  readonly #sockets = new Set<Connection>();
  readonly #sessions = new Set<Http2Session>();
  /** Sockets an http service this listener served before a rebind had taken over. */
  readonly #upgradedBefore = new WeakSet<Connection>();
  #isUpgraded: (socket: Duplex) => boolean;

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

  /** Starts tracking the connections of `server` (an https or http2 secure server). */
  track(server: Server): void {
    server.on('secureConnection', (socket: Connection) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('session', (session: Http2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
  }

  /** How many connections are open (upgraded ones included). */
  get size(): number {
    return this.#sockets.size;
  }

  /** The connections the drain waits for: every open one but upgraded sockets. */
  #pending(): Connection[] {
    return [...this.#sockets].filter((s) => !this.#upgradedBefore.has(s) && !this.#isUpgraded(s));
  }

  /**
   * Drains: asks every connection to finish, then resolves once none is left (upgraded ones
   * aside) — or, when `signal` aborts, destroys every connection and resolves.
   */
  async drain(signal: AbortSignal): Promise<void> {
    for (const session of this.#sessions) if (!session.closed) session.close();
    const settled = new WeakSet<ServerResponse>();
    const sweep = (): void => {
      for (const socket of this.#pending()) {
        if (socket.alpnProtocol === 'h2') continue; // its session closes itself
        const res = socket._httpMessage;
        if (res === null || res === undefined || res.writableFinished) {
          socket.destroySoon();
          continue;
        }
        if (settled.has(res)) continue;
        settled.add(res);
        if (!res.headersSent) res.setHeader('connection', 'close');
        else res.once('finish', () => socket.destroySoon());
      }
    };
    while (this.#pending().length > 0) {
      if (signal.aborted) {
        this.destroyAll();
        return;
      }
      sweep();
      await new Promise<void>((done) => {
        const timer = setTimeout(finish, POLL_MS);
        signal.addEventListener('abort', finish, { once: true });
        function finish(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', finish);
          done();
        }
      });
    }
  }

  /** Destroys every connection, upgraded ones too (a forced stop). */
  destroyAll(): void {
    for (const session of this.#sessions) session.destroy();
    for (const socket of this.#sockets) socket.destroy();
  }
}
