import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { httpCodes } from './codes.js';
import { httpSchema } from './schema.js';

/** Time after both drains for the service to report what was left and close its pools. */
const STOP_REPORT_MARGIN = 1_000;

/**
 * The fields a running http service applies in place (service.ts reload): the app and its
 * code, static folders, limits (on the running server), the access log, exposeErrors, metrics, health and the
 * crosstown section (a change of pools, queue, drainTimeout or journal builds a new crosstown
 * runtime beside the old one, which drains; on one journal folder both share the open journal,
 * and the new one replays nothing the old one runs). `listen` is not here: the service is replaced, and
 * the new instance takes over the socket when the address stayed (or binds the new one). A
 * field not listed (one added later) replaces the service until it is known to reload.
 */
const IN_PLACE = new Set(['app', 'static', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize', 'accessLog', 'exposeErrors', 'metrics', 'health', 'crosstown']);
/** The files an http service re-reads at a reload: its app module and the project modules it imports (static folders are read at each request). */
const RELOADED_FILES = new Set(['app', 'module', 'static']);

/** The `http` kind: your web app (and static files) as a network resource. */
export const httpKind = defineServiceKind({
  kind: 'http',
  description: 'An HTTP server running your app module and static folders.',
  schema: httpSchema,
  errors: httpCodes,
  listens: (config) => [{ path: ['listen'], address: config.listen }],
  // the checks (and what they import) load only when a manifest uses the kind
  provision: async (ctx) => (await import('./provision.js')).provisionHttp(ctx),
  // stop drains HTTP for up to stopTimeout, then crosstown tasks for up to drainTimeout
  stopDeadline: (config) => config.stopTimeout + config.crosstown.drainTimeout + STOP_REPORT_MARGIN,
  // with workers, every worker serves the app on the shared listening socket
  workers: { runs: 'each' },
  canReload: ({ fields, files }) => fields.every((path) => IN_PLACE.has(String(path[0]))) && files.every((file) => RELOADED_FILES.has(file.role)),
  preload: () => import('./service.js'),
  async create(ctx) {
    // the implementation loads only when a manifest uses the kind
    const { HttpService } = await import('./service.js');
    return new HttpService(ctx);
  },
});
