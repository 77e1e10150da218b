import { createHash } from 'node:crypto';
import type { ControlHandler } from '../runtime/control-routes.js';

/** The dashboard page as served: its bytes and the headers that go with them. */
interface Served {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

const hashOf = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The Content-Security-Policy of the page: nothing but the page's own origin, and of inline
 * code only the one script and the one stylesheet it ships, by hash. The page is the same
 * bytes for every response, so a hash does what a per-response nonce would, and the page can
 * be built once.
 */
export function dashboardCsp(script: string, style: string): string {
  return [
    "default-src 'self'",
    `script-src ${hashOf(script)}`,
    `style-src ${hashOf(style)}`,
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

let served: Promise<Served> | undefined;

/**
 * Builds the page on the first request: its module (about 25 KB of text) is imported only
 * then, so that `hendrix up` pays nothing for a dashboard nobody opens (start-up is a feature).
 */
function load(): Promise<Served> {
  served ??= import('./dashboard-page.js').then(({ dashboardPage }) => {
    const page = dashboardPage();
    const body = Buffer.from(page.html, 'utf8');
    return {
      body,
      headers: {
        'content-type': 'text/html; charset=utf-8',
        'content-length': String(body.length),
        // status, figures and tokens change: a cached page would show a graph that no longer runs
        'cache-control': 'no-store',
        'content-security-policy': dashboardCsp(page.script, page.style),
        'x-content-type-options': 'nosniff',
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      },
    };
  });
  return served;
}

/**
 * The handler of `GET /dashboard`: the dashboard page (src/admin/dashboard-page.ts) — the graph
 * of services coloured by state, live from `GET /events`, the key figures of every service
 * from `GET /status` once a second, restart and reload buttons. The page reaches the admin API
 * by relative URLs only, so that it works on the TCP admin listener and behind the
 * `hendrix dashboard` proxy of the control socket alike.
 */
export function dashboardRoute(): ControlHandler {
  return async () => {
    const page = await load();
    return { status: 200, headers: page.headers, stream: (res) => void res.end(page.body) };
  };
}
