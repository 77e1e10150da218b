import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { figure, figureProblems } from '../../test/helpers/figures.js';
import { until } from '../../test/helpers/http/test-client.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { Capture, MemoryHub, startRaw, stopRaw } from '../../test/helpers/raw/test-harness.js';

const run = canMakeNetns();

describe.runIf(run)('raw figures, frames captured on the other end of a veth pair', () => {
  let ns: TestNetns;
  let macA: Buffer;
  let capture: Capture;

  beforeAll(() => {
    ns = createNetns('fig');
    macA = ns.veth('hxa', 'hxb', { mtu: 100 }).a;
    capture = new Capture('hxb', ns.path, (f) => f.subarray(6, 12).equals(macA) && f.readUInt16BE(12) === 0x88b5);
  });
  afterAll(() => {
    capture?.close();
    ns?.remove();
  });
  afterEach(async () => {
    await stopRaw();
    capture.clear();
  });

  it('counts the frames the kernel took, and those refused or dropped as errors', async () => {
    const hub = new MemoryHub();
    const { service } = await startRaw({ interface: 'hxa', netns: ns.name, from: 'hub:t', maxRate: 10, maxQueue: 2 }, { peers: { hub } });
    expect(figureProblems(service, ['raw'])).toEqual([]);
    expect([figure(service, 'raw_frames_sent_total'), figure(service, 'raw_errors_total')]).toEqual([0, 0]);

    // a queue of two: three of five dropped
    const accepted = ['a', 'b', 'c', 'd', 'e'].map((text) => service.handle().send(text));
    expect(accepted.filter(Boolean)).toHaveLength(2);
    expect(figure(service, 'raw_errors_total')).toBe(3);
    await capture.take(2);
    await until(() => figure(service, 'raw_frames_sent_total') === 2);

    // over the MTU of 100, and data that makes no payload: refused before the queue
    await hub.publish('t', 'y'.repeat(101));
    await hub.publish('t', { hex: 'xyz' });
    expect(figure(service, 'raw_errors_total')).toBe(5);

    await hub.publish('t', 'fits');
    await capture.take(3);
    await until(() => figure(service, 'raw_frames_sent_total') === 3);
    expect(capture.frames).toHaveLength(3);
    expect(figure(service, 'raw_errors_total')).toBe(5);
  });
});
