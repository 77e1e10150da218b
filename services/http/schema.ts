import { z } from 'zod';
import { crosstownSchema } from '../../src/crosstown/config.js';
import { bool, duration, listen, size } from '../../src/kinds/fields.js';

/** The config of an `http` service: an app module, static folders, listen address and limits. */
export const httpSchema = z.strictObject({
  listen: listen('Where to listen: a port (all interfaces), "host:port", or a unix socket path. Port 0 picks a free port.').prefault(8000),
  app: z
    .string()
    .min(1)
    .optional()
    .describe(
      'The app module, relative to the manifest, optionally with #exportName (default export otherwise): a (req, res) listener, an object with fetch(request), or a factory (ctx) => either.',
    ),
  static: z
    .record(z.string().regex(/^\//, 'a static prefix starts with /'), z.string().min(1))
    .optional()
    .describe('Folders served as static files, keyed by URL prefix: { "/assets": ./public }. Checked before the app.'),
  headersTimeout: duration('How long a client may take to send the request headers.').default(60_000),
  requestTimeout: duration('How long a client may take to send the whole request (0: no limit).').default(300_000),
  keepAliveTimeout: duration('How long an idle keep-alive connection stays open.').default(5_000),
  maxHeaderSize: size('The largest request header block accepted.').default(16 * 1024),
  accessLog: z
    .union([z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']), z.literal(false), z.literal('off')])
    .default('debug')
    .describe(
      'The log level of the per-request access log line (method, path, status, duration, bytes), or false/off for none. The default, debug, logs requests when logging.level is debug (development) and costs nothing at info.',
    ),
  exposeErrors: bool('Whether a 500 response carries the error message (never in production).').default(false),
  metrics: bool(
    'Whether requests are counted by status class and timed for GET /metrics and status (a clock read and a few increments per request). false: the figures report only the requests in flight.',
  ).default(true),
  health: z
    .union([
      z.boolean(),
      z.strictObject({
        path: z
          .string()
          .regex(/^(?!.*\/readyz$)(\/[^/?#\s]+)+$/, 'a health path starts with /, has no query, blank or trailing /, and does not end in /readyz (readiness answers there)')
          .default('/healthz')
          .describe('The liveness path; readiness answers at `readyz` beside it (`/healthz` → `/readyz`, `/-/healthz` → `/-/readyz`).'),
        services: z
          .array(z.string().min(1))
          .optional()
          .describe('The services whose readiness `/readyz` reports (names of this graph); default: every service of the graph.'),
      }),
    ])
    .default(false)
    .describe(
      'Health endpoints for load balancers and orchestrators, answered before the app: `GET /healthz` 200 while the process serves (liveness), `GET /readyz` 200 while the graph (or `services`) is ready, else 503 — from the moment a stop is asked, for `drainDelay`. `true`: the defaults.',
    ),
  crosstown: crosstownSchema,
});

/** The validated config of an `http` service. */
export type HttpConfig = z.output<typeof httpSchema>;
