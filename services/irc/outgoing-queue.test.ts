import { describe, expect, it } from 'vitest';
import { makeQueue } from '../../test/helpers/irc/manual-queue.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { TokenBucket } from './token-bucket.js';

describe('token bucket', () => {
  it('allows the burst at once, then one token per interval', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ burst: 4, interval: 2_000, clock });
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0, 0]);
    expect(bucket.take()).toBe(2_000);
    clock.advance(1_500);
    expect(bucket.take()).toBe(500);
    clock.advance(500);
    expect(bucket.take()).toBe(0);
    clock.advance(60_000);
    expect(bucket.tokens).toBe(4); // never more than the burst
  });

  it('has no limit with interval 0', () => {
    const bucket = new TokenBucket({ burst: 1, interval: 0, clock: new ManualClock() });
    for (let i = 0; i < 100; i++) expect(bucket.take()).toBe(0);
  });
});

describe('outgoing queue', () => {
  it('sends the burst at once, then one line per interval (default 4, then 1 per 2 s)', () => {
    const { clock, queue, sent, writer } = makeQueue();
    queue.attach(writer);
    const start = clock.now();
    for (let i = 0; i < 10; i++) queue.push('PRIVMSG', '#ops', `line ${i}`, 'relay');
    expect(sent.map((s) => s.line)).toEqual(['PRIVMSG #ops :line 0', 'PRIVMSG #ops :line 1', 'PRIVMSG #ops :line 2', 'PRIVMSG #ops :line 3']);
    clock.advance(12_000);
    expect(sent.map((s) => s.at - start)).toEqual([0, 0, 0, 0, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000]);
    expect(queue.stats()).toEqual({ queued: 0, sent: 10, dropped: 0, expired: 0, orphaned: 0 });
  });

  it('keeps relayed lines while detached (a reconnect) and sends them after attach, in order', () => {
    const { clock, queue, sent, writer } = makeQueue({ burst: 2, interval: 1_000 });
    queue.push('PRIVMSG', '#ops', 'a', 'relay');
    queue.push('NOTICE', '#ops', 'b', 'relay');
    queue.push('PRIVMSG', '#dev', 'c', 'relay');
    expect(sent).toEqual([]);
    queue.attach(writer);
    clock.advance(5_000);
    queue.detach();
    queue.push('PRIVMSG', '#ops', 'd', 'relay');
    clock.advance(5_000);
    expect(sent.map((s) => s.line)).toEqual(['PRIVMSG #ops :a', 'NOTICE #ops :b', 'PRIVMSG #dev :c']);
    queue.attach(writer);
    expect(sent.map((s) => s.line).at(-1)).toBe('PRIVMSG #ops :d');
  });

  it('keeps the line when the writer finds the connection gone', () => {
    const { queue, sent, writer } = makeQueue();
    let up = false;
    queue.attach((line) => (up ? writer(line) : false));
    queue.push('PRIVMSG', '#ops', 'kept', 'relay');
    expect(queue.stats().queued).toBe(1);
    up = true;
    queue.attach((line) => writer(line));
    expect(sent.map((s) => s.line)).toEqual(['PRIVMSG #ops :kept']);
  });

  it('is bounded: overflow is dropped, counted and logged once per run of drops', () => {
    const { queue, logs } = makeQueue({ maxQueue: 3 });
    for (let i = 0; i < 10; i++) queue.push('PRIVMSG', '#ops', `line ${i}`, 'relay');
    expect(queue.stats()).toEqual({ queued: 3, sent: 0, dropped: 7, expired: 0, orphaned: 0 });
    const warnings = logs.filter((l) => l['code'] === 'HX_ERR_IRC_QUEUE_FULL');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, dropped: 1, maxQueue: 3, msg: 'outgoing queue full (3 lines): 1 line(s) dropped' });
    expect(queue.clear('stopped')).toBe(3);
    // the drops not logged yet, and what was left at stop
    expect(logs.filter((l) => l['code'] === 'HX_ERR_IRC_QUEUE_FULL').map((l) => l['dropped'])).toEqual([1, 3, 6]);
    expect(queue.stats()).toEqual({ queued: 0, sent: 0, dropped: 10, expired: 0, orphaned: 0 });
  });

  it('splits long text and newlines into separate PRIVMSG lines that fit 512 bytes', () => {
    const { queue, sent, writer } = makeQueue({ interval: 0 });
    queue.attach(writer);
    queue.push('PRIVMSG', '#ops', `${'é'.repeat(600)}\r\nQUIT :injected\nJOIN #evil`, 'relay');
    const lines = sent.map((s) => s.line);
    expect(lines.slice(-2)).toEqual(['PRIVMSG #ops :QUIT :injected', 'PRIVMSG #ops :JOIN #evil']);
    for (const line of lines) {
      expect(line.startsWith('PRIVMSG #ops :')).toBe(true);
      // with the relayed prefix (":" nick "!" 10-byte user "@" 63-byte host " ") and CRLF
      expect(Buffer.byteLength(line) + 1 + 10 + 1 + 74 + 1 + 2).toBeLessThanOrEqual(512);
    }
    expect(lines.slice(0, -2).map((l) => l.slice('PRIVMSG #ops :'.length)).join('')).toBe('é'.repeat(600));
  });

  it('refuses a target that could end the line or add another target', () => {
    const { queue } = makeQueue();
    expect(() => queue.push('PRIVMSG', '#ops\r\nQUIT', 'x', 'relay')).toThrow(/not an IRC target/);
    expect(() => queue.push('PRIVMSG', '#a,#b', 'x', 'relay')).toThrow(/not an IRC target/);
  });

  it('drained() waits for the queue to empty, at most the time given', () => {
    const { clock, queue, writer } = makeQueue({ burst: 1, interval: 1_000 });
    queue.attach(writer);
    for (let i = 0; i < 3; i++) queue.push('PRIVMSG', '#ops', `l${i}`, 'relay');
    let done = false;
    void queue.drained(10_000, new AbortController().signal).then(() => (done = true));
    clock.advance(1_000);
    return Promise.resolve()
      .then(() => expect(done).toBe(false))
      .then(() => clock.advance(1_000))
      .then(() => new Promise((r) => setImmediate(r)))
      .then(() => expect(done).toBe(true));
  });
});
