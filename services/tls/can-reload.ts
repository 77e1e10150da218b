import type { PathSegment } from '../../src/errors/hendrix-error.js';

/**
 * The fields a running tls listener cannot change: `listen` (another socket), `serves` (another
 * edge of the graph), `http2` (https and http2 servers are different classes) and
 * `handshakeTimeout` (Node reads it once, when the server is built). A change to any of them
 * replaces the service; the new instance takes the listening sockets over, so no connection is
 * refused and the old one's connections drain.
 */
export const REPLACED_FIELDS: ReadonlySet<string> = new Set(['listen', 'serves', 'http2', 'handshakeTimeout']);

/**
 * Whether a change to a tls service applies in place: anything but {@link REPLACED_FIELDS}.
 * Changed files (certificates, keys, CAs) always do: a reload reads them all again.
 */
export function canReloadTls(change: { fields: readonly (readonly PathSegment[])[] }): boolean {
  return change.fields.every((path) => !REPLACED_FIELDS.has(String(path[0])));
}
