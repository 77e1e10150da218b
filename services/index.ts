import type { ServiceKind } from '../src/kinds/contract.js';
import { httpKind } from './http/kind.js';
import { ircKind } from './irc/kind.js';
import { tlsKind } from './tls/kind.js';
import { pubsubKind } from './pubsub/kind.js';
import { rawKind } from './raw/kind.js';

/** The built-in kinds, by name. Their implementations load only when a manifest uses them. */
export const builtinKinds: ReadonlyMap<string, ServiceKind> = new Map<string, ServiceKind>([
  ['http', httpKind as unknown as ServiceKind],
  ['tls', tlsKind as unknown as ServiceKind],
  ['irc', ircKind as unknown as ServiceKind],
  ['pubsub', pubsubKind as unknown as ServiceKind],
  ['raw', rawKind as unknown as ServiceKind],
]);
