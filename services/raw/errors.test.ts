import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { canMakeNetns, createNetns, type TestNetns } from '../../test/helpers/netns.js';
import { startFailure } from '../../test/helpers/start-failure.js';
import { loadRawAddon } from './addon.js';
import { RawService, type RawServiceOptions } from './service.js';
import { Capture, MemoryHub, createRawContext, startRaw, stopRaw, type RawTestContext } from '../../test/helpers/raw/test-harness.js';

const run = canMakeNetns();

/** Starts a raw service that must fail; returns its error after checking that stop still works. */
async function startError(partial: Record<string, unknown>, options: { peers?: Record<string, unknown>; service?: RawServiceOptions } = {}): Promise<HendrixError> {
  const service = new RawService(createRawContext(partial, options), options.service);
  const error = await startFailure(service);
  expect(error.path?.slice(0, 2)).toEqual(['services', 'beacon']);
  expect(error.service).toBe('beacon');
  return error;
}

describe.runIf(run)('raw errors say what is wrong and what to do', () => {
  let ns: TestNetns;
  let macA: Buffer;

  beforeAll(() => {
    ns = createNetns('err');
    macA = ns.veth('hxa', 'hxb').a;
    ns.veth('hxsmall', 'hxsmallb', { mtu: 100 });
    ns.veth('hxdown', 'hxdownb');
    ns.ip('link', 'set', 'hxdown', 'down');
    ns.ip('tuntap', 'add', 'mode', 'tun', 'name', 'hxtun');
  });
  afterAll(() => ns?.remove());
  afterEach(stopRaw);

  it('an interface that does not exist: HX_ERR_RAW_NO_INTERFACE listing the interfaces there are', async () => {
    const error = await startError({ interface: 'nope0', netns: ns.name, every: '1s' });
    expect(error.code).toBe('HX_ERR_RAW_NO_INTERFACE');
    expect(error.message).toBe(`interface nope0 does not exist in network namespace ${ns.name}; the interfaces are: lo, hxb, hxa, hxsmallb, hxsmall, hxdownb, hxdown, hxtun`);
    expect(error.path).toEqual(['services', 'beacon', 'interface']);
    expect(error.location).toEqual({ file: 'hendrix.yaml', line: 9, column: 5 });
  });

  it('a network namespace that does not exist: HX_ERR_RAW_NETNS', async () => {
    const error = await startError({ interface: 'hxa', netns: 'hx-no-such-ns', every: '1s' });
    expect(error.code).toBe('HX_ERR_RAW_NETNS');
    expect(error.message).toBe('network namespace hx-no-such-ns does not exist');
    expect(error.path).toEqual(['services', 'beacon', 'netns']);
  });

  it('an interface that is down: HX_ERR_RAW_INTERFACE_DOWN with the command that brings it up', async () => {
    const error = await startError({ interface: 'hxdown', netns: ns.name, every: '1s' });
    expect(error.code).toBe('HX_ERR_RAW_INTERFACE_DOWN');
    expect(error.message).toBe(`interface hxdown in network namespace ${ns.name} is down`);
    expect(error.hint).toBe(`bring it up: ip -n ${ns.name} link set hxdown up (as root)`);
  });

  it('an interface without Ethernet frames (tun): HX_ERR_RAW_NOT_ETHERNET', async () => {
    ns.ip('link', 'set', 'hxtun', 'up');
    const error = await startError({ interface: 'hxtun', netns: ns.name, every: '1s' });
    expect(error.code).toBe('HX_ERR_RAW_NOT_ETHERNET');
    expect(error.message).toBe('interface hxtun does not carry Ethernet frames (hardware type 65534)');
  });

  it('a payload above the MTU: HX_ERR_RAW_FRAME_TOO_BIG at start; a message above it is dropped with a warning', async () => {
    const error = await startError({ interface: 'hxsmall', netns: ns.name, every: '1s', payload: 'x'.repeat(101) });
    expect(error.code).toBe('HX_ERR_RAW_FRAME_TOO_BIG');
    expect(error.message).toBe('the payload is 101 bytes, more than the MTU of hxsmall (100 bytes)');
    expect(error.path).toEqual(['services', 'beacon', 'payload']);
    expect(error.hint).toBe('shorten the payload, or raise the MTU: ip link set hxsmall mtu 101');

    const hub = new MemoryHub();
    const { log, lines } = createCapturingLogger();
    const capture = new Capture('hxsmallb', ns.path, (f) => f.readUInt16BE(12) === 0x88b5);
    try {
      const { service } = await startRaw({ interface: 'hxsmall', netns: ns.name, from: 'hub:big' }, { peers: { hub }, log });
      await hub.publish('big', 'y'.repeat(101));
      await hub.publish('big', 'y'.repeat(100));
      const [fits] = await capture.take(1);
      expect(fits!.bytes.length).toBe(114);
      expect(lines.find((l) => l['code'] === 'HX_ERR_RAW_FRAME_TOO_BIG')).toMatchObject({ level: 40, bytes: 115, mtu: 100, topic: 'big' });
      expect(service.handle().stats()).toMatchObject({ sent: 1 });
    } finally {
      capture.close();
    }
  });

  it('from naming a service that is not a hub: HX_ERR_RAW_FROM at the from entry', async () => {
    const error = await startError({ interface: 'hxa', netns: ns.name, from: ['hub:a', 'web:b'] }, { peers: { hub: new MemoryHub(), web: { handleRequest() {} } } });
    expect(error.code).toBe('HX_ERR_RAW_FROM');
    expect(error.message).toBe('`from: web:b` names a service that is not a pubsub hub');
    expect(error.path).toEqual(['services', 'beacon', 'from', 1]);
  });

  it('message data that cannot become a frame is dropped with a warning', async () => {
    const hub = new MemoryHub();
    const { log, lines } = createCapturingLogger();
    const { service } = await startRaw({ interface: 'hxa', netns: ns.name, from: 'hub:t' }, { peers: { hub }, log });
    await hub.publish('t', { hex: 'xyz' });
    expect(lines.find((l) => l['code'] === 'HX_ERR_RAW_FROM')).toMatchObject({ level: 40, msg: 'message data { hex }: hex payload holds a character that is not a hex digit: "xyz": no frame sent' });
    expect(service.handle().stats()).toEqual({ sent: 0, dropped: 0, queued: 0 });
  });

  it('the addon not built: HX_ERR_RAW_ADDON naming the file and how to build it', async () => {
    const error = await startError({ interface: 'hxa', netns: ns.name, every: '1s' }, { service: { loadAddon: () => loadRawAddon('/nonexistent/hendrix') } });
    expect(error.code).toBe('HX_ERR_RAW_ADDON');
    expect(error.message).toBe('the raw frame addon /nonexistent/hendrix/build/Release/hendrix_raw.node is not built');
    expect(error.hint).toMatch(/apt-get install -y python3 make g\+\+\), then run `npm rebuild hendrix`/);
  });

  it('the link going down while running: frames dropped with one warning, sending again once it is up', async () => {
    const capture = new Capture('hxb', ns.path, (f) => f.subarray(6, 12).equals(macA) && f.readUInt16BE(12) === 0x88b5);
    const { log, lines } = createCapturingLogger();
    try {
      const { service, ctx } = await startRaw({ interface: 'hxa', netns: ns.name, payload: 'up?' }, { log });
      service.handle().send();
      await capture.take(1);
      ns.ip('link', 'set', 'hxa', 'down');
      for (let i = 0; i < 3; i++) service.handle().send();
      await new Promise((r) => setTimeout(r, 50));
      expect(lines.filter((l) => l['code'] === 'HX_ERR_RAW_INTERFACE_DOWN')).toHaveLength(1);
      expect(service.handle().stats()).toMatchObject({ sent: 1, dropped: 3 });
      ns.ip('link', 'set', 'hxa', 'up');
      // a veth's carrier comes back once both ends are up
      await new Promise((r) => setTimeout(r, 50));
      service.handle().send();
      await capture.take(2);
      expect(lines.find((l) => l['msg'] === 'sending again')).toBeDefined();
      expect((ctx as RawTestContext).crashes).toEqual([]);
    } finally {
      capture.close();
      ns.ip('link', 'set', 'hxa', 'up');
    }
  });

  it('the interface removed while running: the service reports a crash (HX_ERR_RAW_NO_INTERFACE)', async () => {
    ns.veth('hxgone', 'hxgoneb');
    const { service, ctx } = await startRaw({ interface: 'hxgone', netns: ns.name, payload: 'bye' });
    ns.ip('link', 'delete', 'hxgone');
    service.handle().send();
    await new Promise((r) => setTimeout(r, 50));
    expect(ctx.crashes).toHaveLength(1);
    const crash = ctx.crashes[0] as HendrixError;
    expect(crash.code).toBe('HX_ERR_RAW_NO_INTERFACE');
    expect(crash.message).toBe('interface hxgone went away while sending');
    expect(service.handle().send()).toBe(false);
    await service.stop(AbortSignal.timeout(1_000));
  });
});
