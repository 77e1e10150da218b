import type { Server as HttpServer } from 'node:http';
import type { SecureContext } from 'node:tls';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import type { Figure, Service, ServiceContext } from '../../src/kinds/contract.js';
import { listenOn } from '../../src/net/listen.js';
import type { HttpHandle } from '../http/handle.js';
import { TlsConnections } from './connections.js';
import { updateHttpLimits } from './http-limits.js';
import { prepareCertificates } from './prepare.js';
import { listenRedirect } from './redirect.js';
import { reloadParts, retireRedirect, type TlsParts } from './reload.js';
import type { TlsConfig } from './schema.js';
import { ServedApp } from './served-app.js';
import { createTlsServer, hstsOf } from './tls-server.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';
import type { TlsHandle } from './handle.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { TlsHandle } from './handle.js';
export { DEFAULT_CIPHERS, hstsValue } from './tls-server.js';

function isHttpHandle(value: unknown): value is HttpHandle {
  const handle = value as Partial<HttpHandle> | null | undefined;
  return typeof handle?.handleRequest === 'function' && typeof handle.attachUpgrades === 'function' && typeof handle.intercept === 'function';
}

/**
 * The `tls` kind's service: an HTTPS (optionally HTTP/2) listener running the request handler
 * and upgrade handlers of the http service it serves, with SNI, mutual TLS, hot certificate
 * reload, development and ACME certificates, HSTS and a plain-http redirect listener. A reload
 * changes all of it in place but the listen address, `serves`, `http2` and `handshakeTimeout`;
 * a rebind moves it to a new instance of the served service.
 */
export class TlsService implements Service {
  readonly #ctx: ServiceContext<TlsConfig>;
  readonly #parts: TlsParts;
  #bound: ListenAddress | undefined;
  #stopping: Promise<void> | undefined;
  readonly #handle: TlsHandle;
  /** Handshakes that failed (bad protocol, bad client certificate, timeout) since the instance was built. */
  #handshakeErrors = 0;

