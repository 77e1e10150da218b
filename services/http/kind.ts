import { defineServiceKind } from '../../src/runtime/define-service-kind.js';
import { httpSchema } from './schema.js';

/** The `http` kind: your web app (and static files) as a network resource. */
export const httpKind = defineServiceKind({
  kind: 'http',
  description: 'An HTTP server running your app module and static folders.',
  schema: httpSchema,
  async create(ctx) {
    // the implementation loads only when a manifest uses the kind
    const { HttpService } = await import('./service.js');
    return new HttpService(ctx);
  },
});
