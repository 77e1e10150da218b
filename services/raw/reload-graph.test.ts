import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { up, type Hendrix } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import type { HubHandle } from '../pubsub/handle.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { Capture, payloadText } from '../../test/helpers/raw/test-harness.js';

/**
 * `hendrix reload` of a graph with a raw service, through the real orchestrator: an edited
 * manifest is applied in place (the interface too), a replaced hub is followed by a rebind,
 * and a next config the service refuses is rolled back with the old one still sending.
 */

const dirs = useManifestDirs();

describe.runIf(canMakeNetns())('reloading a graph with a raw service (up() and handle.reload())', () => {
  let ns: TestNetns;
  let captureB: Capture;
  let captureD: Capture;
  let app: Hendrix | undefined;

  beforeAll(() => {
    ns = createNetns('graph');
    const a = ns.veth('hxa', 'hxb').a;
    const c = ns.veth('hxc', 'hxd').a;
    const ours = (f: Buffer) => (f.subarray(6, 12).equals(a) || f.subarray(6, 12).equals(c)) && f.readUInt16BE(12) === 0x88b5;
    captureB = new Capture('hxb', ns.path, ours);
    captureD = new Capture('hxd', ns.path, ours);
  });
  afterAll(async () => {
    await app?.stop();
    captureB?.close();
    captureD?.close();
    ns?.remove();
  });

  // a unix socket per hub address: moving it replaces the hub, with no port to find free
  const manifest = (o: { hub: string; iface: string; payload: string }) =>
    `version: 1\nservices:\n  hub:\n    kind: pubsub\n    listen: ./${o.hub}.sock\n  beacon:\n    kind: raw\n    interface: ${o.iface}\n    netns: ${ns.name}\n    every: 200ms\n    payload: '${o.payload}'\n    from: hub:t\n`;

  /** Waits for the frame carrying `text` among those captured on `capture`. */
  async function frameWith(capture: Capture, text: string): Promise<string> {
    for (let n = 1; ; n++) {
      const texts = (await capture.take(n, 5_000)).map(payloadText);
      const found = texts.find((t) => t.endsWith(` ${text}`));
      if (found !== undefined) return found;
    }
  }

  it('in place (payload and interface), rebind after the hub is replaced, a refused config rolled back', async () => {
    const dir = dirs({ 'hendrix.yaml': manifest({ hub: 'a', iface: 'hxa', payload: 'one $${seq} $${data}' }) });
    const file = join(dir, 'hendrix.yaml');
    app = await up(file, { environment: {}, logger: createSilentLogger(), handleFaults: false });
    await app.handle<HubHandle>('hub').publish('t', 'first');
    expect(await frameWith(captureB, 'first')).toMatch(/^one \d+ first$/);

    writeFileSync(file, manifest({ hub: 'a', iface: 'hxc', payload: 'two $${seq} $${data}' }));
    const inPlace = await app.reload();
    expect(inPlace.diff.changed.map((c) => [c.name, c.mode])).toEqual([['beacon', 'in-place']]);
    await app.handle<HubHandle>('hub').publish('t', 'second');
    expect(await frameWith(captureD, 'second')).toMatch(/^two \d+ second$/);
    // one emitter throughout: ${seq} goes on from one interface to the other, no number twice or skipped
    const seqs = [...captureB.frames, ...captureD.frames].map((f) => Number(payloadText(f).split(' ')[1])).sort((x, y) => x - y);
    expect(seqs).toEqual(seqs.map((_, i) => i));

    writeFileSync(file, manifest({ hub: 'b', iface: 'hxc', payload: 'two $${seq} $${data}' }));
    const replaced = await app.reload();
    expect(replaced.diff.changed.map((c) => [c.name, c.mode])).toEqual([['hub', 'replace']]);
    expect(replaced.report?.steps).toContainEqual(expect.objectContaining({ service: 'beacon', action: 'rebind' }));
    await app.handle<HubHandle>('hub').publish('t', 'third');
    expect(await frameWith(captureD, 'third')).toMatch(/^two \d+ third$/);

    writeFileSync(file, manifest({ hub: 'b', iface: 'hxc', payload: 'x'.repeat(1501) }));
    const error = (await app.reload().then(
      () => undefined,
      (e: unknown) => e,
    )) as HendrixError | undefined;
    expect(error?.code).toBe('HX_ERR_RELOAD_FAILED');
    expect((error?.cause as HendrixError | undefined)?.code).toBe('HX_ERR_RAW_FRAME_TOO_BIG');
    expect(error?.path).toEqual(['services', 'beacon', 'payload']);
    await app.handle<HubHandle>('hub').publish('t', 'fourth');
    expect(await frameWith(captureD, 'fourth')).toMatch(/^two \d+ fourth$/);
  });
});
