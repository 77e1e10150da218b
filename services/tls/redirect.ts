import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** Host header values we redirect to: a name or IPv4 address, or a bracketed IPv6 one, with an optional port. */
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/;

/** What the redirect listener needs to know. */
export interface RedirectOptions {
  /** The redirect status (308 by default in the schema). */
  readonly status: number;
  /** The port of the TLS listener (left out of the URL when 443). */
  httpsPort(): number | undefined;
  /** Asked first: answers ACME http-01 challenges; true when it answered. */
  readonly intercept?: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
}

/** The https URL a plain-http request is sent to, or undefined when its Host header is unusable. */
export function redirectTarget(req: IncomingMessage, httpsPort: number | undefined): string | undefined {
  const host = req.headers.host;
  if (host === undefined || !HOST.test(host)) return undefined;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] as string);
  const port = httpsPort === undefined || httpsPort === 443 ? '' : `:${httpsPort}`;
  const path = req.url?.startsWith('/') ? req.url : '/';
  return `https://${name}${port}${path}`;
}

/**
 * Creates the plain-http listener of `redirect:`: every request gets a redirect to the same
 * path on the https URL (ACME challenges excepted); a request without a usable Host gets 400.
 */
export function createRedirectServer(options: RedirectOptions): Server {
  const server = createServer((req, res) => {
    if (options.intercept?.(req, res) === true) return;
    const target = redirectTarget(req, options.httpsPort());
    if (target === undefined) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('Bad Request: missing or invalid Host header\n');
      return;
    }
    res.writeHead(options.status, { location: target, 'content-type': 'text/plain; charset=utf-8', 'content-length': String(target.length + 1) });
    res.end(req.method === 'HEAD' ? undefined : `${target}\n`);
  });
  server.keepAliveTimeout = 2_000;
  return server;
}
