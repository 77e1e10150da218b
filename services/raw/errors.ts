import { realpathSync } from 'node:fs';
import { HendrixError, type PathSegment } from '../../src/errors/hendrix-error.js';
import { rawCodes } from './codes.js';

/** A code of this kind's table. */
type ErrorCode = keyof typeof rawCodes;
import type { ServiceContext } from '../../src/kinds/contract.js';
import { AddonMissing, type AddonError } from './addon.js';

/** What a raw error needs from the service context. */
type Where = Pick<ServiceContext, 'name' | 'locate' | 'location'>;

/** A HendrixError about `path` of the service's config (or the service itself). */
export function rawError(ctx: Where, code: ErrorCode, message: string, options: { path?: PathSegment[]; hint?: string; cause?: unknown } = {}): HendrixError {
  const path = options.path ?? [];
  return new HendrixError(code, {
    message,
    service: ctx.name,
    path: ['services', ctx.name, ...path],
    location: path.length ? (ctx.locate(path) ?? ctx.location) : ctx.location,
    ...(options.hint === undefined ? {} : { hint: options.hint }),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
}

/** The node binary, symlinks resolved: what `setcap` must be given. */
function nodeBinary(): string {
  try {
    return realpathSync(process.execPath);
  } catch {
    return process.execPath;
  }
}

/** HX_ERR_RAW_ADDON for an addon that is not built or does not load. */
export function addonError(ctx: Where, error: AddonMissing): HendrixError {
  const linux = process.platform === 'linux';
  return rawError(ctx, 'HX_ERR_RAW_ADDON', error.message, {
    cause: error.cause,
    ...(linux ? {} : { hint: 'the raw kind sends frames over AF_PACKET sockets, which only Linux has' }),
  });
}

/** What went wrong with the namespace, the interface or the socket, as the right HX_ERR_RAW_* code. */
export function socketError(ctx: Where, error: unknown, at: { iface: string; netns: string | undefined; interfaces: () => string[] }): HendrixError {
  if (error instanceof AddonMissing) return addonError(ctx, error);
  const e = error as Partial<AddonError>;
  const code = e.code ?? '';
  const inNs = at.netns === undefined ? '' : ` in network namespace ${at.netns}`;
  if (at.netns !== undefined && (e.syscall === 'open' || e.syscall === 'setns')) {
    if (code === 'ENOENT') return rawError(ctx, 'HX_ERR_RAW_NETNS', `network namespace ${at.netns} does not exist`, { path: ['netns'], cause: error });
    if (code === 'EPERM' || code === 'EACCES') {
      return rawError(ctx, 'HX_ERR_RAW_NETNS', `entering network namespace ${at.netns} is not permitted (${code}): it needs CAP_SYS_ADMIN`, {
        path: ['netns'],
        cause: error,
        hint: 'run hendrix as root to use `netns`, or start it inside the namespace instead (ip netns exec NAME hendrix up)',
      });
    }
    return rawError(ctx, 'HX_ERR_RAW_NETNS', `cannot enter network namespace ${at.netns}: ${code || (error as Error).message}`, { path: ['netns'], cause: error });
  }
  if (code === 'ENODEV' || code === 'ENXIO') {
    let list = '';
    try {
      list = at.interfaces().join(', ');
    } catch {
      // the list is a courtesy
    }
    return rawError(ctx, 'HX_ERR_RAW_NO_INTERFACE', `interface ${at.iface} does not exist${inNs}${list ? `; the interfaces are: ${list}` : ''}`, {
      path: ['interface'],
      cause: error,
    });
  }
  if (code === 'EPERM' || code === 'EACCES') {
    return rawError(ctx, 'HX_ERR_RAW_PERMISSION', `opening a raw socket on ${at.iface} is not permitted (${code}): it needs the CAP_NET_RAW capability`, {
      path: ['interface'],
      cause: error,
      hint: `run hendrix as root, or give node the capability once: sudo setcap cap_net_raw+ep ${nodeBinary()}`,
    });
  }
  if (code === 'ENETDOWN') return downError(ctx, at.iface, at.netns);
  return rawError(ctx, 'HX_ERR_RAW_SEND', `cannot open a raw socket on ${at.iface}${inNs}: ${(error as Error).message}`, { path: ['interface'], cause: error });
}

/** HX_ERR_RAW_INTERFACE_DOWN with the command that brings the interface up. */
export function downError(ctx: Where, iface: string, netns: string | undefined): HendrixError {
  const where = netns === undefined ? '' : ` in network namespace ${netns}`;
  const command = netns === undefined || netns.includes('/') ? `ip link set ${iface} up` : `ip -n ${netns} link set ${iface} up`;
  return rawError(ctx, 'HX_ERR_RAW_INTERFACE_DOWN', `interface ${iface}${where} is down`, { path: ['interface'], hint: `bring it up: ${command} (as root)` });
}

