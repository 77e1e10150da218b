import { createServer as createHttpsServer } from 'node:https';
import { createSecureServer } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SecureContext, SecureContextOptions, Server as TlsServer, TlsOptions, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { HttpLimits } from '../http/handle.js';
import { httpsLimitOptions } from './http-limits.js';
import type { TlsConfig } from './schema.js';

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

/** The Strict-Transport-Security value a config asks for, or undefined for none. */
export function hstsOf(config: TlsConfig): string | undefined {
  return config.hsts === false ? undefined : hstsValue(config.hsts);
}

/** The TLS options every secure context of a listener shares (versions, ciphers). */
export function sharedOptions(config: TlsConfig): SecureContextOptions {
  return { minVersion: config.minVersion, ciphers: config.ciphers ?? DEFAULT_CIPHERS, honorCipherOrder: true, ecdhCurve: 'auto' };
}

/**
 * Whether the listener asks clients for a certificate, and refuses those without a valid one.
 * A tls.Server reads both from its own properties for every new connection, so a reload sets
 * them on the running server.
 */
export function clientAuthOptions(config: TlsConfig): { requestCert: boolean; rejectUnauthorized: boolean } {
  return { requestCert: config.clientAuth !== undefined, rejectUnauthorized: config.clientAuth?.required ?? false };
}

/** A request listener of the https (or http2 compatibility) server. */
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** What a listener's server is built from. */
export interface TlsServerOptions {
  readonly config: TlsConfig;
  /** The default certificate's context options (the SNI table's `defaultOptions`). */
  readonly defaultOptions: SecureContextOptions;
  /** Picks the context of a server name; must read the current certificates (reloads swap them). */
  readonly sniCallback: (servername: string, done: (error: Error | null, context?: SecureContext) => void) => void;
  readonly listener: RequestListener;
  /** The served http service's limits. */
  readonly limits: HttpLimits;
  readonly log: Logger;
}

/**
 * Builds the https server (or, with `http2`, the http2 secure server that also speaks
 * HTTP/1.1) of a listener; it listens nowhere yet.
 */
export function createTlsServer(options: TlsServerOptions): TlsServer {
  const { config, log } = options;
  const tls: TlsOptions = {
    ...options.defaultOptions,
    handshakeTimeout: config.handshakeTimeout,
    ...clientAuthOptions(config),
    // always a callback, even for one certificate: a reload may give the listener several
    SNICallback: options.sniCallback,
  };
  const server: TlsServer = config.http2
    ? createSecureServer({ ...tls, allowHTTP1: true }, options.listener as never)
    : createHttpsServer({ ...tls, ALPNProtocols: ['http/1.1'], ...httpsLimitOptions(options.limits) }, options.listener);
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    // a failed handshake (old protocol, bad client certificate, a port scanner) is the client's problem
    log.debug({ code: error.code, reason: error.message, remote: socket.remoteAddress }, 'handshake failed');
  });
  return server;
}
