/**
 * Which changes a running raw service applies in place. Kept apart from reload.ts: the kind
 * descriptor imports it, and a manifest that does not use the kind must not load the rest.
 */
import type { PathSegment } from '../../src/errors/hendrix-error.js';

/**
 * The config fields a running raw service applies in place (its own top-level fields; a leaf
 * below one, `vlan.id`, `wakeOnLan.mac`, counts as its field). The header and payload fields
 * only change the bytes the service builds (an AF_PACKET socket sends whatever header it is
 * given), `every` retimes the schedule, `maxRate`/`maxQueue` the sender, `from` the
 * subscriptions. `interface` and `netns` reopen the socket in place: a replacement would run
 * two emitters side by side until the old one stops (doubled beacons on the wire), restart
 * `${seq}` at 0, and make every dependent holding the handle rebind or be replaced, whereas a
 * raw socket has no connection or listening address worth handing over. A field not listed
 * here (a future one) replaces the service until someone decides otherwise.
 */
const IN_PLACE = new Set<PathSegment>(['interface', 'netns', 'destination', 'source', 'ethertype', 'vlan', 'payload', 'every', 'from', 'wakeOnLan', 'maxRate', 'maxQueue']);

/**
 * The raw kind's `canReload`: true when every changed field is applied in place and no file
 * changed (the kind records none; a change it does not know replaces the service).
 */
export function canReloadRaw(change: { readonly fields: readonly (readonly PathSegment[])[]; readonly files: readonly unknown[] }): boolean {
  return change.files.length === 0 && change.fields.every((path) => path.length > 0 && IN_PLACE.has(path[0] as PathSegment));
}
