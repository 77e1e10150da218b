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
