import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, spawnCli } from '../../test/helpers/cli.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { Capture } from '../../test/helpers/raw/test-harness.js';

// The built CLI (`npm run build` first): the bundle loads the addon from the package folder.
const dirs = useManifestDirs();

describe.runIf(canMakeNetns())('hendrix up with a raw service (the built CLI)', () => {
  let ns: TestNetns;
  let macA: Buffer;
  beforeAll(() => {
    ns = createNetns('cli');
    macA = ns.veth('hxa', 'hxb').a;
  });
  afterAll(() => ns?.remove());

  const manifest = () => `version: 1\nservices:\n  beacon:\n    kind: raw\n    interface: hxa\n    netns: ${ns.name}\n    every: 50ms\n    payload: 'beacon $\${seq}'\n`;

  it('sends the beacon until SIGINT, then stops cleanly', async () => {
    const cwd = dirs({ 'hendrix.yaml': manifest() });
    const capture = new Capture('hxb', ns.path, (f) => f.subarray(6, 12).equals(macA) && f.readUInt16BE(12) === 0x88b5);
    const cli = spawnCli(['up'], { cwd });
    try {
      const ready = await cli.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('ready: '));
      expect(ready['services']).toEqual({ beacon: `raw:hxa@${ns.name}` });
      const frames = await capture.take(3);
      expect(frames.map((f) => f.bytes.subarray(14, 22).toString('latin1'))).toEqual(['beacon 0', 'beacon 1', 'beacon 2']);
      cli.process.kill('SIGINT');
      expect(await cli.exited()).toBe(0);
      // the orchestrator says ready and stopped for the service; the service's own lines say something else
      const beacon = cli
        .stdout()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line['service'] === 'beacon');
      const said = (msg: string) => beacon.filter((line) => line['msg'] === msg).length;
      expect({ ready: said('ready'), stopped: said('stopped') }).toEqual({ ready: 1, stopped: 1 });
      expect(beacon.find((line) => line['msg'] === 'socket open')).toMatchObject({ interface: 'hxa', ethertype: '0x88b5' });
      expect(beacon.find((line) => line['msg'] === 'queue drained')).toMatchObject({ sent: expect.any(Number), dropped: 0 });
    } finally {
      cli.process.kill('SIGKILL');
      capture.close();
    }
  });

  it.runIf(needCommand('setpriv', 'util-linux'))('without CAP_NET_RAW: HX_ERR_RAW_PERMISSION with the setcap hint, exit 1', () => {
    const cwd = dirs({ 'hendrix.yaml': manifest() });
    // root keeps CAP_SYS_ADMIN (to enter the namespace) but loses CAP_NET_RAW, as an ordinary user would
    const result = spawnSync('setpriv', ['--inh-caps=-net_raw', '--bounding-set=-net_raw', process.execPath, BIN, 'up'], {
      cwd,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: '/tmp' },
      timeout: 15_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('error[HX_ERR_RAW_PERMISSION]: opening a raw socket on hxa is not permitted (EPERM): it needs the CAP_NET_RAW capability');
    expect(result.stderr).toMatch(/hint: run hendrix as root, or give node the capability once: sudo setcap cap_net_raw\+ep \//);
    expect(result.stderr).toContain('hendrix.yaml:5:16  (services.beacon.interface)');
  });
});
