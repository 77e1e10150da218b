import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { UpgradeListener } from './handle.js';

const REFUSE_404 = 'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
const REFUSE_500 = 'HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
const REFUSE_503 = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

function noop(): void {}

/** Answers and closes a socket nobody took (HTTP servers allow half-open sockets: destroy it). */
function refuse(socket: Duplex, response: string): void {
  if (socket.destroyed) return;
  socket.end(response, () => socket.destroy());
}

/**
 * The upgrade handlers of an http service and the sockets they took over (which a forced
 * stop destroys: the HTTP server no longer tracks them).
 */
export class Upgrades {
  readonly #listeners: UpgradeListener[] = [];
  readonly #sockets = new Set<Duplex>();
  readonly #servers = new Set<EventEmitter>();
  readonly #log: Logger;
  #closing = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** How many handlers are registered. */
  get size(): number {
    return this.#listeners.length;
  }

  /** Registers a handler; returns the function that unregisters it. */
  add(listener: UpgradeListener): () => void {
    this.#listeners.push(listener);
    this.#sync();
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at < 0) return;
      this.#listeners.splice(at, 1);
      this.#sync();
    };
  }

  /**
   * Routes the 'upgrade' events of a Node HTTP(S) server here for as long as any handler is
   * registered. Node treats an Upgrade request as a plain request when its server has no
   * 'upgrade' listener, so with no handler the app still sees such requests. Returns the
   * function that detaches the server.
   */
  attach(server: EventEmitter): () => void {
    this.#servers.add(server);
    this.#sync();
    return () => {
      this.#servers.delete(server);
      server.off('upgrade', this.dispatch);
    };
  }

  #sync(): void {
    const wanted = this.#listeners.length > 0;
    for (const server of this.#servers) {
      const has = server.listeners('upgrade').includes(this.dispatch);
      if (wanted && !has) server.on('upgrade', this.dispatch);
      else if (!wanted && has) server.off('upgrade', this.dispatch);
    }
  }

  /** Hands an upgrade request to the first handler that takes it (bound: usable as a listener). */
  readonly dispatch = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    // after the upgrade nobody else listens for socket errors; a reset must not crash us
    socket.on('error', noop);
    if (this.#closing) {
      refuse(socket, REFUSE_503);
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    for (const listener of [...this.#listeners]) {
      let taken: boolean | void;
      try {
        taken = listener(req, socket, head);
      } catch (error) {
        this.#log.error({ err: error, path: req.url }, 'upgrade handler failed');
        refuse(socket, REFUSE_500);
        return;
      }
      if (taken !== false) return;
    }
    refuse(socket, REFUSE_404);
  };

  /** Whether `socket` was handed to an upgrade handler and is still open (a WebSocket). */
  has(socket: Duplex): boolean {
    return this.#sockets.has(socket);
  }

  /** Refuses new upgrades from now on (draining). */
  close(): void {
    this.#closing = true;
  }

  /** Accepts upgrades again (a start after a stop). */
  open(): void {
    this.#closing = false;
  }

  /** Destroys every upgraded socket still open (forced stop). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}
