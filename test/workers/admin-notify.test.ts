import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { fieldsOf, needNotifyAddon, openNotifyReceiver, type NotifyReceiver } from '../helpers/notify-receiver.js';
import { isReady, pidApp, processesMarked, until, webManifest, workerPids } from '../helpers/workers.js';

// systemd's notify protocol with workers: the primary is the service's main process and the
// only one that speaks to the notify socket; its workers do not even see NOTIFY_SOCKET.

const addon = needNotifyAddon();
const running: CliProcess[] = [];
const receivers: NotifyReceiver[] = [];
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.process.exitCode !== null || p.process.signalCode !== null) continue;
    p.process.kill('SIGTERM');
    await p.exited();
  }
  for (const r of receivers.splice(0)) r.close();
});
const makeDir = useManifestDirs();

/** The environment of a live process, as a map. */
function environOf(pid: number): Map<string, string> {
  const pairs = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
}

describe.runIf(addon)('systemd notify with workers', () => {
  it('READY=1, RELOADING=1/READY=1 around a reload, STOPPING=1 and the watchdog come from the primary alone; no worker has NOTIFY_SOCKET or WATCHDOG_*', async () => {
    const receiver = openNotifyReceiver(addon!);
    receivers.push(receiver);
    const marker = randomUUID();
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });
    // a watchdog every 2 s: pinged every second by the process systemd watches
    const p = spawnCli(['up'], { cwd: dir, env: { HX_TEST_MARKER: marker, NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '2000000' } });
    running.push(p);
    const ready = await p.waitForLog(isReady, 20_000);
    const primary = p.process.pid!;
    const workers = workerPids(ready);
    expect(workers).toHaveLength(2);

    const first = await receiver.waitFor((d) => fieldsOf(d.message).READY === '1');
    expect(first.pid).toBe(primary);
    expect(fieldsOf(first.message)).toMatchObject({ MAINPID: String(primary) });
    expect(fieldsOf(first.message).STATUS).toMatch(/^ready: web http:\/\/127\.0\.0\.1:\d+ \(2 workers\)$/);
    await receiver.waitFor((d) => d.message === 'WATCHDOG=1');

    for (const pid of workers) {
      const env = environOf(pid);
      expect(env.get('HX_TEST_MARKER')).toBe(marker);
      for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) expect(env.has(name), `${name} in worker ${pid}`).toBe(false);
    }
    // the primary itself keeps them: it is the one systemd knows
    expect(environOf(primary).get('NOTIFY_SOCKET')).toBe(receiver.socket);

    // SIGHUP reloads (nothing changed, but a reload all the same)
    const before = receiver.received.length;
    p.process.kill('SIGHUP');
    const reloading = await receiver.waitFor((d) => fieldsOf(d.message).RELOADING === '1', before);
    const again = await receiver.waitFor((d) => fieldsOf(d.message).READY === '1', receiver.received.indexOf(reloading) + 1);
    expect([reloading.pid, again.pid]).toEqual([primary, primary]);

    p.process.kill('SIGTERM');
    const stopping = await receiver.waitFor((d) => fieldsOf(d.message).STOPPING === '1');
    expect(stopping.pid).toBe(primary);
    expect(await p.exited()).toBe(0);
    await until(() => processesMarked(marker).length === 0, 'every process of the graph to exit');
    receiver.close();
    // every message, watchdog pings included, came from the primary
    expect(new Set(receiver.received.map((d) => d.pid))).toEqual(new Set([primary]));
  });
});
