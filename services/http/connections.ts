import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DRAIN_POLL_MS, LAST_CALL_MS, closableNow, closeCleanly, idleSocketsOf } from '../../src/net/drain-close.js';

/**
 * The connections of one http server, for a drain that loses no request (src/net/drain-close.ts
 * says how a keep-alive connection is closed without losing one): a request arriving on a
 * connection the drain closed is refused unprocessed (the pipeline asks closedByDrain()). When
 * the process is retired, connections get a last call first.
 */
export class HttpConnections {
  readonly #sockets = new Set<Socket>();
  readonly #closed = new WeakSet<Duplex>();
  #idle: (() => Set<Duplex | null | undefined> | undefined) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastCallEnds = 0;
  #isUpgraded: (socket: Duplex) => boolean = () => false;

  /** Tracks the connections of `server` (before it listens). */
  track(server: Server): void {
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#idle = idleSocketsOf(server);
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
    this.#timer ??= setInterval(() => this.sweep(), DRAIN_POLL_MS);
    // two turns of the event loop: a poll phase in between reads what has already arrived
    setImmediate(() => setImmediate(() => this.sweep()));
  }

  /** Closes (cleanly) every connection that is idle now. */
  sweep(): void {
    if (this.#timer === undefined || performance.now() < this.#lastCallEnds) return;
    const idle = this.#idle?.();
    for (const socket of this.#sockets) {
      if (this.#closed.has(socket) || this.#isUpgraded(socket) || socket.destroyed) continue;
      if (closableNow(socket, idle)) closeCleanly(socket, this.#closed);
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
}
