import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An interface as the addon reads it (SIOCGIFINDEX, SIOCGIFFLAGS, SIOCGIFMTU, SIOCGIFHWADDR). */
export interface InterfaceInfo {
  readonly name: string;
  readonly index: number;
  readonly mac: Buffer;
  readonly mtu: number;
  readonly up: boolean;
  readonly running: boolean;
  readonly loopback: boolean;
  /** The ARPHRD_* hardware type: 1 Ethernet, 772 loopback. */
  readonly type: number;
}

/** An error of the addon: Node's shape, `code` 'EPERM', 'ENODEV'... */
export interface AddonError extends Error {
  readonly code: string;
  readonly errno?: number;
  readonly syscall?: string;
}

/** Options of a raw socket. */
export interface RawSocketOptions {
  /** The EtherType to receive (0x0003: every frame); 0, the default, opens a socket that only sends. */
  protocol?: number;
  /** A network namespace file to open the socket in (/run/netns/NAME). */
  netns?: string;
  /** SO_RCVBUF in bytes, for receiving sockets. */
  receiveBuffer?: number;
  /** Whether frames this host sends are received too. */
  outgoing?: boolean;
}

/** An AF_PACKET socket bound to one interface; non-blocking; every call is safe after close(). */
export interface RawSocket {
  readonly ifindex: number;
  readonly closed: boolean;
  /** Sends one frame: the bytes sent, or -errno (EAGAIN/ENOBUFS: try again later). */
  send(frame: Uint8Array): number;
  /** Sends `count` frames from `start` with sendmmsg (at most 256): how many were sent, or -errno when none was. */
  sendBatch(frames: readonly Uint8Array[], start?: number, count?: number): number;
  /** The next received frame, or null. */
  recv(): Buffer | null;
  /** Delivers received frames (VLAN tags put back) until stopReceive() or close(). */
  startReceive(callback: (error: AddonError | undefined, frames?: Buffer[]) => void): void;
  stopReceive(): void;
  /** Calls back once when the socket takes frames again. */
  waitWritable(callback: (error?: AddonError) => void): void;
  ref(): this;
  unref(): this;
  close(): void;
}

/** What build/Release/hendrix_raw.node exports. */
export interface RawAddon {
  readonly RawSocket: new (iface: string, options?: RawSocketOptions) => RawSocket;
  interfaceInfo(name: string, netns?: string): InterfaceInfo;
  listInterfaces(netns?: string): string[];
}

/** Where the built addon lives, relative to the package folder. */
export const ADDON_PATH = 'build/Release/hendrix_raw.node';

/** The package folder: the nearest folder above this module holding hendrix's package.json (source, dist and bundle alike). */
export function packageRoot(from = fileURLToPath(import.meta.url)): string | undefined {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'hendrix') return dir;
      } catch {
        // not a readable package.json: keep looking
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** Why the addon could not be loaded: where it was looked for, and the loader's error. */
export class AddonMissing extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`the raw frame addon ${file} ${reason}`, options);
  }
}

let loaded: RawAddon | undefined;
let ownRoot: string | undefined | null = null;

function defaultRoot(): string | undefined {
  if (ownRoot === null) ownRoot = packageRoot();
  return ownRoot;
}

/**
 * Loads the addon from the package folder at run time (never bundled: esbuild leaves a
 * require of a computed path alone). Throws AddonMissing when it is not built or not loadable.
 */
export function loadRawAddon(root = defaultRoot()): RawAddon {
  if (loaded !== undefined && root === defaultRoot()) return loaded;
  const file = root === undefined ? ADDON_PATH : join(root, ADDON_PATH);
  if (process.platform !== 'linux') throw new AddonMissing(file, `is Linux only (AF_PACKET); this is ${process.platform}`);
  if (root === undefined || !existsSync(file)) throw new AddonMissing(file, 'is not built');
  try {
    const addon = createRequire(join(root, 'package.json'))(file) as RawAddon;
    if (root === defaultRoot()) loaded = addon;
    return addon;
  } catch (error) {
    throw new AddonMissing(file, `cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
}

/** The namespace file of `netns`: a name from `ip netns` or a path. */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}
