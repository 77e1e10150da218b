import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { hendrixPackage } from './package-root.js';

/** A datagram the test receiver read, with the pid of the process that sent it (SCM_CREDENTIALS). */
export interface NotifyDatagram {
  readonly message: string;
  readonly pid: number;
}

/** What build/Release/hendrix_notify.node exports (src/runtime/native/notify.c). */
export interface NotifyAddon {
  /** Sends one datagram to a unix socket path or an `@abstract` name; throws (ENOENT, ECONNREFUSED, EACCES...) when it cannot. */
  notify(socket: string, message: string): void;
  /** Binds a non-blocking datagram socket that reads senders' pids; its fd. For tests: the service manager's side. */
  openReceiver(socket: string): number;
  /** The next datagram on a receiver, or null when none waits. */
  receive(fd: number): NotifyDatagram | null;
  /** Closes a receiver (a path socket's file stays: the caller removes it). */
  closeReceiver(fd: number): void;
  /** CLOCK_MONOTONIC in microseconds: the clock of MONOTONIC_USEC. */
  monotonicUsec(): number;
}

/** Where the built addon lives, relative to the package folder. */
export const NOTIFY_ADDON_PATH = 'build/Release/hendrix_notify.node';

let cached: { addon: NotifyAddon | undefined; reason: string } | undefined;

/**
 * Loads the notify addon from the package folder at run time (a computed require: the bundle
 * leaves it alone); undefined, with the reason, when it is not built or cannot load — the
 * caller falls back to the systemd-notify binary.
 */
export function loadNotifyAddon(): { addon: NotifyAddon | undefined; reason: string } {
  cached ??= load();
  return cached;
}

function load(): { addon: NotifyAddon | undefined; reason: string } {
  if (process.platform !== 'linux') return { addon: undefined, reason: `the notify addon is Linux only; this is ${process.platform}` };
  const root = hendrixPackage()?.root;
  const file = root === undefined ? NOTIFY_ADDON_PATH : join(root, NOTIFY_ADDON_PATH);
  if (root === undefined || !existsSync(file)) return { addon: undefined, reason: `${file} is not built` };
  try {
    return { addon: createRequire(join(root, 'package.json'))(file) as NotifyAddon, reason: '' };
  } catch (error) {
    return { addon: undefined, reason: `${file} cannot be loaded: ${(error as Error).message}` };
  }
}
