import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { HendrixError, type SourceLocation } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import { listenOn } from '../../src/net/listen.js';
import type { HttpLimits } from '../http/handle.js';
import { httpsLimitOptions } from './http-limits.js';

/** Host header values we redirect to: a name or IPv4 address, or a bracketed IPv6 one, with an optional port. */
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/;

/** What the redirect listener needs to know. */
export interface RedirectOptions {
  /** The redirect status (308 by default in the schema), read per request: a reload may change it. */
  status(): number;
  /** The port of the TLS listener (left out of the URL when 443). */
  httpsPort(): number | undefined;
  /** Asked first: answers ACME http-01 challenges; true when it answered. */
  readonly intercept?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  /** The served http service's limits (its keep-alive aside: a redirected client does not stay). */
  readonly limits?: HttpLimits | undefined;
}

/**
 * Whether the request has more than one Host field line (Node keeps the first in req.headers):
 * such a request is refused (RFC 9112 §3.2) rather than redirected to one of its hosts. The
 * http kind's pipeline has the same check; a kind does not import another's code.
 */
function hasDuplicateHost(raw: readonly string[]): boolean {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).length === 4 && (raw[i] as string).toLowerCase() === 'host') count++;
  return count > 1;
}

/** The https URL a plain-http request is sent to, or undefined when its Host header is unusable. */
export function redirectTarget(req: IncomingMessage, httpsPort: number | undefined): string | undefined {
  const host = req.headers.host;
  if (host === undefined || !HOST.test(host) || hasDuplicateHost(req.rawHeaders)) return undefined;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] as string);
  const port = httpsPort === undefined || httpsPort === 443 ? '' : `:${httpsPort}`;
  const path = req.url?.startsWith('/') ? req.url : '/';
  return `https://${name}${port}${path}`;
}

/**
 * Creates the plain-http listener of `redirect:`: every request gets a redirect to the same
 * path on the https URL (ACME challenges excepted); a request without a usable Host (or with two) gets 400.
 */
export function createRedirectServer(options: RedirectOptions): Server {
  const server = createServer(options.limits === undefined ? {} : httpsLimitOptions(options.limits), (req, res) => {
    if (options.intercept?.(req, res) === true) return;
    const target = redirectTarget(req, options.httpsPort());
    if (target === undefined) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Bad Request: missing or invalid Host header\n');
      return;
    }
    res.writeHead(options.status(), { location: target, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(target.length + 1) });
    res.end(req.method === 'HEAD' ? undefined : `${target}\n`);
  });
  server.keepAliveTimeout = 2_000;
  return server;
}

/** Where a redirect listener listens, and who it belongs to (for errors and the socket hand-over). */
export interface RedirectListen {
  readonly address: ListenAddress;
  readonly service: string;
  readonly baseDir: string;
  /** Where `redirect.listen` is written. */
  readonly location: SourceLocation | undefined;
}

/**
 * Creates a redirect listener and makes it listen, as the `redirect` role of its service: a
 * new instance of the service replacing this one takes this socket over, as it takes the
 * https one. A failure is HX_ERR_LISTEN at `redirect.listen`; nothing is left open.
 */
export async function listenRedirect(options: RedirectOptions, where: RedirectListen): Promise<{ server: Server; bound: string }> {
  const { service, baseDir, location } = where;
  const server = createRedirectServer(options);
  const bound = await listenOn(server, where.address, { service, baseDir, location, role: 'redirect' }).catch((error: unknown) => {
    if (error instanceof HendrixError) throw new HendrixError(error.code, { service, path: ['services', service, 'redirect', 'listen'], location: error.location, message: error.message, cause: error.cause });
    throw error;
  });
  return { server, bound: formatListen(bound) };
}