  constructor(ctx: ServiceContext<TlsConfig>) {
    this.#ctx = ctx;
    this.#parts = { config: ctx.config, retired: new Set() };
    const service = this;
    this.#handle = {
      address: () => service.#bound,
      get url() {
        return service.address();
      },
      get server() {
        return service.#parts.server;
      },
    };
  }

  /** Loads (or creates, or obtains) the certificates, then listens; resolves once handshakes are accepted. */
  async start(signal: AbortSignal): Promise<void> {
    this.#stopping = undefined;
    const peer = this.#servedPeer();
    try {
      await this.#startAll(peer, signal);
    } catch (error) {
      this.#teardown();
      throw error;
    }
    const { config, certificates } = this.#parts;
    this.#ctx.log.info({ address: this.address(), http2: config.http2, certificates: certificates?.size }, 'listening');
  }

  /** The handle of the http service the config serves; HX_ERR_TLS_SERVES when it is not one. */
  #servedPeer(): HttpHandle {
    const { name } = this.#ctx;
    const serves = this.#parts.config.serves;
    const peer = this.#ctx.peer<unknown>(serves);
    if (isHttpHandle(peer)) return peer;
    throw new HendrixError('HX_ERR_TLS_SERVES', {
      service: name,
      path: ['services', name, 'serves'],
      location: this.#ctx.locate(['serves']),
      message: `\`serves: ${serves}\` names a service that is not of kind http`,
    });
  }

  async #startAll(peer: HttpHandle, signal: AbortSignal): Promise<void> {
    const { name, baseDir, log } = this.#ctx;
    const parts = this.#parts;
    const { config } = parts;
    // the drain refuses a request that crossed the close of its connection, before the app sees it
    const connections: TlsConnections = new TlsConnections((socket) => served.peer.isUpgraded(socket));
    const served: ServedApp = new ServedApp(peer, hstsOf(config), (req, res) => connections.admit(req, res));
    parts.served = served;
    // an in-place reload of the served service changes its limits: the redirect listeners follow
    served.alsoOnLimits((limits) => {
      for (const redirect of [this.#parts.redirect, ...this.#parts.retired]) if (redirect !== undefined) updateHttpLimits(redirect, limits);
    });
    if (config.acme !== undefined) {
      const { AcmeChallenges } = await import('./acme-challenges.js');
      parts.challenges = new AcmeChallenges();
      served.setChallenges(parts.challenges);
    }
    // the redirect listener answers ACME challenges, so it listens before certificates are obtained
    if (config.redirect !== undefined) parts.redirect = await this.#openRedirect(config.redirect.listen);
    signal.throwIfAborted();

    const { certificates, acme } = await prepareCertificates({ ctx: this.#ctx, config, challenges: parts.challenges, signal });
    parts.certificates = certificates;
    parts.acme = acme;
    signal.throwIfAborted();

    const server = createTlsServer({ config, defaultOptions: certificates.table().defaultOptions, sniCallback: this.#sniCallback, listener: served.listener, limits: peer.limits, log });
    parts.server = server;
    server.on('tlsClientError', () => void this.#handshakeErrors++);
    certificates.attach(server);
    connections.track(server);
    parts.connections = connections;
    served.attach(server, config.http2);
    this.#bound = await listenOn(server, config.listen, { service: name, baseDir, location: this.#ctx.locate(['listen']), scheme: 'https' });
    signal.throwIfAborted();
    server.on('error', (error) => this.#ctx.crashed(error));
    if (config.watch) certificates.watch();
    this.#startRenewal();
  }

  /** The server's SNI callback: the certificates in use now (a reload swaps the store). */
  readonly #sniCallback = (servername: string, done: (error: Error | null, context?: SecureContext) => void): void => {
    const certificates = this.#parts.certificates;
    if (certificates === undefined) done(new Error('no certificates'));
    else certificates.sniCallback(servername, done);
  };

  /** Renews the ACME certificate while running, into the certificates in use at the time. */
  #startRenewal(): void {
    const parts = this.#parts;
    parts.acme?.startRenewal((pair) => {
      const certificates = parts.certificates;
      void certificates?.useObtained(pair).catch((error: unknown) => this.#ctx.log.error({ err: error }, 'renewed certificate rejected'));
    });
  }

  async #openRedirect(address: ListenAddress): Promise<HttpServer> {
    const { name, baseDir, log } = this.#ctx;
    const parts = this.#parts;
    const { server, bound } = await listenRedirect(
      {
        // read per request: a reload may change them
        status: () => parts.config.redirect?.status ?? 308,
        httpsPort: () => (this.#bound !== undefined && 'port' in this.#bound ? this.#bound.port : undefined),
        intercept: (req, res) => parts.challenges?.respond(req, res) ?? false,
        limits: parts.served?.peer.limits,
      },
      { address, service: name, baseDir, location: this.#ctx.locate(['redirect', 'listen']) },
    );
    server.on('error', (error) => this.#ctx.crashed(error));
    log.info({ address: bound }, 'redirecting to https');
    return server;
  }

  /**
   * Applies a changed config in place (the kind's canReload said it can): every certificate,
   * key and CA is read and checked first — a broken one rejects with its code at its manifest
   * path and the listener keeps its current ones — then new handshakes get the new
   * certificates and settings, while established connections (HTTP/1.1 keep-alive, HTTP/2
   * sessions, WebSockets) stay open on theirs.
   */
  async reload(next: unknown, signal: AbortSignal): Promise<void> {
    const changed = await reloadParts(this.#parts, next as TlsConfig, {
      ctx: this.#ctx,
      openRedirect: (address) => this.#openRedirect(address),
      startRenewal: () => this.#startRenewal(),
    }, signal);
    this.#ctx.log.info({ changed, certificates: this.#parts.certificates?.size }, 'reloaded');
  }

  /**
   * Moves the request handler, the upgrade routing, the limits and the ACME challenge
   * interceptor to the new instance of the served http service (`ctx.peer(serves)`); what was
   * registered on the old one is removed. Requests in flight finish on the old app.
   */
  async rebind(peer: string, signal: AbortSignal): Promise<void> {
    const parts = this.#parts;
    if (peer !== parts.config.serves || parts.served === undefined) return;
    const handle = this.#servedPeer();
    signal.throwIfAborted();
    parts.served.rebind(handle, parts.connections);
    for (const redirect of [parts.redirect, ...parts.retired]) if (redirect !== undefined) updateHttpLimits(redirect, handle.limits);
    this.#ctx.log.info({ peer }, 'rebound');
  }

  /** Stops accepting, drains every connection (upgraded ones are their owner's), closes the redirect listener. */
  stop(signal: AbortSignal): Promise<void> {
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  async #stopAll(signal: AbortSignal): Promise<void> {
    const { server, redirect, connections, retired } = this.#parts;
    this.#parts.acme?.stop();
    this.#parts.certificates?.close();
    try {
      if (redirect?.listening) retireRedirect(this.#parts, redirect);
      if (server?.listening) server.close();
      if (connections !== undefined) {
        const inflight = connections.size;
        if (inflight) this.#ctx.log.info({ connections: inflight }, 'draining');
        // retired (a rolling reload), other workers take the next connections: a last call first
        await connections.drain(signal, { lastCall: this.#ctx.cluster?.retiring === true });
      }
      for (const old of [redirect, ...retired]) old?.closeAllConnections();
      // drained: what is left is upgraded sockets, which their owner (the hub) closes
      this.#parts.connections = undefined;
    } finally {
      this.#teardown();
    }
  }

  #teardown(): void {
    const parts = this.#parts;
    parts.served?.detach();
    parts.acme?.stop();
    parts.certificates?.close();
    if (parts.server?.listening) parts.server.close();
    parts.connections?.destroyAll();
    for (const redirect of [parts.redirect, ...parts.retired]) {
      if (redirect?.listening) redirect.close();
      redirect?.closeAllConnections();
    }
    parts.retired.clear();
    Object.assign(parts, { served: undefined, server: undefined, connections: undefined, certificates: undefined, acme: undefined, challenges: undefined, redirect: undefined });
    this.#bound = undefined;
  }

  /** The bound address of the redirect listener, when there is one. */
  redirectAddress(): ListenAddress | undefined {
    const address = this.#parts.redirect?.address();
    if (address === null || address === undefined) return undefined;
    return typeof address === 'string' ? { path: address } : { host: address.address, port: address.port };
  }

  /**
   * Its connections open now and its failed handshakes. The requests it carries are counted by
   * the http service it serves: they run through that service's pipeline.
   */
  figures(): readonly Figure[] {
    return [
      { name: 'tls_connections', type: 'gauge', help: 'TLS connections open now (upgraded ones included).', value: this.#parts.connections?.size ?? 0 },
      { name: 'tls_handshake_errors_total', type: 'counter', help: 'TLS handshakes that failed (protocol, client certificate, timeout).', value: this.#handshakeErrors },
    ];
  }

  /** The bound address as an https URL. */
  address(): string | undefined {
    return this.#bound === undefined ? undefined : formatListen(this.#bound, 'https');
  }

  /** What dependents get from `ctx.peer(name)`. */
  handle(): TlsHandle {
    return this.#handle;
  }
}
