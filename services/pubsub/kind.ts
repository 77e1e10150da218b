import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { canReloadPubsub } from './can-reload.js';
import { pubsubCodes } from './codes.js';
import { pubsubSchema } from './schema.js';

/** The `pubsub` kind: a WebSocket pub/sub hub, attached to an http service or on its own port. */
export const pubsubKind = defineServiceKind({
  kind: 'pubsub',
  description: 'A WebSocket pub/sub hub: topics with wildcards, history, auth, schemas, HTTP publish, and a Redis backplane for more than one node.',
  schema: pubsubSchema,
  errors: pubsubCodes,
  // the plan refuses an `attach` naming a service of another kind, at its file:line
  references: [{ field: 'attach', kinds: ['http'], code: 'HX_ERR_PUBSUB_ATTACH' }],
  listens: (config) => (config.listen === undefined ? [] : [{ path: ['listen'], address: config.listen }]),
  // the checks (and what they import) load only when a manifest uses the kind
  provision: async (ctx) => (await import('./provision.js')).provisionPubsub(ctx),
  preload: () => import('./service.js'),
  // auth, topics, limits, origins, path and the connection limits apply in place; listen,
  // attach and backplane replace the service (can-reload.ts says why)
  canReload: canReloadPubsub,
  // across workers (docs/pubsub-protocol.md, "Across workers"): a hub attached to an http
  // service runs beside it in every worker, one hub all the same — its coordinator in the
  // primary orders every message (unless Redis does); a once-service depending on it (an IRC
  // relay) gets a stand-in on the same backplane
  workers: {
    runs: (config) => (config.attach !== undefined ? 'each' : 'once'),
    remote: async (ctx) => new (await import('./remote.js')).PubsubStandIn(ctx),
    coordinator: (config) => (config.backplane === 'memory' ? import('./cluster-coordinator.js').then((m) => m.createHubCoordinator) : Promise.resolve(undefined)),
  },
  async create(ctx) {
    const { PubsubService } = await import('./service.js');
    return new PubsubService(ctx);
  },
});
