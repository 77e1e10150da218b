import type { Server as TlsServer } from 'node:tls';
import type { HttpLimits } from '../http/handle.js';
import { IdleSessions } from './h2-idle.js';

/** The HTTP/1.1 limits Node reads from a server object (https, or http2 with allowHTTP1). */
interface Http1Limited {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxHeaderSize?: number;
  connectionsCheckingInterval: number;
}

/** Options of https.createServer that carry the served http service's limits. */
export function httpsLimitOptions(limits: HttpLimits): Omit<Http1Limited, 'keepAliveTimeout'> {
  return {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    maxHeaderSize: limits.maxHeaderSize,
    connectionsCheckingInterval: limits.connectionsCheckingInterval,
  };
}

/**
 * Applies the served http service's limits to a TLS listener's server, before it listens, so
 * that a slow client meets the same limits over TLS as over plain http. Returns the function
 * that stops applying them to new HTTP/2 sessions (a rebind to another http service applies
 * that one's).
 *
 * - HTTP/1.1 (https, and the allowHTTP1 side of an http2 server): Node reads headersTimeout,
 *   requestTimeout, keepAliveTimeout, maxHeaderSize and the checking interval from the server
 *   object; http2.createSecureServer takes none of them as options (it sets its own defaults:
 *   60 s, 300 s, checked every 30 s), so they are set as properties.
 * - HTTP/2 has no header timeout: a session with no stream open that has received nothing for
 *   headersTimeout is ended (see IdleSessions), swept twice as often as HTTP/1.1 is checked.
 */
export function applyHttpLimits(server: TlsServer, limits: HttpLimits, http2: boolean): () => void {
  const target = server as TlsServer & Http1Limited;
  target.keepAliveTimeout = limits.keepAliveTimeout;
  if (!http2) return () => undefined; // https.createServer took the rest as options (httpsLimitOptions)
  Object.assign(target, httpsLimitOptions(limits));
  if (limits.headersTimeout <= 0) return () => undefined;
  // half the checking interval: a silent session is cut within a second of the limit
  const idle = new IdleSessions(limits.headersTimeout, Math.max(25, Math.round(limits.connectionsCheckingInterval / 2))).add;
  server.on('session', idle);
  return () => void server.off('session', idle);
}

/**
 * Gives a running server (the TLS listener or its redirect listener) another http service's
 * limits, after a rebind: Node reads them per connection and per check, so new connections and
 * the next checks use them. The checking interval is a timer started with the server: it stays.
 */
export function updateHttpLimits(server: object, limits: HttpLimits): void {
  const { connectionsCheckingInterval: _interval, ...limitsNow } = httpsLimitOptions(limits);
  Object.assign(server, limitsNow, { keepAliveTimeout: limits.keepAliveTimeout });
}
