import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer } from 'node:http2';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import type { SecureContextOptions, Server as TlsServer, TlsOptions, TLSSocket } from 'node:tls';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import type { Service, ServiceContext } from '../../src/kinds/contract.js';
import { listenOn } from '../../src/net/listen.js';
import type { HttpHandle, HttpLimits } from '../http/handle.js';
import type { AcmeChallenges } from './acme-challenges.js';
import type { AcmeManager } from './acme.js';
import { TlsConnections } from './connections.js';
import { applyHttpLimits, httpsLimitOptions } from './http-limits.js';
import { createRedirectServer } from './redirect.js';
import type { TlsConfig } from './schema.js';
import { TlsCertificates } from './tls-certificates.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';
import type { TlsHandle } from './handle.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { TlsHandle } from './handle.js';

/**
 * TLS 1.2 suites with forward secrecy and AEAD only (Mozilla's "intermediate" list without
 * DHE); TLS 1.3 suites are always forward-secret. Node's default list also admits RSA key
 * exchange and CBC suites.
 */
export const DEFAULT_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Formats the Strict-Transport-Security value of an `hsts` config. */
export function hstsValue(hsts: Exclude<TlsConfig['hsts'], false>): string {
  return [`max-age=${Math.floor(hsts.maxAge / 1000)}`, hsts.includeSubDomains ? 'includeSubDomains' : '', hsts.preload ? 'preload' : ''].filter(Boolean).join('; ');
}

function isHttpHandle(value: unknown): value is HttpHandle {
  const handle = value as Partial<HttpHandle> | null | undefined;
  return typeof handle?.handleRequest === 'function' && typeof handle.attachUpgrades === 'function' && typeof handle.intercept === 'function';
}

/**
 * The `tls` kind's service: an HTTPS (optionally HTTP/2) listener running the request handler
 * and upgrade handlers of the http service it serves, with SNI, mutual TLS, hot certificate
 * reload, development and ACME certificates, HSTS and a plain-http redirect listener.
 */
export class TlsService implements Service {
  readonly #ctx: ServiceContext<TlsConfig>;
  #server: TlsServer | undefined;
  #redirect: HttpServer | undefined;
  #bound: ListenAddress | undefined;
  #connections: TlsConnections | undefined;
  #certificates: TlsCertificates | undefined;
  #acme: AcmeManager | undefined;
  #cleanups: (() => void)[] = [];
  #stopping: Promise<void> | undefined;
  readonly #handle: TlsHandle;

