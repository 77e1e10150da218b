import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { Capture, MemoryHub, ethertypeOfFrame, payloadText, rawConfig, startRaw, stopRaw } from '../../test/helpers/raw/test-harness.js';
import { rawKind } from './kind.js';

/**
 * Reload in place: the frames captured on the other end of a veth pair show what changed and
 * when. The periodic frames run on a manual clock and carry `${ts}`, so each frame says at which
 * point of the schedule it was sent: the schedule is read from the frames, not timed.
 */

const run = canMakeNetns();
const signal = () => AbortSignal.timeout(5_000);

/** An untagged or tagged frame as the test expects it: header, payload, zeros up to the minimum. */
function frame(parts: { dst?: string; src: Buffer; vlan?: number; ethertype?: number; payload: string }): string {
  const header = Buffer.alloc(parts.vlan === undefined ? 14 : 18);
  Buffer.from((parts.dst ?? 'ffffffffffff').replaceAll(':', ''), 'hex').copy(header, 0);
  parts.src.copy(header, 6);
  if (parts.vlan !== undefined) {
    header.writeUInt16BE(0x8100, 12);
    header.writeUInt16BE(parts.vlan, 14);
  }
  header.writeUInt16BE(parts.ethertype ?? 0x88b5, header.length - 2);
  const body = Buffer.concat([header, Buffer.from(parts.payload)]);
  return Buffer.concat([body, Buffer.alloc(Math.max(0, (parts.vlan === undefined ? 60 : 64) - body.length))]).toString('hex');
}

describe('canReload: what the raw kind applies in place', () => {
  const canReload = (fields: (string | number)[][], files: { path: string; role: 'other' }[] = []) => rawKind.canReload?.({ fields, files });

  it('every field of its own, the interface and namespace included (the socket is reopened in place)', () => {
    expect(canReload([['payload'], ['every'], ['maxRate'], ['maxQueue']])).toBe(true);
    expect(canReload([['destination'], ['source'], ['ethertype'], ['vlan', 'id'], ['wakeOnLan', 'mac']])).toBe(true);
    expect(canReload([['from']], [])).toBe(true);
    expect(canReload([['interface'], ['netns']])).toBe(true);
  });

  it('a field it does not know, or a changed file, replaces the service', () => {
    expect(canReload([['payload'], ['somethingNew']])).toBe(false);
    expect(canReload([['payload']], [{ path: '/x', role: 'other' }])).toBe(false);
  });
});

