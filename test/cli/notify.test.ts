import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { fieldsOf, needNotifyAddon, openNotifyReceiver, type NotifyReceiver } from '../helpers/notify-receiver.js';

const addon = needNotifyAddon();
const makeDir = useManifestDirs();
const running: CliProcess[] = [];
const receivers: NotifyReceiver[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
  for (const r of receivers.splice(0)) r.close();
});

const MANIFEST = 'services:\n  web:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n';
const app = (text: string) => `export default (req, res) => res.end('${text}');\n`;
const first = (d: { message: string }) => d.message.split('\n')[0];

describe.runIf(addon)('hendrix up under a service manager (NOTIFY_SOCKET)', () => {
  it('says READY=1, pings the watchdog, brackets a reload with RELOADING=1 / READY=1 and says STOPPING=1 on SIGTERM — in that order, from its own pid', async () => {
    const r = openNotifyReceiver(addon!);
    receivers.push(r);
    const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': app('one') });
    const p = spawnCli(['up'], { cwd: dir, env: { NOTIFY_SOCKET: r.socket, WATCHDOG_USEC: '200000' } });
    running.push(p);
    const readyLine = await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'));
    const pid = p.process.pid!;

    const ready = await r.waitFor((d) => first(d) === 'READY=1');
    expect(fieldsOf(ready.message)).toEqual({ READY: '1', STATUS: `ready: web ${addressOf(readyLine, 'web')}`, MAINPID: String(pid) });
    // two watchdog pings after READY=1 (every WATCHDOG_USEC/2)
    const ping = await r.waitFor((d) => d.message === 'WATCHDOG=1');
    await r.waitFor((d) => d.message === 'WATCHDOG=1', r.received.indexOf(ping) + 1);

    writeFileSync(join(dir, 'app.mjs'), app('two'));
    const mark = r.received.length;
    const before = addon!.monotonicUsec();
    const reload = await runCli(['reload'], { cwd: dir });
    expect(reload.code, reload.stderr).toBe(0);
    const reloading = await r.waitFor((d) => first(d) === 'RELOADING=1', mark);
    const usec = Number(fieldsOf(reloading.message)['MONOTONIC_USEC']);
    expect(usec).toBeGreaterThanOrEqual(before);
    expect(usec).toBeLessThanOrEqual(addon!.monotonicUsec());
    await r.waitFor((d) => first(d) === 'READY=1', r.received.indexOf(reloading) + 1);

    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    await r.waitFor((d) => first(d) === 'STOPPING=1');

    const told = r.received.filter((d) => d.message !== 'WATCHDOG=1');
    expect(told.map(first)).toEqual(['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1']);
    // every message from hendrix's main process: what NotifyAccess=main accepts
    expect(new Set(r.received.map((d) => d.pid))).toEqual(new Set([pid]));
    // READY=1 after the reload carries the status again, MAINPID only the first time
    expect(fieldsOf(told[2]!.message)).toEqual({ READY: '1', STATUS: `ready: web ${addressOf(readyLine, 'web')}` });
  });

  it('a notify socket that is not there costs one warning; the graph runs and stops as usual', async () => {
    const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': app('one') });
    const p = spawnCli(['up'], { cwd: dir, env: { NOTIFY_SOCKET: join(dir, 'nobody.sock') } });
    running.push(p);
    await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('ready:'));
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    const warnings = p
      .stdout()
      .split('\n')
      .filter((l) => l.includes('HX_ERR_NOTIFY'));
    expect(warnings).toHaveLength(1);
  });
});
