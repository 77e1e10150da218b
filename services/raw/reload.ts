import type { ServiceContext } from '../../src/kinds/contract.js';
import type { InterfaceInfo, RawAddon, RawSocket } from './addon.js';
import { inspectLink, openLink } from './link.js';
import type { RawConfig } from './schema.js';
import { prepareFrames, type FrameSetup } from './setup.js';
import { resolveHubs, type HubTarget } from './subscriptions.js';

/** Everything the next config needs, built and checked beside the running one. */
export interface PreparedReload {
  readonly setup: FrameSetup;
  readonly targets: HubTarget[];
  /** The socket on the next interface, when `interface` or `netns` changed; else the running one stays. */
  readonly socket: RawSocket | undefined;
}

/** What preparing a reload needs from the service context. */
type Where = Pick<ServiceContext, 'name' | 'locate' | 'location' | 'peer'>;

/**
 * Prepares `next` without touching the running service: the hubs of `from` resolved and
 * checked, the interface inspected and a socket opened on it when it changed, the frames built
 * and checked against the MTU. Throws the HendrixError of the first problem (nothing is left
 * open then); what it returns is switched to without a step that can fail, but the
 * subscriptions.
 */
export function prepareReload(ctx: Where, running: { readonly config: RawConfig; readonly info: InterfaceInfo }, next: RawConfig, loadAddon: () => RawAddon): PreparedReload {
  const targets = resolveHubs(ctx, next);
  const relink = next.interface !== running.config.interface || next.netns !== running.config.netns;
  const link = relink ? inspectLink(ctx, next, loadAddon) : undefined;
  const setup = prepareFrames(ctx, next, link?.info ?? running.info);
  const socket = link === undefined ? undefined : openLink(ctx, next, link);
  return { setup, targets, socket };
}

/** The top-level fields whose values differ between two configs, for the `reloaded` line. */
export function changedFields(previous: RawConfig, next: RawConfig): string[] {
  const keys = new Set([...Object.keys(previous), ...Object.keys(next)]);
  return [...keys].filter((key) => JSON.stringify((previous as Record<string, unknown>)[key]) !== JSON.stringify((next as Record<string, unknown>)[key]));
}
