import { createServer, request, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HendrixError } from '../errors/hendrix-error.js';
import { errorToJson } from '../errors/render.js';
import { createAuth, sameSecret } from '../admin/auth.js';

/** What startDashboardProxy needs. */
export interface DashboardProxyOptions {
  /** The control socket of the instance the dashboard shows. */
  readonly controlPath: string;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The secret of the URL: `?token=` once, then the session cookie it sets (or `Authorization: Bearer`). */
  readonly token: string;
  /** Called when the control socket does not answer any more (the instance stopped). */
  readonly onGone?: () => void;
}

/** A running dashboard proxy. */
export interface DashboardProxy {
  /** `http://127.0.0.1:PORT`: the origin the browser is on. */
  readonly origin: string;
  /** The URL to open: the page, with the token that sets the cookie. */
  readonly url: string;
  /** Stops listening and closes every connection (event streams included). */
  close(): Promise<void>;
}

/** The request headers passed on to the instance: what the admin routes read, nothing that authenticates here. */
const FORWARDED = ['accept', 'content-type', 'content-length', 'last-event-id'] as const;

/** Response headers of one hop only, not passed back. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

function refuse(res: ServerResponse, status: number, error: HendrixError): void {
  const text = `${JSON.stringify(errorToJson(error))}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Starts the local HTTP proxy of `hendrix dashboard`: it forwards GET and POST requests to
 * the instance's control socket (the page, `status`, `events` streamed through as they come,
 * the operations), guarded by a random token. `GET /dashboard?token=…` sets an HttpOnly,
 * SameSite=Strict session cookie (a random value of its own) and redirects to the page
 * without the token (so that it leaves the address bar and the history); every other request
 * needs the cookie or `Authorization: Bearer <token>`, and a POST from a browser must come
 * from the page's own origin (CSRF).
 */
export async function startDashboardProxy(options: DashboardProxyOptions): Promise<DashboardProxy> {
  const { controlPath, token } = options;
  let origin = '';
  // the sessions of the admin listener's own kind (src/admin/auth.ts), with a cookie named after
  // the port once it is known: cookies are per host, not per port, and two dashboards on
  // 127.0.0.1 each keep their own
  let auth = createAuth(token);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const method = req.method ?? 'GET';
    const fromToken = url.searchParams.get('token');
    if (method === 'GET' && url.pathname === '/dashboard' && fromToken !== null) {
      if (!sameSecret(fromToken, token)) return refuse(res, 401, new HendrixError('HX_ERR_ADMIN_AUTH', { message: 'this dashboard URL has another token', hint: 'open the URL `hendrix dashboard` printed' }));
      url.searchParams.delete('token');
      res.writeHead(302, { location: `/dashboard${url.search}`, 'set-cookie': `${auth.cookie}=${auth.session}; HttpOnly; SameSite=Strict; Path=/`, 'cache-control': 'no-store' });
      return void res.end();
    }
    if (method === 'GET' && url.pathname === '/') {
      res.writeHead(302, { location: '/dashboard' });
      return void res.end();
    }
    const outcome = auth.check(req);
    if (outcome === 'none') return refuse(res, 401, new HendrixError('HX_ERR_ADMIN_AUTH', { message: 'the dashboard needs its token', hint: 'open the URL `hendrix dashboard` printed (it sets a cookie), or send `Authorization: Bearer <token>`' }));
    if (outcome === 'cross-site') return refuse(res, 403, new HendrixError('HX_ERR_ADMIN_AUTH', { message: `a POST from another origin (${req.headers.origin}) is refused`, hint: `the dashboard acts only from its own page, ${origin}/dashboard` }));
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return refuse(res, 405, new HendrixError('HX_ERR_CONTROL_REQUEST', { message: `the dashboard passes on GET and POST, not ${method}` }));
    forward(req, res, url);
  });

  function forward(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const headers: Record<string, string | string[]> = {};
    for (const name of FORWARDED) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const upstream = request({ socketPath: controlPath, method: req.method, path: `${url.pathname}${url.search}`, headers }, (answer) => {
      const back: OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) back[name] = value;
      res.writeHead(answer.statusCode ?? 502, back);
      // an event stream: its headers now, each event as it comes (pipe writes every chunk through)
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      const gone = error.code === 'ENOENT' || error.code === 'ECONNREFUSED';
      if (gone) options.onGone?.();
      if (res.headersSent) return void res.destroy();
      refuse(res, 502, new HendrixError(gone ? 'HX_ERR_CONTROL_NOT_RUNNING' : 'HX_ERR_CONTROL_REQUEST', { message: gone ? 'the instance does not run any more' : `the control socket failed: ${error.message}` }));
    });
    // the browser went away (an EventSource closed): so does the request to the instance
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  auth = createAuth(token, `hendrix_dashboard_${port}`);
  return {
    origin,
    url: `${origin}/dashboard?token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
