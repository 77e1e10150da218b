import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/log/logger.js';
import { up, type Hendrix } from '../../src/index.js';
import { canMakeNetns } from '../../test/helpers/netns.js';
import { Capture, ethertypeOfFrame } from '../../test/helpers/raw/test-harness.js';

const manifest = fileURLToPath(new URL('../../examples/beacon/hendrix.yaml', import.meta.url));

// lo of the machine itself: frames sent there never leave it
describe.runIf(canMakeNetns())('examples/beacon: a beacon, hub-driven announcements and Wake-on-LAN on lo', () => {
  let app: Hendrix | undefined;
  let capture: Capture | undefined;
  afterAll(async () => {
    capture?.close();
    await app?.stop();
  });

  it('starts the raw services after the hub, beacons, and turns published messages into frames', async () => {
    const magic = Buffer.from(`${'ff'.repeat(6)}${'001122334455'.repeat(16)}`, 'hex');
    capture = new Capture('lo', '', (f) => {
      const type = ethertypeOfFrame(f);
      return (type === 0x88b5 && f.subarray(14, 28).toString('latin1') === 'hendrix beacon') || type === 0x88b6 || (type === 0x0842 && f.subarray(14, 116).equals(magic));
    });
    app = await up(manifest, { environment: { HUB_PORT: '0' }, logger: createSilentLogger() });
    const order = app.graph.order;
    for (const raw of ['beacon', 'announce', 'wake']) expect(order.indexOf(raw)).toBeGreaterThan(order.indexOf('hub'));
    expect(app.addresses()['beacon']).toBe('raw:lo');
    const hub = (app.addresses()['hub'] as string).replace(/^ws/, 'http');
    const publish = (topic: string, data: unknown) =>
      fetch(`${hub}/publish/${topic}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) }).then((r) => r.status);
    // lo is shared with the rest of the machine: a busy moment can drop a frame, so publish until one arrives
    const until = async (what: string, seen: () => boolean, act: () => Promise<unknown>) => {
      for (const deadline = performance.now() + 5_000; !seen(); await new Promise((r) => setTimeout(r, 200))) {
        if (performance.now() > deadline) throw new Error(`no frame for ${what}`);
        await act();
      }
    };
    const texts = () => capture!.frames.map((f) => f.bytes.subarray(14).toString('latin1').replace(/\0+$/, ''));
    await until('announce.door', () => texts().includes('announce.door: door open'), async () => expect(await publish('announce.door', 'door open')).toBe(202));
    await until('wake.office', () => capture!.frames.some((f) => ethertypeOfFrame(f.bytes) === 0x0842), async () => expect(await publish('wake.office', '00:11:22:33:44:55')).toBe(202));
    await until('the beacon', () => texts().some((t) => /^hendrix beacon #\d+ at \d{13}$/.test(t)), () => Promise.resolve());
  });
});
