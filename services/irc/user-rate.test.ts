import { describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { ctcpReply } from './ctcp.js';
import { UserRateLimiter } from './user-rate.js';

function makeLimiter(options: { burst?: number; interval?: number; maxUsers?: number } = {}) {
  const clock = new ManualClock();
  const { log, lines } = createCapturingLogger();
  const limiter = new UserRateLimiter({ burst: options.burst ?? 5, interval: options.interval ?? 3_000, clock, log, ...(options.maxUsers === undefined ? {} : { maxUsers: options.maxUsers }) });
  return { clock, limiter, logs: lines };
}

describe('per-user rate limit (commandRate)', () => {
  it('allows the burst, then one request per interval, for each user on its own', () => {
    const { clock, limiter } = makeLimiter({ burst: 3, interval: 3_000 });
    const mallory = Array.from({ length: 10 }, () => limiter.allow('mallory', '!help'));
    expect(mallory).toEqual([true, true, true, false, false, false, false, false, false, false]);
    // someone else is not punished for it; nicks are case-folded
    expect(limiter.allow('alice', '!ping')).toBe(true);
    expect(limiter.allow('MALLORY', '!help')).toBe(false);
    clock.advance(3_000);
    expect([limiter.allow('mallory', '!help'), limiter.allow('mallory', '!help')]).toEqual([true, false]);
    expect(limiter.limited).toBe(9);
  });

  it('logs the ignored requests once, then at most every 10 s with the count', () => {
    const { clock, limiter, logs } = makeLimiter({ burst: 1, interval: 1_000 });
    for (let i = 0; i < 500; i++) limiter.allow(`fake${i % 50}`, 'CTCP VERSION');
    const warnings = () => logs.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('commandRate:'));
    expect(warnings()).toEqual([expect.objectContaining({ level: 40, ignored: 1, nick: 'fake0', what: 'CTCP VERSION' })]);
    clock.skip(10_000);
    limiter.allow('fake0', 'CTCP VERSION'); // refilled: allowed
    limiter.allow('fake0', 'CTCP VERSION');
    expect(warnings().map((l) => l['ignored'])).toEqual([1, 450]);
  });

  it('forgets users at reset() (a new connection: the same nick may be someone else)', () => {
    const { limiter } = makeLimiter({ burst: 1 });
    limiter.allow('x', '!ping');
    expect(limiter.allow('x', '!ping')).toBe(false);
    limiter.reset();
    expect(limiter.allow('x', '!ping')).toBe(true);
  });

  it('tracks a bounded number of users, however many nicks a server invents', () => {
    const { clock, limiter } = makeLimiter({ burst: 2, interval: 1_000, maxUsers: 100 });
    for (let i = 0; i < 10_000; i++) {
      limiter.allow(`nick${i}`, '!ping');
      limiter.allow(`nick${i}`, '!ping');
      clock.advance(1);
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
    // the most recent users are still held to their limit
    expect(limiter.allow('nick9999', '!ping')).toBe(false);
  });

  it('has no limit with interval 0', () => {
    const { limiter } = makeLimiter({ burst: 1, interval: 0 });
    for (let i = 0; i < 100; i++) expect(limiter.allow('x', '!ping')).toBe(true);
  });
});

describe('CTCP answers', () => {
  const now = Date.UTC(2024, 0, 2, 3, 4, 5);

  it('answers VERSION, PING, TIME and CLIENTINFO, as NOTICE texts with the delimiters', () => {
    expect(ctcpReply('VERSION', now)).toBe('\x01VERSION hendrix\x01');
    expect(ctcpReply('version', now)).toBe('\x01VERSION hendrix\x01');
    expect(ctcpReply('PING 1704164645', now)).toBe('\x01PING 1704164645\x01');
    expect(ctcpReply('TIME', now)).toBe('\x01TIME Tue, 02 Jan 2024 03:04:05 GMT\x01');
    expect(ctcpReply('CLIENTINFO', now)).toBe('\x01CLIENTINFO ACTION CLIENTINFO PING TIME VERSION\x01');
  });

  it('ignores the others (DCC, FINGER, nonsense)', () => {
    for (const request of ['DCC SEND x 1 2 3', 'FINGER', 'USERINFO', '', ' ', 'AAAA'.repeat(100)]) expect(ctcpReply(request, now)).toBeUndefined();
  });

  it('echoes a PING token short and without control characters', () => {
    const reply = ctcpReply(`PING ${'9'.repeat(1000)}\x01\r\nQUIT :x\0`, now) as string;
    expect(reply).toBe(`\x01PING ${'9'.repeat(64)}\x01`);
    expect(ctcpReply('PING a\x01b\rc\nd', now)).toBe('\x01PING abcd\x01');
    expect(ctcpReply('PING', now)).toBe('\x01PING\x01');
  });
});
