import type { PathSegment } from '../../src/errors/hendrix-error.js';
import type { PlanFileRole } from '../../src/kinds/contract.js';

/**
 * The config fields a running hub applies in place (`reload()`), by their first segment.
 * Connected clients stay connected through every one of them.
 */
const IN_PLACE = new Set<PathSegment>([
  // a new Authenticator; every connection's token is checked again (see Connection.regrade)
  'auth',
  // read at each upgrade
  'origins',
  'maxConnections',
  // read at each request: the upgrade listener stays registered and answers the new path
  'path',
  'httpPublish',
  // new rules: schemas for the next publishes, history settings for the topics already known
  'topics',
  // the history's bounds, and the publish buckets (each follows them at its next publish)
  'limits',
  // read at each use by every connection
  'maxSubscriptions',
  'maxBuffered',
  'slowConsumer',
  // the next heartbeat interval
  'heartbeat',
  // connections accepted from now on (ws fixes it per connection when it accepts one)
  'maxPayload',
]);

// Not in place, so the service is replaced (a new instance starts, the old one drains):
// - `listen`: its own listener; the new instance takes over the listening socket.
// - `attach`: another http service is another edge of the graph, which the core orders and
//   reaches through `ctx.peer()` for a new instance (a replaced http service of the same name
//   is followed in place: see PubsubService.rebind).
// - `backplane`: ids come from the backplane; another one is another id sequence (every kept
//   id of another epoch) and, for Redis, another set of nodes, while publishes in flight on the
//   old one still have to be answered in order. A clean cut — new instance, clients
//   resubscribing with `since` and told `lost: epoch` — says the truth; a switch under live
//   connections would interleave two sequences.

/** The files whose new content `reload()` reads: topic schemas, the JWT public key. */
const FILE_ROLES = new Set<PlanFileRole>(['schema', 'jwt-key']);

/**
 * Whether a change of a `pubsub` service applies in place: every changed field is one the hub
 * reloads (IN_PLACE), and every changed file is a topic schema or the JWT public key (read
 * again by `reload()`).
 */
export function canReloadPubsub(change: { fields: readonly (readonly PathSegment[])[]; files: readonly { role: PlanFileRole }[] }): boolean {
  return change.fields.every((path) => path[0] !== undefined && IN_PLACE.has(path[0])) && change.files.every((file) => FILE_ROLES.has(file.role));
}
