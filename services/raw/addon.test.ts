import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { ADDON_PATH, AddonMissing, loadRawAddon, netnsPath, packageRoot } from './addon.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('loading the addon', () => {
  it('finds the package folder from source, dist and bundle alike', () => {
    expect(packageRoot()).toBe(ROOT.replace(/\/$/, ''));
    expect(packageRoot(`${ROOT}dist/bundle/chunks/service-abc.js`)).toBe(ROOT.replace(/\/$/, ''));
    expect(packageRoot('/')).toBeUndefined();
  });

  it('says where it looked when the addon is not built', () => {
    expect(() => loadRawAddon('/nowhere')).toThrow(new AddonMissing(`/nowhere/${ADDON_PATH}`, 'is not built'));
  });

  it('names namespaces by name or path', () => {
    expect(netnsPath('blue')).toBe('/run/netns/blue');
    expect(netnsPath('/proc/42/ns/net')).toBe('/proc/42/ns/net');
  });
});

/**
 * Where the misuse fixture runs: as root, in a namespace this file makes; otherwise in a user
 * and network namespace of its own (`unshare -rn`), where it may make its veth pair itself.
 */
const root = process.getuid?.() === 0;
const unshare = !root && spawnSync('unshare', ['-rn', 'true'], { stdio: 'ignore' }).status === 0;

describe.runIf(unshare || canMakeNetns())('the addon survives misuse and never holds the event loop once closed', () => {
  let ns: TestNetns | undefined;
  beforeAll(() => {
    if (unshare) return;
    ns = createNetns('misuse');
    ns.veth('hxa', 'hxb');
  });
  afterAll(() => ns?.remove());

  it('close twice, calls after close, failed opens, bad arguments, sockets dropped without close', async () => {
    const fixture = fileURLToPath(new URL('../../test/fixtures/raw/misuse.mjs', import.meta.url));
    const node = [process.execPath, '--expose-gc', fixture, `${ROOT}${ADDON_PATH}`];
    const child =
      ns !== undefined
        ? spawn(node[0]!, [...node.slice(1), ns.path, 'hxa', 'hxb'], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('unshare', ['-rn', 'sh', '-c', 'ip link add hxa type veth peer name hxb && ip link set hxa up && ip link set hxb up && exec "$@" "" hxa hxb', 'sh', ...node], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = performance.now();
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    // it exits on its own right after printing (about 150 ms of timers), nothing left open
    expect(performance.now() - started).toBeLessThan(3_000);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      openMissing: { error: 'ENODEV' },
      openBadNetns: { error: 'ENOENT' },
      infoMissing: { error: 'ENODEV' },
      noNew: { type: 'TypeError' },
      noName: { error: 'EINVAL', type: 'TypeError' },
      longName: { error: 'EINVAL', type: 'TypeError' },
      closeOnPlainObject: { type: 'TypeError' },
      sendOpen: { value: 60 },
      sendString: { type: 'TypeError' },
      sendBatchNotBuffers: { type: 'TypeError' },
      sendBatchNotArray: { type: 'TypeError' },
      startReceiveNoCallback: { type: 'TypeError' },
      recvOnSendSocket: { value: null },
      close: { value: null },
      closeAgain: { value: null },
      closed: { value: true },
      sendAfterClose: { value: -9 },
      sendBatchAfterClose: { value: -9 },
      recvAfterClose: { error: 'EBADF' },
      startReceiveAfterClose: { error: 'EBADF' },
      waitWritableAfterClose: { error: 'EBADF' },
      stopReceiveAfterClose: { value: null },
      refAfterClose: { value: true },
      openedBeforeGc: 20,
      // the 20 dropped sockets are closed by their finalizers; the one left is the unref'd receiver, still open
      leakedAfterGc: 1,
      delivered: expect.any(Number),
    });
    expect(out['delivered']).toBeGreaterThanOrEqual(1);
  });
});