  constructor(ctx: ServiceContext<TlsConfig>) {
    this.#ctx = ctx;
    const service = this;
    this.#handle = {
      address: () => service.#bound,
      get url() {
        return service.address();
      },
      get server() {
        return service.#server;
      },
    };
  }

  /** Loads (or creates, or obtains) the certificates, then listens; resolves once handshakes are accepted. */
  async start(signal: AbortSignal): Promise<void> {
    this.#stopping = undefined;
    const { config, log, name } = this.#ctx;
    const peer = this.#ctx.peer<unknown>(config.serves);
    if (!isHttpHandle(peer)) {
      throw new HendrixError('HX_ERR_TLS_SERVES', {
        service: name,
        path: ['services', name, 'serves'],
        location: this.#ctx.locate(['serves']),
        message: `\`serves: ${config.serves}\` names a service that is not of kind http`,
      });
    }
    try {
      await this.#startAll(peer, signal);
    } catch (error) {
      this.#teardown();
      throw error;
    }
    log.info({ address: this.address(), http2: config.http2, certificates: this.#certificates?.size }, 'listening');
  }

  async #startAll(peer: HttpHandle, signal: AbortSignal): Promise<void> {
    const { config, name, baseDir } = this.#ctx;
    const stateDir = resolve(baseDir, config.stateDir);
    let challenges: AcmeChallenges | undefined;
    if (config.acme !== undefined) {
      const { AcmeChallenges } = await import('./acme-challenges.js');
      challenges = new AcmeChallenges();
      const answering = challenges;
      this.#cleanups.push(peer.intercept((req, res) => answering.respond(req, res)));
    }
    // the redirect listener answers ACME challenges, so it listens before certificates are obtained
    if (config.redirect !== undefined) await this.#listenRedirect(challenges, peer.limits);
    signal.throwIfAborted();

    const certificates = new TlsCertificates({ ctx: this.#ctx, stateDir, shared: this.#sharedOptions() });
    this.#certificates = certificates;
    await certificates.loadClientCa();
    if (config.acme !== undefined && challenges !== undefined) {
      const { AcmeManager } = await import('./acme.js');
      const acme = new AcmeManager({ config: config.acme, baseDir, stateDir, name, challenges, log: this.#ctx.log, location: this.#ctx.locate(['acme']) });
      this.#acme = acme;
      await certificates.useObtained(await acme.ensure(signal));
    } else {
      await certificates.load();
    }
    signal.throwIfAborted();

    const server = this.#createServer(peer, certificates);
    this.#server = server;
    certificates.attach(server);
    const connections = new TlsConnections((socket) => peer.isUpgraded(socket));
    connections.track(server);
    this.#connections = connections;
    this.#cleanups.push(peer.attachUpgrades(server));
    this.#bound = await listenOn(server, config.listen, { service: name, baseDir, location: this.#ctx.locate(['listen']), scheme: 'https' });
    signal.throwIfAborted();
    server.on('error', (error) => this.#ctx.crashed(error));
    if (config.watch) certificates.watch();
    this.#acme?.startRenewal((pair) => void certificates.useObtained(pair).catch((error: unknown) => this.#ctx.log.error({ err: error }, 'renewed certificate rejected')));
  }

  /** The TLS options every secure context and the server share. */
  #sharedOptions(): SecureContextOptions {
    const { config } = this.#ctx;
    return { minVersion: config.minVersion, ciphers: config.ciphers ?? DEFAULT_CIPHERS, honorCipherOrder: true, ecdhCurve: 'auto' };
  }

  #createServer(peer: HttpHandle, certificates: TlsCertificates): TlsServer {
    const { config, log } = this.#ctx;
    const table = certificates.table();
    const options: TlsOptions = {
      ...table.defaultOptions,
      handshakeTimeout: config.handshakeTimeout,
      requestCert: config.clientAuth !== undefined,
      rejectUnauthorized: config.clientAuth?.required ?? false,
      // one certificate needs no callback; several are picked by name, and a reload swaps the table
      ...(certificates.size > 1 ? { SNICallback: certificates.sniCallback } : {}),
    };
    const hsts = config.hsts === false ? undefined : hstsValue(config.hsts);
    const handle = peer.handleRequest;
    const listener =
      hsts === undefined
        ? handle
        : (req: IncomingMessage, res: ServerResponse): void => {
            res.setHeader('strict-transport-security', hsts);
            handle(req, res);
          };
    // the served http service's limits apply to this listener's connections too
    const server: TlsServer = config.http2
      ? createSecureServer({ ...options, allowHTTP1: true }, listener as never)
      : createHttpsServer({ ...options, ALPNProtocols: ['http/1.1'], ...httpsLimitOptions(peer.limits) }, listener);
    applyHttpLimits(server, peer.limits, config.http2);
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      // a failed handshake (old protocol, bad client certificate, a port scanner) is the client's problem
      log.debug({ code: error.code, reason: error.message, remote: socket.remoteAddress }, 'handshake failed');
    });
    return server;
  }

  async #listenRedirect(challenges: AcmeChallenges | undefined, limits: HttpLimits): Promise<void> {
    const { config, name, baseDir } = this.#ctx;
    const redirect = config.redirect;
    if (redirect === undefined) return;
    const server = createRedirectServer({
      status: redirect.status,
      httpsPort: () => (this.#bound !== undefined && 'port' in this.#bound ? this.#bound.port : undefined),
      intercept: challenges === undefined ? undefined : (req, res) => challenges.respond(req, res),
      limits,
    });
    this.#redirect = server;
    const bound = await listenOn(server, redirect.listen, { service: name, baseDir, location: this.#ctx.locate(['redirect', 'listen']), role: 'redirect' }).catch((error: unknown) => {
      if (error instanceof HendrixError) throw new HendrixError(error.code, { service: name, path: ['services', name, 'redirect', 'listen'], location: error.location, message: error.message, cause: error.cause });
      throw error;
    });
    server.on('error', (error) => this.#ctx.crashed(error));
    this.#ctx.log.info({ address: formatListen(bound) }, 'redirecting to https');
  }

  /** Stops accepting, drains every connection (upgraded ones are their owner's), closes the redirect listener. */
  stop(signal: AbortSignal): Promise<void> {
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  async #stopAll(signal: AbortSignal): Promise<void> {
    const server = this.#server;
    const redirect = this.#redirect;
    const connections = this.#connections;
    this.#acme?.stop();
    this.#certificates?.close();
    try {
      if (redirect?.listening) {
        redirect.close();
        redirect.closeIdleConnections();
      }
      if (server?.listening) server.close();
      if (connections !== undefined) {
        const inflight = connections.size;
        if (inflight) this.#ctx.log.info({ connections: inflight }, 'draining');
        await connections.drain(signal);
      }
      redirect?.closeAllConnections();
      // drained: what is left is upgraded sockets, which their owner (the hub) closes
      this.#connections = undefined;
    } finally {
      this.#teardown();
    }
  }

  #teardown(): void {
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
    this.#acme?.stop();
    this.#acme = undefined;
    this.#certificates?.close();
    this.#certificates = undefined;
    if (this.#server?.listening) this.#server.close();
    this.#connections?.destroyAll();
    if (this.#redirect?.listening) this.#redirect.close();
    this.#redirect?.closeAllConnections();
    this.#server = undefined;
    this.#redirect = undefined;
    this.#connections = undefined;
    this.#bound = undefined;
  }

  /** The bound address of the redirect listener, when there is one. */
  redirectAddress(): ListenAddress | undefined {
    const address = this.#redirect?.address();
    if (address === null || address === undefined) return undefined;
    return typeof address === 'string' ? { path: address } : { host: address.address, port: address.port };
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
