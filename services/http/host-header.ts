import type { IncomingHttpHeaders } from 'node:http';

/**
 * Whether an HTTP/1.x request's header block has more than one Host field line, which RFC 9112
 * §3.2 requires a server to answer with 400: two names for one request let a proxy route by one
 * and the app by the other. Node keeps the first and drops the rest from `req.headers`, so the
 * raw list is read: a walk over the names comparing only those four characters long, cheaper
 * than building `req.headers` (which Node does lazily, on first use) or `headersDistinct`.
 */
export function hasDuplicateHost(raw: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/**
 * Whether an HTTP/2 request names two different hosts: a Host field that differs from
 * `:authority` (RFC 9113 §8.3.1: such a request should be treated as malformed). Two Host
 * fields, or two `:authority`, never get this far: nghttp2 resets the stream.
 */
export function hasConflictingAuthority(headers: IncomingHttpHeaders): boolean {
  const host = headers.host;
  if (host === undefined) return false;
  const authority = headers[':authority'];
  return typeof authority === 'string' && authority !== host && authority.toLowerCase() !== host.toLowerCase();
}
