import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { canReloadRaw } from './can-reload.js';
import { rawCodes } from './codes.js';
import { fromEntries, rawSchema } from './schema.js';

/** The `raw` kind: raw Ethernet frames on one interface, periodic or driven by a hub topic. */
export const rawKind = defineServiceKind({
  kind: 'raw',
  description: 'Raw Ethernet frames (AF_PACKET) on one interface: beacons every interval, one frame per pub/sub message, Wake-on-LAN magic packets.',
  schema: rawSchema,
  errors: rawCodes,
  // each hub `from` names is an edge; the plan refuses one naming a service of another kind.
  // No provision step: no field names a file, and the interface, namespace and CAP_NET_RAW
  // depend on the namespaces and capabilities of the process at start.
  references: (config) => fromEntries(config).map(({ hub, path }) => ({ path, target: hub, kinds: ['pubsub'], code: 'HX_ERR_RAW_FROM' })),
  // every field applies in place, the interface too (the socket is reopened): see can-reload.ts
  // one emitter per graph: frames are not multiplied by the worker count
  workers: { runs: 'once' },
  canReload: canReloadRaw,
  preload: () => import('./service.js'),
  async create(ctx) {
    // the implementation (and its addon, loaded at start) loads only when a manifest uses the kind
    const { RawService } = await import('./service.js');
    return new RawService(ctx);
  },
});
