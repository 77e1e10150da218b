import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';
import { HendrixError } from '../errors/hendrix-error.js';
import { loadNotifyAddon, type NotifyAddon } from './notify-addon.js';

/**
 * A service manager's notify socket as hendrix speaks to it (systemd's sd_notify protocol,
 * docs/deploy.md): what `hendrix up` says at each turn of the graph's life. Every method is a
 * no-op without NOTIFY_SOCKET, and none throws: a notify socket that refuses is logged once
 * (HX_ERR_NOTIFY) and the graph runs on.
 */
export interface Notifier {
  /** Whether NOTIFY_SOCKET is set: there is a service manager to tell. */
  readonly enabled: boolean;
  /** READY=1 with a STATUS line (and MAINPID the first time); starts the watchdog pings. */
  ready(status: string): void;
  /** RELOADING=1 with MONOTONIC_USEC (the clock systemd compares with its reload request). */
  reloading(status?: string): void;
  /** STOPPING=1: a stop has begun. */
  stopping(status?: string): void;
  /** STATUS=…: a line `systemctl status` shows. */
  status(text: string): void;
  /** Stops the watchdog pings; resolves once what was sent through the systemd-notify binary is out. */
  close(): Promise<void>;
}

/** What createNotifier needs. */
export interface NotifierOptions {
  /** The environment hendrix started with: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, PATH. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  /** The pid the service manager knows as the main one; default this process's. */
  readonly pid?: number;
  /** The addon to send with; null sends as if it were not built (tests). Default: build/Release/hendrix_notify.node. */
  readonly addon?: NotifyAddon | null;
}

type Send = (lines: readonly string[]) => void;

/**
 * Builds the notifier of this process from its environment. It sends with the notify addon
 * (one sendto of an AF_UNIX datagram, which Node cannot do), else through the `systemd-notify`
 * binary when it is on PATH (run as root it sends in its parent's name; otherwise the messages
 * come from that child and the unit needs NotifyAccess=all), else it warns once and stays silent.
 */
export function createNotifier(options: NotifierOptions): Notifier {
  const { env, log } = options;
  const socket = env['NOTIFY_SOCKET'];
  if (!socket) return silentNotifier();
  const pid = options.pid ?? process.pid;
  let warned = false;
  const warn = (message: string, cause?: unknown): void => {
    if (warned) return;
    warned = true;
    const error = new HendrixError('HX_ERR_NOTIFY', { message, ...(cause === undefined ? {} : { cause }) });
    log.warn({ code: error.code, socket, hint: error.hint, ...(cause === undefined ? {} : { err: cause }) }, error.message);
  };
  const loaded = options.addon === undefined ? loadNotifyAddon() : { addon: options.addon ?? undefined, reason: 'the notify addon is not used' };
  let pending: Promise<void> = Promise.resolve();
  let send: Send;
  if (loaded.addon) {
    const addon = loaded.addon;
    send = (lines) => {
      try {
        addon.notify(socket, lines.join('\n'));
      } catch (error) {
        warn(`cannot notify the service manager at ${socket}: ${(error as Error).message}`, error);
      }
    };
  } else {
    const binary = onPath('systemd-notify', env['PATH']);
    if (binary === undefined) {
      warn(`NOTIFY_SOCKET is set but hendrix cannot notify: ${loaded.reason}, and systemd-notify is not on PATH`);
      return silentNotifier(true);
    }
    log.debug({ reason: loaded.reason, binary }, 'notifying through systemd-notify');
    // one child at a time: the manager sees the messages in the order they were sent; --no-block:
    // no barrier (systemd-notify would wait for the manager to have read each message)
    send = (lines) => {
      pending = pending.then(
        () =>
          new Promise<void>((done) =>
            execFile(binary, ['--no-block', ...lines], { env: { ...env }, timeout: 5_000 }, (error) => {
              if (error) warn(`systemd-notify ${lines.join(' ')} failed: ${error.message.trim()}`, error);
              done();
            }),
          ),
      );
    };
  }

  const watchdog = watchdogInterval(env, pid);
  let timer: NodeJS.Timeout | undefined;
  let mainSent = false;
  const withStatus = (lines: string[], status: string | undefined): string[] => (status === undefined ? lines : [...lines, `STATUS=${oneLine(status)}`]);
  return {
    enabled: true,
    ready(status) {
      const lines = withStatus(['READY=1'], status);
      if (!mainSent) lines.push(`MAINPID=${pid}`);
      mainSent = true;
      send(lines);
      if (watchdog !== undefined && timer === undefined) {
        // systemd counts the watchdog from the end of the start-up: ping at half its period
        timer = setInterval(() => send(['WATCHDOG=1']), watchdog);
        timer.unref();
      }
    },
    reloading(status) {
      send(withStatus(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`], status));
    },
    stopping(status) {
      send(withStatus(['STOPPING=1'], status));
    },
    status(text) {
      send([`STATUS=${oneLine(text)}`]);
    },
    async close() {
      clearInterval(timer);
      timer = undefined;
      await pending;
    },
  };
}

/** A notifier that says nothing (no NOTIFY_SOCKET, or no means to reach it). */
function silentNotifier(enabled = false): Notifier {
  const nothing = (): void => undefined;
  return { enabled, ready: nothing, reloading: nothing, stopping: nothing, status: nothing, close: () => Promise.resolve() };
}

/**
 * The watchdog period to ping at, in ms: half WATCHDOG_USEC, when it is set and meant for this
 * process (WATCHDOG_PID absent or ours); undefined otherwise.
 */
export function watchdogInterval(env: Readonly<Record<string, string | undefined>>, pid: number): number | undefined {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  const target = env['WATCHDOG_PID'];
  if (target !== undefined && target !== '' && Number(target) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2 / 1000));
}

/** CLOCK_MONOTONIC in µs: Node's hrtime is that clock on Linux (libuv's uv_hrtime). */
function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}

/** A STATUS value is one line of the protocol's newline-separated assignments. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** The path of an executable named `name` on `path`, if any. */
function onPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here: the next folder of PATH
    }
  }
  return undefined;
}
