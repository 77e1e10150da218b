import type { Http2Session } from 'node:http2';
import type { Server as TlsServer } from 'node:tls';
import type { HttpLimits } from '../http/handle.js';

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
 * How many streams Node has open on a session, or undefined if this Node hides it. Node keeps
 * them in an internal map and offers no public count; it is read at an idle timeout only,
 * never per request (counting 'stream' and 'close' events would cost every request).
 */
function openStreams(session: Http2Session): number | undefined {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === 'state');
  const streams = key === undefined ? undefined : (session as unknown as Record<symbol, { streams?: { size?: unknown } } | undefined>)[key]?.streams;
  // not `instanceof Map`: Node's internal SafeMap has a null-prototype chain
  return typeof streams?.size === 'number' ? streams.size : undefined;
}

/**
 * An idle HTTP/2 session. With no stream open nothing is lost: destroy it (nghttp2 sends a
 * GOAWAY and the connection closes) — a graceful close() would wait for the header block a
 * slow client never finishes, which nghttp2 counts as a stream. With streams open (an app
 * answering slowly): GOAWAY, they finish, then the session closes.
 */
function onSessionIdle(this: Http2Session): void {
  if (this.destroyed) return;
  if (openStreams(this) === 0) this.destroy();
  else this.close();
}

/**
 * Applies the served http service's limits to a TLS listener's server, before it listens, so
 * that a slow client meets the same limits over TLS as over plain http.
 *
 * - HTTP/1.1 (https, and the allowHTTP1 side of an http2 server): Node reads headersTimeout,
 *   requestTimeout, keepAliveTimeout, maxHeaderSize and the checking interval from the server
 *   object; http2.createSecureServer takes none of them as options (it sets its own defaults:
 *   60 s, 300 s, checked every 30 s), so they are set as properties.
 * - HTTP/2 has no header timeout: a request is handed over only once its header block is whole,
 *   and a client that stops halfway sends no more frames. The equivalent is the session's idle
 *   timeout (any frame either way restarts it), set to headersTimeout: a session silent that
 *   long gets a GOAWAY — streams in flight finish, and one with none closes at once. Node's
 *   http2 servers have no idle timeout by default (`timeout: 0`).
 */
export function applyHttpLimits(server: TlsServer, limits: HttpLimits, http2: boolean): void {
  const target = server as TlsServer & Http1Limited;
  target.keepAliveTimeout = limits.keepAliveTimeout;
  if (!http2) return; // https.createServer took the rest as options (httpsLimitOptions)
  Object.assign(target, httpsLimitOptions(limits));
  const idle = limits.headersTimeout;
  if (idle <= 0) return;
  server.on('session', (session: Http2Session) => {
    session.setTimeout(idle);
    session.on('timeout', onSessionIdle);
  });
}
