import type { ControlHandler } from '../runtime/control-routes.js';
import { eventStream, type EventLog } from './events.js';
import { METRICS_CONTENT_TYPE, createMetrics, type MetricsRenderer } from './metrics.js';
import type { AdminSource } from './types.js';
import { ADMIN_ROUTES } from './route-names.js';
import { hendrixVersion } from '../runtime/package-root.js';

/**
 * The admin routes every instance serves on its control socket and, with `admin.listen`, on
 * the TCP admin listener (docs/admin-api.md). `POST /reload`, `GET /plan` and `GET /workers`
 * are the instance's own (src/cli/control.ts); `GET /dashboard` is added by whoever serves the
 * page.
 */
export { ADMIN_ROUTES };

/** Options of {@link adminRoutes}. */
export interface AdminRouteOptions {
  /** The metrics renderer (one per instance: it holds the process metrics); default a new one. */
  readonly metrics?: MetricsRenderer;
  /** How often an idle `GET /events` stream is pinged (default 15 s). */
  readonly pingMs?: number;
}

/**
 * Builds the admin routes of an instance from its {@link AdminSource} and event log:
 * `GET /status`, `GET /events` (SSE), `GET /metrics` (Prometheus text), the operations on one
 * service (`POST /services/{name}/restart|stop|start`, answered with the service's status once
 * done) and `POST /stop` (202; the instance then stops as on SIGTERM).
 */
export function adminRoutes(source: AdminSource, events: EventLog, options: AdminRouteOptions = {}): Record<(typeof ADMIN_ROUTES)[number], ControlHandler> {
  const metrics = options.metrics ?? createMetrics({ version: hendrixVersion() });
  const operation =
    (run: (name: string) => Promise<void>): ControlHandler =>
    async ({ params }) => {
      const name = params.name!;
      await run(name);
      const service = (await source.status()).services.find((s) => s.name === name);
      return { body: { service } };
    };
  return {
    'GET /status': async () => ({ body: await source.status() }),
    'GET /events': (request) => eventStream(events, request, options.pingMs === undefined ? {} : { pingMs: options.pingMs }),
    'GET /metrics': async () => {
      const text = await metrics.render(await source.metrics());
      return { headers: { 'content-type': METRICS_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(text)) }, stream: (res) => void res.end(text) };
    },
    'POST /services/{name}/restart': operation((name) => source.restart(name)),
    'POST /services/{name}/stop': operation((name) => source.stop(name)),
    'POST /services/{name}/start': operation((name) => source.start(name)),
    'POST /stop': () => {
      // answered first: the stop closes this socket once the graph has stopped
      setImmediate(() => source.stopAll());
      return { status: 202, body: { stopping: true, pid: process.pid } };
    },
  };
}

