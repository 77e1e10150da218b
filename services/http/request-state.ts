/**
 * Per-response bookkeeping kept on the Node response itself under symbols: cheaper than a
 * WeakMap or a closure per request, and invisible to the app.
 */

/** The request's sequence number (formatted into a request id only when something logs). */
export const kSeq: unique symbol = Symbol('hendrix.http.seq');
/** `performance.now()` when the request arrived; set only when the access log or `metrics` is on. */
export const kStart: unique symbol = Symbol('hendrix.http.start');
/** Body bytes counted by the fetch adapter for a response without Content-Length. */
export const kBytes: unique symbol = Symbol('hendrix.http.bytes');

/** The socket's bytesWritten when the request arrived; set only when the access log is enabled. */
export const kWire: unique symbol = Symbol('hendrix.http.wire');

/** A Node response carrying the bookkeeping fields. */
export interface TrackedResponse {
  [kSeq]?: number;
  [kStart]?: number;
  [kBytes]?: number;
  [kWire]?: number;
}
