import type { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CrosstownStats, ListenAddress } from '../../src/index.js';

/** An upgrade (WebSocket) handler; returning `false` declines the request. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean | void;

/** A handler asked before static folders and the app; returns true when it answered. */
export type RequestInterceptor = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The connection limits of an http service, in milliseconds and bytes, as Node's servers take
 * them; a TLS listener serving the service applies them to its own connections.
 */
export interface HttpLimits {
  /** How long a client may take to send the request headers (never above requestTimeout). */
  readonly headersTimeout: number;
  /** How long a client may take to send the whole request (0: no limit). */
  readonly requestTimeout: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeout: number;
  /** The largest request header block accepted. */
  readonly maxHeaderSize: number;
  /** How often the two timeouts are checked: often enough that they bite within a second of their value. */
  readonly connectionsCheckingInterval: number;
}

/**
 * What an http service gives its dependents through `ctx.peer(name)`: its address, its
 * server, the composed request handler (static folders + app) for other servers to run (a
 * TLS listener serving this app), and a way to take over upgrade requests (a WebSocket hub).
 */
export interface HttpHandle {
  /** The bound address (`{ host, port }` or `{ path }` for a unix socket); undefined until listening. */
  address(): ListenAddress | undefined;
  /** The bound address as text, e.g. `http://127.0.0.1:8000` or `unix:/run/app.sock`. */
  readonly url: string | undefined;
  /** The Node HTTP server while the service runs. */
  readonly server: Server | undefined;
  /** The service's connection limits, for other servers running its handler (a TLS listener). */
  readonly limits: HttpLimits;
  /** The composed static + app handler; draining, the access log and error handling included. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  /** Hands an upgrade request to the registered upgrade listeners (every one declining: 404). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Routes another server's (a TLS listener's) 'upgrade' events to the registered upgrade
   * listeners while there are any; without them Node passes Upgrade requests to the request
   * handler as plain requests. Returns the function that detaches the server.
   */
  attachUpgrades(server: EventEmitter): () => void;
  /**
   * Registers an upgrade (WebSocket) handler; returns the function that unregisters it. A
   * handler that returns `false` declines; upgrades every handler declines get 404 and close.
   */
  onUpgrade(listener: UpgradeListener): () => void;
  /**
   * Adds a handler asked before the static folders and the app (a TLS listener answering ACME
   * http-01 challenges); it returns true when it answered. Returns the function that removes it.
   */
  intercept(interceptor: RequestInterceptor): () => void;
  /** Whether `socket` was taken over by an upgrade handler (so its owner, not the server, closes it). */
  isUpgraded(socket: Duplex): boolean;
  /**
   * Listens to the limits an in-place reload changed (a TLS listener serving the service applies
   * them to its own connections); returns the function that stops listening.
   */
  onLimits(listener: (limits: HttpLimits) => void): () => void;
  /** The service's crosstown runtime: work scheduled after responses (see docs/crosstown.md). */
  readonly crosstown: {
    /** Counts of waiting, queued, running, done, failed, dropped, skipped and replayed tasks. */
    stats(): CrosstownStats;
  };
}
