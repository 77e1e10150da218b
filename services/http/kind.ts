import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { httpCodes } from './codes.js';
import { httpSchema } from './schema.js';

/** Time after both drains for the service to report what was left and close its pools. */
const STOP_REPORT_MARGIN = 1_000;

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
  preload: () => import('./service.js'),
  async create(ctx) {
    // the implementation loads only when a manifest uses the kind
    const { HttpService } = await import('./service.js');
    return new HttpService(ctx);
  },
});
