import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNotifyAddon, type NotifyAddon, type NotifyDatagram } from '../../src/runtime/notify-addon.js';

/**
 * The notify addon (build/Release/hendrix_notify.node), which the receiving side of the tests
 * needs. When it is not built: in CI (`CI=true`) throws, so the suite fails (`.ci/run` builds
 * it with `npm ci`); elsewhere prints why and returns undefined, for `describe.runIf(...)`.
 */
export function needNotifyAddon(): NotifyAddon | undefined {
  const { addon, reason } = loadNotifyAddon();
  if (addon) return addon;
  const message = `the notify tests need the notify addon: ${reason} (npm run build:addon; needs python3, make and g++)`;
  if (process.env['CI'] === 'true') throw new Error(message);
  process.stderr.write(`skipped: ${message}\n`);
  return undefined;
}

/** The service manager's side of a notify socket, as a test plays it. */
export interface NotifyReceiver {
  /** What NOTIFY_SOCKET is to be: a path, or `@name` for an abstract socket. */
  readonly socket: string;
  /** Every datagram received so far, in order. */
  readonly received: NotifyDatagram[];
  /** Resolves with the first datagram from index `from` on that `test` accepts (polls; rejects after `ms`). */
  waitFor(test: (d: NotifyDatagram) => boolean, from?: number, ms?: number): Promise<NotifyDatagram>;
  close(): void;
}

/** Binds a datagram socket for NOTIFY_SOCKET: a path in a fresh folder, or an abstract name. */
export function openNotifyReceiver(addon: NotifyAddon, kind: 'path' | 'abstract' = 'path'): NotifyReceiver {
  const dir = kind === 'path' ? mkdtempSync(join(tmpdir(), 'hendrix-notify-')) : undefined;
  const socket = dir ? join(dir, 'notify.sock') : `@hendrix-notify-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = addon.openReceiver(socket);
  const received: NotifyDatagram[] = [];
  let closed = false;
  const drain = (): void => {
    if (closed) return;
    for (let d = addon.receive(fd); d !== null; d = addon.receive(fd)) received.push(d);
  };
  return {
    socket,
    received,
    async waitFor(test, from = 0, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        drain();
        const found = received.slice(from).find(test);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no such notify message; received: ${JSON.stringify(received.map((d) => d.message))}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close() {
      if (closed) return;
      drain();
      closed = true;
      addon.closeReceiver(fd);
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The assignments of a notify message: `READY=1\nSTATUS=…` → { READY: '1', STATUS: '…' }. */
export function fieldsOf(message: string): Record<string, string> {
  return Object.fromEntries(message.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}
