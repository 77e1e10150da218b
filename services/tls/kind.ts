import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { canReloadTls } from './can-reload.js';
import { tlsCodes } from './codes.js';
import { tlsSchema } from './schema.js';

/** The `tls` kind: a TLS listener (HTTPS, HTTP/2, mTLS) serving an http service's app. */
export const tlsKind = defineServiceKind({
  kind: 'tls',
  description: "A TLS listener serving an http service's app: SNI, HTTP/2, mutual TLS, hot certificate reload, development and ACME certificates.",
  schema: tlsSchema,
  errors: tlsCodes,
  // the plan refuses a `serves` naming a service of another kind, at its file:line
  references: [{ field: 'serves', kinds: ['http'], code: 'HX_ERR_TLS_SERVES' }],
  listens: (config) => [{ path: ['listen'], address: config.listen }, ...(config.redirect === undefined ? [] : [{ path: ['redirect', 'listen'], address: config.redirect.listen }])],
  // the checks (and what they import) load only when a manifest uses the kind
  provision: async (ctx) => (await import('./provision.js')).provisionTls(ctx),
  preload: () => import('./service.js'),
  // certificates, SNI, mTLS, ciphers, HSTS, redirect and acme change in place; listen, serves,
  // http2 and handshakeTimeout replace the service (its successor takes the sockets over)
  // with workers, every worker terminates TLS on the shared listening socket
  workers: { runs: 'each' },
  canReload: canReloadTls,
  async create(ctx) {
    // the implementation (node:tls, node:http2, acme-client) loads only when a manifest uses the kind
    const { TlsService } = await import('./service.js');
    return new TlsService(ctx);
  },
});
