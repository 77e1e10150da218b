import type { Server } from 'node:http';
import type { HttpLimits } from './handle.js';
import type { HttpConfig } from './schema.js';

/** The longest wait between two checks of the header and request timeouts. */
const MAX_CHECK_MS = 1_000;
/** The shortest: checking costs a walk over the connections with a request in progress. */
const MIN_CHECK_MS = 50;

/**
 * How often Node checks the header and request timeouts of an HTTP/1.1 server. Node only
 * notices an expired timeout at a check (its default, every 30 s on http.createServer, made a
 * 60 s headersTimeout bite after up to 90 s): a quarter of the shortest limit, at most a second,
 * so that a slow client is cut within a second of the limit. A check walks, in C++, only the
 * connections with a request in progress, so once a second costs nothing measurable.
 */
export function checkingInterval(headersTimeout: number, requestTimeout: number): number {
  const limits = [headersTimeout, requestTimeout].filter((ms) => ms > 0);
  if (limits.length === 0) return 30_000; // nothing to check: Node's default
  return Math.round(Math.min(MAX_CHECK_MS, Math.max(MIN_CHECK_MS, Math.min(...limits) / 4)));
}

/**
 * The connection limits of an http service as Node's servers take them: the same for its own
 * server and for every TLS listener serving it.
 */
export function httpLimits(config: Pick<HttpConfig, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'maxHeaderSize'>): HttpLimits {
  const { requestTimeout } = config;
  // Node refuses headersTimeout > requestTimeout
  const headersTimeout = requestTimeout > 0 ? Math.min(config.headersTimeout, requestTimeout) : config.headersTimeout;
  return Object.freeze({
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout,
    maxHeaderSize: config.maxHeaderSize,
    connectionsCheckingInterval: checkingInterval(headersTimeout, requestTimeout),
  });
}

/** The symbol under which Node's HTTP server keeps the timer that checks the two timeouts. */
function checkingTimerKey(server: Server): symbol | undefined {
  return Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval');
}

/**
 * Applies limits to a running server, in place. Node reads headersTimeout, requestTimeout and
 * keepAliveTimeout from the server at each check or response, so they apply at once, to the
 * open connections too; maxHeaderSize is given to a connection's parser when it connects, so it
 * applies to new connections (an open keep-alive connection keeps the size it started with).
 * The timer that checks the timeouts is started once by the server: it is restarted at the new
 * interval (Node 20 keeps it under a symbol; where it cannot be found the old interval stays,
 * and the timeouts bite up to a second late).
 */
export function applyServerLimits(server: Server, limits: HttpLimits): void {
  server.headersTimeout = limits.headersTimeout;
  server.requestTimeout = limits.requestTimeout;
  server.keepAliveTimeout = limits.keepAliveTimeout;
  (server as { maxHeaderSize?: number }).maxHeaderSize = limits.maxHeaderSize;
  const key = checkingTimerKey(server);
  const holder = server as unknown as Record<symbol, NodeJS.Timeout | undefined>;
  const timer = key === undefined ? undefined : holder[key];
  const check = (timer as { _onTimeout?: unknown } | undefined)?._onTimeout;
  if (key === undefined || timer === undefined || typeof check !== 'function') return;
  if ((server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval === limits.connectionsCheckingInterval) return;
  clearInterval(timer);
  holder[key] = setInterval(check as () => void, limits.connectionsCheckingInterval).unref();
  (server as { connectionsCheckingInterval?: number }).connectionsCheckingInterval = limits.connectionsCheckingInterval;
}
