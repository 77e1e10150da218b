import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HendrixError, type SourceLocation } from '../errors/hendrix-error.js';
import { errorToJson } from '../errors/render.js';
import { formatListen, isLoopback, parseListen } from '../kinds/fields.js';
import type { Logger } from '../log/logger.js';
import type { Plan } from '../runtime/plan.js';
import { compileRoutes, dispatchTracked, type ControlRoutes } from '../runtime/control-routes.js';
import { createAuth, sameSecret } from './auth.js';

/** What the TCP admin listener needs. */
export interface AdminListenerOptions {
  /** `admin.listen`: a port (on 127.0.0.1) or `host:port`. */
  readonly listen: string | number;
  /** `admin.token`: what `Authorization: Bearer` must carry. */
  readonly token: string;
  /** The same routes as the control socket's. */
  readonly routes: ControlRoutes;
  /** `admin.dashboard`: `GET /` redirects to `/dashboard`. */
  readonly dashboard: boolean;
  readonly log: Logger;
  /** Where `admin.listen` is written, for a listen failure. */
  readonly location?: SourceLocation | undefined;
}

/** A listening TCP admin listener. */
export interface AdminListener {
  /** `http://127.0.0.1:2019` (the port it got, for a port 0). */
  readonly url: string;
  /** Stops listening and ends the requests in flight (event streams included). */
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function deny(res: ServerResponse, status: 401 | 403, message: string): void {
  const headers: Record<string, string> = status === 401 ? { 'www-authenticate': 'Bearer realm="hendrix admin"' } : {};
  sendJson(res, status, errorToJson(new HendrixError('HX_ERR_ADMIN_AUTH', { message })), headers);
}

/**
 * The admin API over TCP (`admin.listen`): the control socket's routes, each request
 * authenticated by `Authorization: Bearer <admin.token>` (compared in constant time). The
 * browser path: `GET /dashboard?token=…` sets an HttpOnly, SameSite=Strict session cookie (a
 * random value, never the token) and redirects to the same page without the token, so that
 * it leaves the address bar and the history; the cookie then authenticates the page's GETs,
 * and its POSTs when they come from the same origin (or with no Origin). Listens on
 * 127.0.0.1 for a bare port; a failure is HX_ERR_ADMIN_LISTEN at `admin.listen`.
 */
export async function listenAdmin(options: AdminListenerOptions): Promise<AdminListener> {
  const { log, token } = options;
  const address = parseListen(options.listen, '127.0.0.1');
  const where = { path: ['admin', 'listen'] as const, ...(options.location ? { location: options.location } : {}) };
  if (!address || 'path' in address) {
    throw new HendrixError('HX_ERR_ADMIN_LISTEN', { message: `\`admin.listen\` must be a TCP address, but found ${JSON.stringify(options.listen)}`, ...where });
  }
  const routes = compileRoutes({
    'GET /': () => ({ body: { pid: process.pid, routes: ['GET /', ...Object.keys(options.routes)] } }),
    ...options.routes,
  });
  const auth = createAuth(token);
  const inFlight = new Set<AbortController>();

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/' && options.dashboard) {
      res.writeHead(302, { location: '/dashboard', 'content-length': 0 });
      return void res.end();
    }
    if (method === 'GET' && url.pathname === '/dashboard' && url.searchParams.has('token')) {
      if (!sameSecret(url.searchParams.get('token') ?? '', token)) return deny(res, 401, 'the token in the address is not admin.token');
      url.searchParams.delete('token');
      const rest = url.searchParams.toString();
      res.writeHead(302, {
        location: `/dashboard${rest ? `?${rest}` : ''}`,
        'set-cookie': `${auth.cookie}=${auth.session}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
        // the address with the token must not travel on as a Referer
        'referrer-policy': 'no-referrer',
        'content-length': 0,
      });
      return void res.end();
    }
    const outcome = auth.check(req);
    if (outcome === 'cross-site') return deny(res, 403, `${method} ${url.pathname} from a page of another origin (${req.headers.origin ?? '?'}) is refused`);
    if (outcome === 'none') {
      const reason = req.headers.authorization ? 'the bearer token is not admin.token' : 'no `Authorization: Bearer <admin.token>` header';
      return deny(res, 401, `${method} ${url.pathname}: ${reason}`);
    }
    dispatchTracked(routes, req, res, inFlight, log);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ? ` (${error.code})` : '';
      reject(new HendrixError('HX_ERR_ADMIN_LISTEN', { message: `the admin API cannot listen on ${formatListen(address)}: ${error.message}${code}`, ...where, cause: error }));
    });
    server.listen({ host: address.host, port: address.port }, () => resolve());
  });
  server.on('error', (error) => log.error({ err: error }, 'admin listener error'));
  const bound = server.address() as AddressInfo;
  const url = formatListen({ host: address.host, port: bound.port });
  log.info({ admin: url }, `admin api listening on ${url}`);
  // plain HTTP: beyond this machine the token crosses the network readable by anyone on the way
  if (!isLoopback(address)) log.warn({ admin: url }, 'the admin API listens beyond loopback over plain HTTP: put it behind TLS (a tls service or a proxy) or keep it on 127.0.0.1');

  return {
    url,
    async close() {
      for (const controller of inFlight) controller.abort(new Error('the admin listener is closing'));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * Opens the TCP admin listener a plan asks for (`admin.listen`, with its token), serving
 * `routes` — the control socket's whole table; undefined when the manifest has none. What one
 * process and the primary of a graph with workers both call once their control socket listens.
 */
export async function openAdminListener(options: { plan: Plan; routes: ControlRoutes; log: Logger }): Promise<AdminListener | undefined> {
  const { admin } = options.plan.manifest;
  if (admin.listen === undefined || admin.token === undefined) return undefined;
  return listenAdmin({
    listen: admin.listen,
    token: admin.token,
    routes: options.routes,
    dashboard: admin.dashboard,
    log: options.log,
    location: options.plan.resolved.provenance.locate(['admin', 'listen']),
  });
}
