import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Level, Logger } from 'pino';
import { kBytes, kSeq, kStart, kWire, type TrackedResponse } from './request-state.js';

/** The level the access log writes at, or undefined when it is off. */
export function accessLogLevel(value: Level | false | 'off' | undefined): Level | undefined {
  return value === false || value === 'off' || value === undefined ? undefined : value;
}

/**
 * A short random prefix for request ids, one per service start: ids read `k3x9a-1f`, unique
 * across restarts and cheap to make (a base36 counter, formatted only when logged).
 */
export function createRequestIdPrefix(): string {
  return Math.floor(Math.random() * 36 ** 5)
    .toString(36)
    .padStart(5, '0');
}

/** The request id of a tracked response, e.g. `k3x9a-1f`. */
export function requestId(prefix: string, res: ServerResponse): string | undefined {
  const seq = (res as TrackedResponse)[kSeq];
  return seq === undefined ? undefined : `${prefix}-${seq.toString(36)}`;
}

/** The path of a request target without its query string (which often carries tokens). */
export function pathOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * The body bytes of a response: its Content-Length when declared, the count the fetch adapter
 * kept, or else what the socket wrote for it minus the header block (chunk framing included).
 */
function bodyBytes(req: IncomingMessage, res: ServerResponse): number | undefined {
  if (req.method === 'HEAD' || res.statusCode === 304 || res.statusCode === 204) return 0;
  const length = res.getHeader('content-length');
  if (length !== undefined) return Number(length);
  const counted = (res as TrackedResponse)[kBytes];
  if (counted !== undefined) return counted;
  const wire = (res as TrackedResponse)[kWire];
  const header = (res as unknown as { _header?: unknown })._header;
  if (wire === undefined || typeof header !== 'string' || !req.socket) return undefined;
  return Math.max(0, req.socket.bytesWritten - wire - Buffer.byteLength(header, 'latin1'));
}

/**
 * Writes the access log line of a finished (or aborted) response:
 * `{ reqId, method, path, status, ms, bytes }`, plus `aborted: true` when the client left first.
 */
export function logAccess(log: Logger, level: Level, prefix: string, res: ServerResponse): void {
  const start = (res as TrackedResponse)[kStart];
  if (start === undefined) return;
  const req = res.req;
  const ms = Math.round((performance.now() - start) * 100) / 100;
  const line = {
    reqId: requestId(prefix, res),
    method: req.method,
    path: pathOf(req.url),
    status: res.statusCode,
    ms,
    bytes: bodyBytes(req, res),
    aborted: res.writableFinished ? undefined : true,
  };
  log[level](line, 'request');
}
