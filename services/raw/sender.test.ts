import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import type { AddonError, RawSocket } from './addon.js';
import { FrameSender } from './sender.js';
import { nextDue } from './service.js';

const { EAGAIN, ENOBUFS, ENETDOWN, EMSGSIZE, EBADF } = constants.errno;

/** A socket that records what it is given and fails as told. */
class FakeSocket implements RawSocket {
  readonly ifindex = 2;
  closed = false;
  readonly sent: Buffer[] = [];
  readonly calls: number[] = [];
  /** Results for the next calls: an errno makes that call fail. */
  readonly failures: number[] = [];
  writable: ((error?: AddonError) => void) | undefined;

  send(frame: Uint8Array): number {
    const result = this.sendBatch([frame], 0, 1);
    return result > 0 ? frame.length : result;
  }
  sendBatch(frames: readonly Uint8Array[], start = 0, count = frames.length): number {
    const failure = this.failures.shift();
    if (failure !== undefined) return -failure;
    if (count === 0) return -EBADF;
    this.calls.push(count);
    for (const frame of frames.slice(start, start + count)) this.sent.push(Buffer.from(frame));
    return count;
  }
  recv(): Buffer | null {
    return null;
  }
  startReceive(): void {}
  stopReceive(): void {}
  waitWritable(callback: (error?: AddonError) => void): void {
    this.writable = callback;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  close(): void {
    this.closed = true;
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const frames = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from([i & 0xff, i >> 8]));

function setup(options: { maxRate?: number; maxQueue?: number } = {}) {
  const clock = new ManualClock();
  const socket = new FakeSocket();
  const { log, lines } = createCapturingLogger();
  const failures: AddonError[] = [];
  const sender = new FrameSender({ socket, maxRate: options.maxRate ?? 1e9, maxQueue: options.maxQueue ?? 10_000, log, clock, fail: (e) => failures.push(e) });
  return { clock, socket, lines, failures, sender };
}

describe('the send queue', () => {
  it('sends what is queued in one turn in sendmmsg batches of at most 256', async () => {
    const { socket, sender } = setup();
    for (const f of frames(600)) sender.enqueue(f);
    expect(socket.sent).toHaveLength(0);
    await turn();
    expect(socket.calls).toEqual([256, 256, 88]);
    expect(socket.sent.map((f) => f.readUInt16LE(0))).toEqual(frames(600).map((f) => f.readUInt16LE(0)));
    expect(sender.stats()).toEqual({ sent: 600, dropped: 0, queued: 0 });
  });

  it('keeps to maxRate: a burst of a tenth of a second, then as tokens come back', async () => {
    const { clock, socket, sender } = setup({ maxRate: 100 });
    for (const f of frames(25)) sender.enqueue(f);
    await turn();
    expect(socket.sent).toHaveLength(10);
    clock.advance(50);
    expect(socket.sent).toHaveLength(15);
    clock.advance(100);
    expect(socket.sent).toHaveLength(25);
    expect(clock.pending).toEqual([]);
  });

  it('setLimits (a reload): the bucket capped at the new burst, the new rate from then on, a larger queue takes more', async () => {
    const { clock, socket, sender } = setup({ maxRate: 100, maxQueue: 5 });
    expect(frames(8).map((f) => sender.enqueue(f)).filter(Boolean)).toHaveLength(5);
    sender.setLimits({ maxRate: 20, maxQueue: 30 });
    expect(frames(26).map((f) => sender.enqueue(f)).filter(Boolean)).toHaveLength(25);
    await turn();
    expect(socket.sent).toHaveLength(2); // the burst of 20/s, not the 10 of 100/s
    clock.advance(100);
    expect(socket.sent).toHaveLength(4);
    expect(sender.stats()).toEqual({ sent: 4, dropped: 4, queued: 26 });
  });

  it('EAGAIN (socket buffer full) waits until the socket is writable; ENOBUFS retries a millisecond later', async () => {
    const { clock, socket, sender } = setup();
    socket.failures.push(EAGAIN);
    for (const f of frames(3)) sender.enqueue(f);
    await turn();
    expect(socket.sent).toHaveLength(0);
    expect(socket.writable).toBeDefined();
    sender.enqueue(Buffer.from('4'));
    await turn();
    expect(socket.sent).toHaveLength(0); // still waiting: no busy retry
    socket.writable?.();
    expect(socket.sent).toHaveLength(4);
    socket.failures.push(ENOBUFS);
    sender.enqueue(Buffer.from('5'));
    await turn();
    expect(socket.sent).toHaveLength(4);
    clock.advance(1);
    expect(socket.sent).toHaveLength(5);
  });

  it('ENETDOWN drops frames with one warning until a send works again; EMSGSIZE drops that frame', async () => {
    const { socket, sender, lines } = setup();
    socket.failures.push(ENETDOWN, ENETDOWN, ENETDOWN);
    for (const f of frames(4)) sender.enqueue(f);
    await turn();
    expect(socket.sent).toHaveLength(1);
    expect(lines.filter((l) => l['code'] === 'HX_ERR_RAW_INTERFACE_DOWN')).toHaveLength(1);
    expect(lines.at(-1)?.['msg']).toBe('sending again');
    socket.failures.push(EMSGSIZE);
    sender.enqueue(Buffer.alloc(9000));
    sender.enqueue(Buffer.from('ok'));
    await turn();
    expect(socket.sent.at(-1)?.toString()).toBe('ok');
    expect(lines.find((l) => l['code'] === 'HX_ERR_RAW_FRAME_TOO_BIG')).toMatchObject({ bytes: 9000 });
    expect(sender.stats()).toEqual({ sent: 2, dropped: 4, queued: 0 });
  });

  it('any other error fails the sender once: the queue is dropped and nothing more is taken', async () => {
    const { socket, sender, failures } = setup();
    socket.failures.push(EBADF);
    for (const f of frames(3)) sender.enqueue(f);
    await turn();
    expect(failures.map((f) => f.code)).toEqual(['EBADF']);
    expect(sender.enqueue(Buffer.from('x'))).toBe(false);
    expect(sender.stats()).toEqual({ sent: 0, dropped: 3, queued: 0 });
  });

  it('a full queue drops with a warning at most every 5 s, counting what it did not log', async () => {
    const { clock, sender, lines } = setup({ maxRate: 1, maxQueue: 2 });
    expect([1, 2, 3, 4].map(() => sender.enqueue(Buffer.from('f')))).toEqual([true, true, false, false]);
    expect(lines.filter((l) => l['code'] === 'HX_ERR_RAW_QUEUE_FULL').map((l) => l['dropped'])).toEqual([1]);
    clock.skip(5_000);
    await turn();
    sender.enqueue(Buffer.from('f'));
    sender.enqueue(Buffer.from('f'));
    expect(lines.filter((l) => l['code'] === 'HX_ERR_RAW_QUEUE_FULL').map((l) => l['dropped'])).toEqual([1, 2]);
  });

  it('drain resolves once the queue is empty; aborted, it drops the rest and says how many', async () => {
    const { clock, socket, sender, lines } = setup({ maxRate: 10 });
    for (const f of frames(3)) sender.enqueue(f);
    let drained = false;
    const done = sender.drain(new AbortController().signal).then(() => (drained = true));
    await turn();
    expect([socket.sent.length, drained]).toEqual([1, false]);
    clock.advance(100);
    expect([socket.sent.length, drained]).toEqual([2, false]);
    clock.advance(100);
    await done;
    expect(socket.sent).toHaveLength(3);

    for (const f of frames(5)) sender.enqueue(f);
    await turn();
    const forced = new AbortController();
    const stopping = sender.drain(forced.signal);
    forced.abort();
    await stopping;
    expect(lines.find((l) => l['msg'] === 'stop forced: queued frames dropped')).toMatchObject({ dropped: 5 });
    sender.close();
    expect(clock.pending).toEqual([]);
  });
});

describe('the periodic schedule', () => {
  it('keeps to the schedule set at start, and skips missed frames after a stall', () => {
    expect(nextDue(1000, 1003, 100)).toBe(1100); // a late timer does not push the next one
    expect(nextDue(1000, 1100, 100)).toBe(1200);
    expect(nextDue(1000, 1350, 100)).toBe(1400); // stalled past three intervals: the next is on the grid
  });
});
