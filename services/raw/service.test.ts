import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../http/test-context.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { formatMac } from './mac.js';
import { Capture, MemoryHub, ethertypeOfFrame, startRaw, stopRaw } from './test-harness.js';

const run = canMakeNetns();

describe.runIf(run)('raw frames on a veth pair, captured on the other end', () => {
  let ns: TestNetns;
  let macA: Buffer;
  let capture: Capture;

  beforeAll(() => {
    ns = createNetns('svc');
    macA = ns.veth('hxa', 'hxb').a;
    // keep only frames sent by hxa with our test EtherTypes (IPv6 autoconf also crosses the pair)
    capture = new Capture('hxb', ns.path, (f) => f.subarray(6, 12).equals(macA) || [0x88b5, 0x88b6, 0x0842].includes(ethertypeOfFrame(f)));
  });
  afterAll(() => {
    capture?.close();
    ns?.remove();
  });
  afterEach(async () => {
    await stopRaw();
    capture.clear();
  });

  const base = () => ({ interface: 'hxa', netns: ns.name });

  it('sends a text payload: broadcast, the interface MAC as source, 0x88b5, padded with zeros to 60 bytes', async () => {
    const { service } = await startRaw({ ...base(), payload: 'hello', every: '1h' });
    const [frame] = await capture.take(1);
    const expected = Buffer.alloc(60);
    expected.fill(0xff, 0, 6);
    macA.copy(expected, 6);
    expected.writeUInt16BE(0x88b5, 12);
    expected.write('hello', 14);
    expect(frame!.bytes.toString('hex')).toBe(expected.toString('hex'));
    expect(service.address()).toBe(`raw:hxa@${ns.name}`);
    expect(service.handle().interface).toEqual({ name: 'hxa', index: expect.any(Number), mac: formatMac(macA), mtu: 1500 });
  });
});
