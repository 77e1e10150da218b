import { defineServiceKind } from '../../src/kinds/define-service-kind.js';
import { ircCodes } from './codes.js';
import { relayReferences } from './relay-endpoint.js';
import { ircSchema } from './schema.js';

/** The `irc` kind: an IRC bot, relaying between channels and pub/sub hub topics. */
export const ircKind = defineServiceKind({
  kind: 'irc',
  description: 'An IRC bot on one server: channels, !commands, relays to and from pub/sub hub topics, flood control, reconnects with backoff.',
  schema: ircSchema,
  errors: ircCodes,
  // every hub a relay entry names (`hub:alerts`) is an edge: the bot starts after it; the plan
  // refuses one naming a service of another kind (HX_ERR_IRC_RELAY)
  references: (config) => relayReferences(config.relay),
  // a bot listens on nothing: no `listens`
  // the checks (and what they import) load only when a manifest uses the kind
  provision: async (ctx) => (await import('./provision.js')).provisionIrc(ctx),
  // every field applies in place (reload.ts): channels are joined and parted, the relay, the
  // commands and the limits switched on the same connection; a new server, nick, TLS or
  // credentials reconnect in place (QUIT, then connect), so no second instance ever competes
  // for the nick. The files a bot depends on, the commands module and the CA, are read again.
  // one bot per graph, however many workers: one connection, one nick
  workers: { runs: 'once' },
  canReload: ({ files }) => files.every((f) => f.role === 'commands' || f.role === 'ca'),
  preload: () => import('./service.js'),
  async create(ctx) {
    // the implementation (irc-framework) loads only when a manifest uses the kind
    const { IrcService } = await import('./service.js');
    return new IrcService(ctx);
  },
});
