import { afterEach, describe, expect, it } from 'vitest';
import { createNotifier, watchdogInterval } from '../../src/runtime/notify.js';
import { needCommand } from '../helpers/system-command.js';
import { createCapturingLogger } from '../helpers/http/test-context.js';
import { fieldsOf, needNotifyAddon, openNotifyReceiver, type NotifyReceiver } from '../helpers/notify-receiver.js';

const addon = needNotifyAddon();
const receivers: NotifyReceiver[] = [];
afterEach(() => {
  for (const r of receivers.splice(0)) r.close();
});

function receiver(kind: 'path' | 'abstract' = 'path'): NotifyReceiver {
  const r = openNotifyReceiver(addon!, kind);
  receivers.push(r);
  return r;
}

describe.runIf(addon)('the notifier, through the notify addon', () => {
  it('sends READY=1 with STATUS and MAINPID once, RELOADING=1 with MONOTONIC_USEC, STOPPING=1 — to an abstract socket, from this pid', async () => {
    const r = receiver('abstract');
    const { log } = createCapturingLogger();
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: r.socket }, log });
    expect(notifier.enabled).toBe(true);
    notifier.ready('ready: web http://127.0.0.1:1');
    const before = addon!.monotonicUsec();
    notifier.reloading();
    const after = addon!.monotonicUsec();
    notifier.ready('ready: again');
    notifier.stopping('stopping');
    await r.waitFor((d) => d.message.startsWith('STOPPING=1'));
    await notifier.close();
    expect(r.received.map((d) => d.pid)).toEqual([process.pid, process.pid, process.pid, process.pid]);
    const [ready, reloading, again, stopping] = r.received.map((d) => fieldsOf(d.message));
    expect(ready).toEqual({ READY: '1', STATUS: 'ready: web http://127.0.0.1:1', MAINPID: String(process.pid) });
    expect(Object.keys(reloading!)).toEqual(['RELOADING', 'MONOTONIC_USEC']);
    // the clock systemd compares with: CLOCK_MONOTONIC, read between the two readings around the call
    const usec = Number(reloading!['MONOTONIC_USEC']);
    expect(usec).toBeGreaterThanOrEqual(before);
    expect(usec).toBeLessThanOrEqual(after);
    expect(again).toEqual({ READY: '1', STATUS: 'ready: again' });
    expect(stopping).toEqual({ STOPPING: '1', STATUS: 'stopping' });
  });

  it('pings the watchdog at WATCHDOG_USEC/2 once ready, and not before', async () => {
    const r = receiver();
    const { log } = createCapturingLogger();
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: r.socket, WATCHDOG_USEC: '20000' }, log });
    notifier.status('starting');
    notifier.ready('ready');
    const first = await r.waitFor((d) => d.message === 'WATCHDOG=1');
    await r.waitFor((d) => d.message === 'WATCHDOG=1', r.received.indexOf(first) + 1);
    await notifier.close();
    expect(r.received.slice(0, 2).map((d) => d.message.split('\n')[0])).toEqual(['STATUS=starting', 'READY=1']);
  });

  it('warns once (HX_ERR_NOTIFY) when the socket is not there, and goes on', async () => {
    const { log, lines } = createCapturingLogger();
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: '/nonexistent/notify.sock' }, log });
    notifier.ready('ready');
    notifier.stopping();
    await notifier.close();
    expect(lines.filter((l) => l['level'] === 40).map((l) => [l['code'], l['msg']])).toEqual([
      ['HX_ERR_NOTIFY', 'cannot notify the service manager at /nonexistent/notify.sock: sendto /nonexistent/notify.sock: ENOENT (No such file or directory)'],
    ]);
  });
});

describe.runIf(addon && needCommand('systemd-notify', 'systemd'))('the notifier without the addon', () => {
  it('sends through the systemd-notify binary, in order', async () => {
    const r = receiver();
    const { log, lines } = createCapturingLogger();
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: r.socket, PATH: process.env['PATH'] }, log, addon: null });
    notifier.ready('ready: web');
    notifier.reloading();
    notifier.ready('ready: web');
    notifier.stopping();
    await notifier.close();
    await r.waitFor((d) => d.message.startsWith('STOPPING=1'));
    expect(r.received.map((d) => d.message.split('\n')[0])).toEqual(['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    // sent by the child, in hendrix's name when it may (root: systemd-notify sends with its parent's
    // pid); otherwise as itself, and a unit needs NotifyAccess=all for them (docs/deploy.md)
    const root = process.getuid?.() === 0;
    expect(r.received.every((d) => (d.pid === process.pid) === root)).toBe(true);
    expect(fieldsOf(r.received[0]!.message)).toEqual({ READY: '1', STATUS: 'ready: web', MAINPID: String(process.pid) });
    expect(lines.filter((l) => l['level'] === 40)).toEqual([]);
  });
});

describe('the notifier with nothing to send with', () => {
  it('warns once that it cannot notify, and stays silent', async () => {
    const { log, lines } = createCapturingLogger();
    const notifier = createNotifier({ env: { NOTIFY_SOCKET: '/run/notify', PATH: '' }, log, addon: null });
    notifier.ready('ready');
    notifier.stopping();
    await notifier.close();
    const warnings = lines.filter((l) => l['level'] === 40);
    expect(warnings.map((l) => l['code'])).toEqual(['HX_ERR_NOTIFY']);
    expect(warnings[0]?.['msg']).toBe('NOTIFY_SOCKET is set but hendrix cannot notify: the notify addon is not used, and systemd-notify is not on PATH');
  });

  it('without NOTIFY_SOCKET says nothing at all', async () => {
    const { log, lines } = createCapturingLogger();
    const notifier = createNotifier({ env: { PATH: '' }, log, addon: null });
    expect(notifier.enabled).toBe(false);
    notifier.ready('ready');
    await notifier.close();
    expect(lines).toEqual([]);
  });
});

describe('watchdogInterval', () => {
  it('is half WATCHDOG_USEC in ms, for this process only', () => {
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000' }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42)).toBe(15_000);
    expect(watchdogInterval({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, 42)).toBe(undefined);
    expect(watchdogInterval({ WATCHDOG_USEC: '0' }, 42)).toBe(undefined);
    expect(watchdogInterval({ WATCHDOG_USEC: 'soon' }, 42)).toBe(undefined);
    expect(watchdogInterval({}, 42)).toBe(undefined);
  });
});
