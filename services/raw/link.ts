import type { ServiceContext } from '../../src/kinds/contract.js';
import { AddonMissing, netnsPath, type InterfaceInfo, type RawAddon, type RawSocket } from './addon.js';
import { addonError, downError, rawError, socketError } from './errors.js';
import type { RawConfig } from './schema.js';

/** ARPHRD_ETHER and ARPHRD_LOOPBACK: the interfaces whose frames start with an Ethernet header. */
const ETHERNET_TYPES = new Set([1, 772]);

/** What a link's errors need from the service context. */
type Where = Pick<ServiceContext, 'name' | 'locate' | 'location'>;

/** The interface a raw service sends on, checked, and the addon that opens its socket. */
export interface LinkTarget {
  readonly addon: RawAddon;
  readonly info: InterfaceInfo;
}

/**
 * Loads the addon and reads the interface of `config` (in its namespace): the right
 * HX_ERR_RAW_* when the addon, the namespace or the interface is missing, or when the interface
 * does not carry Ethernet frames. Opens nothing.
 */
export function inspectLink(ctx: Where, config: Pick<RawConfig, 'interface' | 'netns'>, loadAddon: () => RawAddon): LinkTarget {
  const ns = config.netns === undefined ? undefined : netnsPath(config.netns);
  let addon: RawAddon;
  try {
    addon = loadAddon();
  } catch (error) {
    if (error instanceof AddonMissing) throw addonError(ctx, error);
    throw error;
  }
  let info: InterfaceInfo;
  try {
    info = addon.interfaceInfo(config.interface, ns);
  } catch (error) {
    throw socketError(ctx, error, where(config, addon));
  }
  if (!ETHERNET_TYPES.has(info.type)) {
    throw rawError(ctx, 'HX_ERR_RAW_NOT_ETHERNET', `interface ${config.interface} does not carry Ethernet frames (hardware type ${info.type})`, { path: ['interface'] });
  }
  return { addon, info };
}

/** Opens the AF_PACKET socket on the inspected interface; an interface that is down closes it again and throws. */
export function openLink(ctx: Where, config: Pick<RawConfig, 'interface' | 'netns'>, target: LinkTarget): RawSocket {
  const ns = config.netns === undefined ? undefined : netnsPath(config.netns);
  let socket: RawSocket;
  try {
    socket = new target.addon.RawSocket(config.interface, ns === undefined ? {} : { netns: ns });
  } catch (error) {
    throw socketError(ctx, error, where(config, target.addon));
  }
  if (!target.info.up) {
    socket.close();
    throw downError(ctx, config.interface, config.netns);
  }
  return socket;
}

function where(config: Pick<RawConfig, 'interface' | 'netns'>, addon: RawAddon): { iface: string; netns: string | undefined; interfaces: () => string[] } {
  const ns = config.netns === undefined ? undefined : netnsPath(config.netns);
  return { iface: config.interface, netns: config.netns, interfaces: () => addon.listInterfaces(ns) };
}
