import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { startHub, stopHubs } from '../../test/helpers/pubsub/test-harness.js';
import { Capture, startRaw, stopRaw } from '../../test/helpers/raw/test-harness.js';

/** Publishes over a real WebSocket client and waits for the hub's ack. */
async function publishOverWs(url: string, topic: string, data: unknown): Promise<string> {
  const ws = new WebSocket(url);
  await once(ws, 'open');
  try {
    ws.send(JSON.stringify({ type: 'publish', topic, data, id: 1 }));
    for (;;) {
      const [raw] = (await once(ws, 'message')) as [Buffer];
      const frame = JSON.parse(raw.toString()) as { type: string; id?: number; messageId?: string; message?: string };
      if (frame.type === 'ack' && frame.id === 1) return frame.messageId ?? '';
      if (frame.type === 'error') throw new Error(`publish refused: ${frame.message}`);
    }
  } finally {
    ws.close();
  }
}

describe.runIf(canMakeNetns())('frames driven by the real pubsub hub', () => {
  let ns: TestNetns;
  let macA: Buffer;
  let capture: Capture;

  beforeAll(() => {
    ns = createNetns('hub');
    macA = ns.veth('hxa', 'hxb').a;
    capture = new Capture('hxb', ns.path, (f) => f.subarray(6, 12).equals(macA) && f.readUInt16BE(12) === 0x88b5);
  });
  afterAll(() => {
    capture?.close();
    ns?.remove();
  });
  afterEach(async () => {
    await stopRaw();
    await stopHubs();
    capture.clear();
  });

  it('a message published by a WebSocket client, or through the hub handle, becomes one frame', async () => {
    const { hub, url } = await startHub();
    await startRaw({ interface: 'hxa', netns: ns.name, from: 'hub:alerts.>', payload: '${topic} ${id} ${data}' }, { peers: { hub: hub.handle() } });
    const id = await publishOverWs(url, 'alerts.disk', { free: '2%' });
    const [first] = await capture.take(1);
    expect(first!.bytes.subarray(14).toString('utf8').replace(/\0+$/, '')).toBe(`alerts.disk ${id} {"free":"2%"}`);
    const second = await hub.handle().publish('alerts.cpu', 'hot');
    const frames = await capture.take(2);
    expect(frames[1]!.bytes.subarray(14).toString('utf8').replace(/\0+$/, '')).toBe(`alerts.cpu ${second} hot`);
    await publishOverWs(url, 'other.topic', 'ignored');
    await new Promise((r) => setTimeout(r, 50));
    expect(capture.frames).toHaveLength(2);
  });

  it('rebind: a hub replaced by a new instance (which takes over its port); frames follow the new one, the old one keeps no subscriber', async () => {
    const old = await startHub();
    const peers: Record<string, unknown> = { hub: old.hub.handle() };
    const { service } = await startRaw({ interface: 'hxa', netns: ns.name, from: 'hub:alerts.>', payload: '${topic} ${data}' }, { peers });
    // the same service name and address: the new instance takes over the listening socket, as in a reload
    const next = await startHub();
    peers['hub'] = next.hub.handle();
    await service.rebind('hub', AbortSignal.timeout(5_000));
    expect([old.hub.handle().stats().subscriptions, next.hub.handle().stats().subscriptions]).toEqual([0, 1]);
    await old.hub.handle().publish('alerts.old', 'not for us any more');
    await publishOverWs(next.url, 'alerts.new', 'moved');
    const [got] = await capture.take(1);
    expect(got!.bytes.subarray(14).toString('utf8').replace(/\0+$/, '')).toBe('alerts.new moved');
  });
});