describe.runIf(run)('raw reload in place, frames captured on a veth pair', () => {
  let ns: TestNetns;
  let macA: Buffer;
  let macC: Buffer;
  let captureB: Capture;
  let captureD: Capture;

  beforeAll(() => {
    ns = createNetns('reload');
    macA = ns.veth('hxa', 'hxb').a;
    macC = ns.veth('hxc', 'hxd').a;
    // keep only our frames: IPv6 autoconfiguration also crosses a fresh veth pair
    const ours = (f: Buffer) => (f.subarray(6, 12).equals(macA) || f.subarray(6, 12).equals(macC)) && [0x88b5, 0x88b6].includes(ethertypeOfFrame(f));
    captureB = new Capture('hxb', ns.path, ours);
    captureD = new Capture('hxd', ns.path, ours);
  });
  afterAll(() => {
    captureB?.close();
    captureD?.close();
    ns?.remove();
  });
  afterEach(async () => {
    await stopRaw();
    captureB.clear();
    captureD.clear();
  });

  const base = { interface: 'hxa' } as const;
  const on = (partial: Record<string, unknown>) => ({ ...base, netns: ns.name, ...partial });

  it('payload and every: the next frame one new interval after the last, with the new payload, then one per interval (no gap, no burst)', async () => {
    const clock = new ManualClock();
    const { log, lines } = createCapturingLogger();
    const { service } = await startRaw(on({ payload: 'old ${seq} ${ts}', every: '1s' }), { log, service: { clock } });
    clock.advance(1000);
    clock.advance(100);
    await service.reload(rawConfig(on({ payload: 'new ${seq} ${ts}', every: '250ms' })), signal());
    expect(clock.pending).toEqual([150]);
    clock.advance(1400);
    service.handle().send(); // the last frame: every periodic frame due is before it
    const frames = await captureB.take(9);
    expect(frames.map(payloadText)).toEqual([
      'old 0 1000000',
      'old 1 1001000',
      'new 2 1001250',
      'new 3 1001500',
      'new 4 1001750',
      'new 5 1002000',
      'new 6 1002250',
      'new 7 1002500',
      'new 8 1002500',
    ]);
    expect(lines.find((l) => l['msg'] === 'reloaded')?.['changed']).toEqual(expect.arrayContaining(['payload', 'every']));
    expect(lines.filter((l) => l['msg'] === 'reloaded')[0]?.['changed']).toHaveLength(2);
  });

  it('a shorter interval already overdue: one frame at once (not the missed ones), then on the new interval', async () => {
    const clock = new ManualClock();
    const { service } = await startRaw(on({ payload: '${seq} ${ts}', every: '1s' }), { service: { clock } });
    clock.advance(800);
    await service.reload(rawConfig(on({ payload: '${seq} ${ts}', every: '250ms' })), signal());
    expect(clock.pending).toEqual([250]);
    clock.advance(250);
    const frames = await captureB.take(3);
    expect(frames.map(payloadText)).toEqual(['0 1000000', '1 1000800', '2 1001050']);
  });

  it('a change that leaves every alone keeps the schedule; destination, EtherType and VLAN apply from the next frame', async () => {
    const clock = new ManualClock();
    const { service } = await startRaw(on({ payload: 'a ${ts}', every: '1s' }), { service: { clock } });
    clock.advance(300);
    const handle = service.handle();
    await service.reload(rawConfig(on({ payload: 'b ${ts}', every: '1s', destination: '02-00-00-00-00-99', ethertype: '0x88b6', vlan: 7 })), signal());
    expect(clock.pending).toEqual([700]);
    clock.advance(700);
    const frames = await captureB.take(2);
    expect(frames.map((f) => f.bytes.toString('hex'))).toEqual([
      frame({ src: macA, payload: 'a 1000000' }),
      frame({ dst: '020000000099', src: macA, vlan: 7, ethertype: 0x88b6, payload: 'b 1001000' }),
    ]);
    expect(service.handle()).toBe(handle);
  });

  it('every removed ends the periodic frames; added back, one frame at once and then on the interval', async () => {
    const clock = new ManualClock();
    const { service } = await startRaw(on({ payload: 'p ${seq} ${ts}', every: '1s' }), { service: { clock } });
    await service.reload(rawConfig(on({ payload: 'p ${seq} ${ts}' })), signal());
    expect(clock.pending).toEqual([]);
    clock.advance(5000);
    await service.reload(rawConfig(on({ payload: 'p ${seq} ${ts}', every: '500ms' })), signal());
    clock.advance(500);
    const frames = await captureB.take(3);
    expect(frames.map(payloadText)).toEqual(['p 0 1000000', 'p 1 1005000', 'p 2 1005500']);
  });

  it('from: a kept topic is not subscribed again, an added one is (on another hub too), a removed one is unsubscribed', async () => {
    const hub = new MemoryHub();
    const other = new MemoryHub();
    const { service } = await startRaw(on({ from: ['hub:a', 'hub:b'], payload: '${topic}=${data}' }), { peers: { hub, other } });
    expect(hub.subscribeCalls).toBe(2);
    await service.reload(rawConfig(on({ from: ['hub:b', 'hub:c', 'other:d'], payload: '${topic}=${data}' })), signal());
    expect(hub.patterns).toEqual(['b', 'c']);
    expect(hub.subscribeCalls).toBe(3);
    expect(other.patterns).toEqual(['d']);
    await hub.publish('a', 1);
    await hub.publish('b', 2);
    await hub.publish('c', 3);
    await other.publish('d', 4);
    service.handle().send('end');
    const frames = await captureB.take(4);
    expect(frames.map(payloadText)).toEqual(['b=2', 'c=3', 'd=4', '=end']);
  });

  it('rebind: the subscriptions move to the hub handle ctx.peer() returns now, and back on a rollback', async () => {
    const first = new MemoryHub();
    const second = new MemoryHub();
    const peers: Record<string, unknown> = { hub: first, other: new MemoryHub() };
    const { service } = await startRaw(on({ from: ['hub:t', 'other:u'], payload: '${data}' }), { peers });
    const otherCalls = (peers['other'] as MemoryHub).subscribeCalls;
    peers['hub'] = second;
    await service.rebind('hub', signal());
    expect([first.subscriptions, second.subscriptions]).toEqual([0, 1]);
    expect((peers['other'] as MemoryHub).subscribeCalls).toBe(otherCalls); // another hub's subscription is left alone
    await first.publish('t', 'lost');
    await second.publish('t', 'found');
    peers['hub'] = first;
    await service.rebind('hub', signal());
    expect([first.subscriptions, second.subscriptions]).toEqual([1, 0]);
    await second.publish('t', 'lost again');
    await first.publish('t', 'back');
    const frames = await captureB.take(2);
    expect(frames.map(payloadText)).toEqual(['found', 'back']);
  });

  it('a broken next config rejects with its manifest path and changes nothing: the old schedule, payload and subscriptions go on', async () => {
    const clock = new ManualClock();
    const hub = new MemoryHub();
    const refusing = {
      publish: () => Promise.resolve(''),
      subscribe: () => {
        throw new Error('the hub is stopping');
      },
    };
    const peers = { hub, refusing, web: { handleRequest() {} } };
    const { service } = await startRaw(on({ payload: 'ok ${seq} ${ts}', every: '1s', from: 'hub:a' }), { service: { clock }, peers });
    clock.advance(400);
    const failures = [
      { next: { payload: 'x'.repeat(1501), every: '250ms', from: 'hub:a' }, code: 'HX_ERR_RAW_FRAME_TOO_BIG', path: ['payload'] },
      { next: { interface: 'hxnope', every: '250ms', from: 'hub:a' }, code: 'HX_ERR_RAW_NO_INTERFACE', path: ['interface'] },
      { next: { every: '250ms', from: ['hub:b', 'web:c'] }, code: 'HX_ERR_RAW_FROM', path: ['from', 1] },
      { next: { every: '250ms', from: ['hub:b', 'refusing:c'] }, code: 'HX_ERR_RAW_FROM', path: ['from', 1] },
    ];
    for (const { next, code, path } of failures) {
      const error = (await service.reload(rawConfig(on({ payload: 'new', ...next })), signal()).then(
        () => undefined,
        (e: unknown) => e,
      )) as HendrixError | undefined;
      expect(error?.code, JSON.stringify(next)).toBe(code);
      expect(error?.path).toEqual(['services', 'beacon', ...path]);
      expect(error?.location).toEqual({ file: 'hendrix.yaml', line: 8 + path.length, column: 5 });
      expect(hub.patterns).toEqual(['a']); // hub:b, subscribed before refusing:c failed, was taken back
    }
    expect(clock.pending).toEqual([600]);
    clock.advance(600);
    await hub.publish('a', 'still subscribed');
    const frames = await captureB.take(3);
    expect(frames.map(payloadText)).toEqual(['ok 0 1000000', 'ok 1 1001000', 'ok 2 1001000']);
    expect(service.address()).toBe(`raw:hxa@${ns.name}`);
  });

  it('interface: the socket reopens in place — frames queued for the old interface go out there, the next on the new one, ${seq} goes on', async () => {
    const clock = new ManualClock();
    const { service, ctx } = await startRaw(on({ payload: '${seq} ${ts}', every: '1s' }), { service: { clock } });
    const handle = service.handle();
    for (let i = 0; i < 3; i++) handle.send();
    // no await between the sends and the reload: the three frames are still queued when it switches
    await service.reload(rawConfig(on({ interface: 'hxc', payload: '${seq} ${ts}', every: '1s' })), signal());
    expect(handle.interface?.name).toBe('hxc');
    expect(service.address()).toBe(`raw:hxc@${ns.name}`);
    clock.advance(1000);
    expect((await captureB.take(4)).map(payloadText)).toEqual(['0 1000000', '1 1000000', '2 1000000', '3 1000000']);
    const [moved] = await captureD.take(1);
    expect(moved!.bytes.toString('hex')).toBe(frame({ src: macC, payload: '4 1001000' }));
    expect(handle.stats()).toMatchObject({ sent: 5, dropped: 0 });

    // the rollback of that reload: back on the first interface, the same way
    await service.reload(ctx.config, signal());
    clock.advance(1000);
    const [back] = await captureB.take(5).then((f) => f.slice(4));
    expect(back!.bytes.toString('hex')).toBe(frame({ src: macA, payload: '5 1002000' }));
    expect(captureD.frames).toHaveLength(1);
    expect(handle.stats()).toMatchObject({ sent: 6, dropped: 0 });
  });

  it('maxQueue and maxRate apply to the frames that come next; frames already queued stay', async () => {
    const { service } = await startRaw(on({ maxQueue: 5, maxRate: 1e6 }));
    const handle = service.handle();
    expect(Array.from({ length: 8 }, () => handle.send('x')).filter(Boolean)).toHaveLength(5);
    await service.reload(rawConfig(on({ maxQueue: 8, maxRate: 1e6 })), signal());
    expect(Array.from({ length: 4 }, () => handle.send('y')).filter(Boolean)).toHaveLength(3);
    await captureB.take(8);
    expect(handle.stats()).toEqual({ sent: 8, dropped: 4, queued: 0 });
  });
});
