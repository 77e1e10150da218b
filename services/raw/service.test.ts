import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { formatMac } from './mac.js';
import { Capture, MemoryHub, ethertypeOfFrame, startRaw, stopRaw } from '../../test/helpers/raw/test-harness.js';

const run = canMakeNetns();

/** A frame as the test expects it: header, payload, zeros up to `length`. */
function frame(parts: { dst?: string; src: Buffer; vlan?: number; ethertype?: number; payload?: Buffer | string; length?: number }): string {
  const header = Buffer.alloc(parts.vlan === undefined ? 14 : 18);
  Buffer.from((parts.dst ?? 'ffffffffffff').replaceAll(':', ''), 'hex').copy(header, 0);
  parts.src.copy(header, 6);
  if (parts.vlan !== undefined) {
    header.writeUInt16BE(0x8100, 12);
    header.writeUInt16BE(parts.vlan, 14);
  }
  header.writeUInt16BE(parts.ethertype ?? 0x88b5, header.length - 2);
  const body = Buffer.concat([header, Buffer.from(parts.payload ?? '')]);
  const length = Math.max(parts.length ?? (parts.vlan === undefined ? 60 : 64), body.length);
  return Buffer.concat([body, Buffer.alloc(length - body.length)]).toString('hex');
}

describe.runIf(run)('raw frames on a veth pair, captured on the other end', () => {
  let ns: TestNetns;
  let macA: Buffer;
  let capture: Capture;

  beforeAll(() => {
    ns = createNetns('svc');
    macA = ns.veth('hxa', 'hxb').a;
    // keep only our frames: IPv6 autoconfiguration also crosses a fresh veth pair
    const sources = [macA, Buffer.from('020000000042', 'hex')];
    capture = new Capture('hxb', ns.path, (f) => sources.some((s) => f.subarray(6, 12).equals(s)) && [0x88b5, 0x88b6, 0x0842].includes(ethertypeOfFrame(f)));
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

  it('a text payload: broadcast, the interface MAC as source, 0x88b5, zeros up to 60 bytes', async () => {
    const { service } = await startRaw({ ...base(), payload: 'hello', every: '1h' });
    const [got] = await capture.take(1);
    expect(got!.bytes.toString('hex')).toBe(frame({ src: macA, payload: 'hello' }));
    expect(service.address()).toBe(`raw:hxa@${ns.name}`);
    expect(service.handle().interface).toEqual({ name: 'hxa', index: expect.any(Number), mac: formatMac(macA), mtu: 1500 });
  });

  it('destination, source and EtherType as configured (MAC forms normalized, hex EtherType)', async () => {
    await startRaw({ ...base(), destination: '02-00-00-00-00-99', source: '0200.0000.0042', ethertype: '0x88b6', payload: 'x', every: '1h' });
    const [got] = await capture.take(1);
    expect(got!.bytes.toString('hex')).toBe(frame({ dst: '020000000099', src: Buffer.from('020000000042', 'hex'), ethertype: 0x88b6, payload: 'x' }));
  });

  it('a VLAN tag (id, priority, DEI) before the EtherType, tagged frames padded to 64 bytes', async () => {
    await startRaw({ ...base(), vlan: { id: 100, priority: 5, dei: true }, payload: 'tagged', every: '1h' });
    const [got] = await capture.take(1);
    expect(got!.bytes.length).toBe(64);
    expect(got!.bytes.toString('hex')).toBe(frame({ src: macA, vlan: (5 << 13) | 0x1000 | 100, payload: 'tagged' }));
  });

  it('hex and base64 payloads; a payload above 46 bytes is not padded', async () => {
    await startRaw({ ...base(), payload: 'hex:de:ad be-ef 00 01', every: '1h' });
    const [hex] = await capture.take(1);
    expect(hex!.bytes.toString('hex')).toBe(frame({ src: macA, payload: Buffer.from('deadbeef0001', 'hex') }));
    await stopRaw();
    capture.clear();
    const long = Buffer.alloc(100, 7);
    await startRaw({ ...base(), payload: `base64:${long.toString('base64')}`, every: '1h' });
    const [b64] = await capture.take(1);
    expect(b64!.bytes.length).toBe(114);
    expect(b64!.bytes.toString('hex')).toBe(frame({ src: macA, payload: long }));
  });

  it('templates: ${seq} counts frames from 0, ${ts} is the time the frame was built', async () => {
    const before = Date.now();
    await startRaw({ ...base(), payload: 'n=${seq} t=${ts}', every: '20ms' });
    const frames = await capture.take(3);
    const after = Date.now();
    const texts = frames.map((f) => f.bytes.subarray(14).toString('latin1').replace(/\0+$/, ''));
    texts.forEach((text, i) => {
      const m = /^n=(\d+) t=(\d+)$/.exec(text);
      expect(m, text).not.toBeNull();
      expect(Number(m![1])).toBe(i);
      expect(Number(m![2])).toBeGreaterThanOrEqual(before);
      expect(Number(m![2])).toBeLessThanOrEqual(after);
    });
  });

  it('every: the first frame at start, then on schedule without drift', async () => {
    const started = performance.now();
    await startRaw({ ...base(), payload: 'tick', every: '50ms' });
    const frames = await capture.take(7);
    expect(frames[0]!.at - started).toBeLessThan(60);
    const span = frames[6]!.at - frames[0]!.at;
    // six intervals of 50 ms: timers fire late, never early, and lateness does not add up
    expect(span).toBeGreaterThanOrEqual(295);
    expect(span).toBeLessThan(400);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.at - frames[i - 1]!.at).toBeGreaterThan(25);
  });

  it('from a hub topic: one frame per message; text, JSON, { hex }, templates with ${data}, ${topic}, ${id}', async () => {
    const hub = new MemoryHub();
    await startRaw({ ...base(), from: 'hub:alerts.>' }, { peers: { hub } });
    expect(hub.subscriptions).toBe(1);
    await hub.publish('alerts.disk', 'disk full');
    await hub.publish('alerts.cpu', { load: 9.5 });
    await hub.publish('alerts.raw', { hex: '0102 0304' });
    await hub.publish('other', 'not for us');
    const frames = await capture.take(3);
    expect(frames.map((f) => f.bytes.toString('hex'))).toEqual([
      frame({ src: macA, payload: 'disk full' }),
      frame({ src: macA, payload: '{"load":9.5}' }),
      frame({ src: macA, payload: Buffer.from('01020304', 'hex') }),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(capture.frames).toHaveLength(3);
    await stopRaw();
    expect(hub.subscriptions).toBe(0);
    capture.clear();

    await startRaw({ ...base(), from: ['hub:a', 'hub:b'], payload: '[${topic} ${id} #${seq}] ${data}' }, { peers: { hub } });
    await hub.publish('a', 'first');
    await hub.publish('b', 2);
    const templated = await capture.take(2);
    expect(templated.map((f) => f.bytes.subarray(14).toString('utf8').replace(/\0+$/, ''))).toEqual(['[a 1:5 #0] first', '[b 1:6 #1] 2']);
  });

  it('every and from together: periodic frames carry the latest message', async () => {
    const hub = new MemoryHub();
    await startRaw({ ...base(), from: 'hub:state', payload: 'state=${data}', every: '40ms' }, { peers: { hub } });
    await capture.take(1);
    await hub.publish('state', 'green');
    await new Promise((r) => setTimeout(r, 100));
    const texts = capture.frames.map((f) => f.bytes.subarray(14).toString('utf8').replace(/\0+$/, ''));
    expect(texts[0]).toBe('state=');
    expect(texts.slice(1)).toContain('state=green');
    expect(texts.at(-1)).toBe('state=green');
  });

  it('Wake-on-LAN: magic packets with EtherType 0x0842 (and a SecureOn password), a message names the machine', async () => {
    const hub = new MemoryHub();
    await startRaw({ ...base(), wakeOnLan: { mac: '00:11:22:33:44:55', password: 'a1:b2:c3:d4:e5:f6' }, from: 'hub:wake' }, { peers: { hub } });
    await hub.publish('wake', {}); // no MAC in the message: the configured one
    await hub.publish('wake', '66-77-88-99-aa-bb');
    await hub.publish('wake', { mac: '665544332211' });
    const frames = await capture.take(3);
    const magic = (mac: string, password = '') => Buffer.from(`${'ff'.repeat(6)}${mac.repeat(16)}${password}`, 'hex');
    expect(frames.map((f) => f.bytes.toString('hex'))).toEqual([
      frame({ src: macA, ethertype: 0x0842, payload: magic('001122334455', 'a1b2c3d4e5f6') }),
      frame({ src: macA, ethertype: 0x0842, payload: magic('66778899aabb', 'a1b2c3d4e5f6') }),
      frame({ src: macA, ethertype: 0x0842, payload: magic('665544332211', 'a1b2c3d4e5f6') }),
    ]);
    expect(frames[0]!.bytes.length).toBe(14 + 6 + 96 + 6);
  });

  it('the handle sends frames for dependents and counts them', async () => {
    const { service } = await startRaw({ ...base(), payload: 'app:${data}' });
    const handle = service.handle();
    expect(handle.send('one')).toBe(true);
    expect(handle.send(new Uint8Array([0x41, 0x42]))).toBe(true);
    const frames = await capture.take(2);
    expect(frames.map((f) => f.bytes.subarray(14, 20).toString('latin1').replace(/\0+$/, ''))).toEqual(['app:on', 'app:AB']);
    expect(handle.stats()).toEqual({ sent: 2, dropped: 0, queued: 0 });
  });

  it('maxRate spaces frames out; maxQueue drops the excess with a warning', async () => {
    const { log, lines } = createCapturingLogger();
    const { service } = await startRaw({ ...base(), maxRate: 50, maxQueue: 10 }, { log });
    const handle = service.handle();
    const started = performance.now();
    const accepted = Array.from({ length: 15 }, (_, i) => handle.send(`f${i}`));
    expect(accepted.filter(Boolean)).toHaveLength(10);
    const frames = await capture.take(10);
    // a burst of 5 (a tenth of a second at 50/s), then one frame every 20 ms
    expect(frames[9]!.at - started).toBeGreaterThanOrEqual(90);
    expect(frames[4]!.at - started).toBeLessThan(80);
    expect(handle.stats()).toMatchObject({ sent: 10, dropped: 5 });
    expect(lines.find((l) => l['code'] === 'HX_ERR_RAW_QUEUE_FULL')).toMatchObject({ level: 40, msg: 'frames dropped: the send queue is full' });
  });

  it('stop sends what is queued first; a forced stop drops the rest and says so', async () => {
    const { service } = await startRaw({ ...base(), maxRate: 100 });
    for (let i = 0; i < 25; i++) service.handle().send(`q${i}`);
    await service.stop(AbortSignal.timeout(2_000));
    await capture.take(25, 500);
    expect(capture.frames).toHaveLength(25);
    capture.clear();

    const { log, lines } = createCapturingLogger();
    const forced = await startRaw({ ...base(), maxRate: 100 }, { log });
    for (let i = 0; i < 25; i++) forced.service.handle().send(`q${i}`);
    await forced.service.stop(AbortSignal.abort());
    await new Promise((r) => setTimeout(r, 100));
    expect(capture.frames.length).toBeLessThan(25);
    expect(lines.find((l) => l['msg'] === 'stop forced: queued frames dropped')).toBeDefined();
    expect(forced.service.handle().send('late')).toBe(false);
  });

  it('starts again after a stop on the same instance', async () => {
    const { service } = await startRaw({ ...base(), payload: 'again', every: '1h' });
    await capture.take(1);
    await service.stop(AbortSignal.timeout(1_000));
    await service.start(AbortSignal.timeout(1_000));
    await capture.take(2);
    // a second start() on a running instance is the orchestrator's to refuse (it never calls one)
    await service.stop(AbortSignal.timeout(1_000));
  });
});
