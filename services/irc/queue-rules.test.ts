import { describe, expect, it } from 'vitest';
import { makeQueue } from '../../test/helpers/irc/manual-queue.js';

// The rules of issue #13 part 3, on the manual clock: replies belong to their connection,
// relayed channel lines survive a reconnect for relayMaxAge, and they never wait behind replies.

describe('outgoing queue: relayed lines and replies', () => {
  it('sends a relayed line before replies queued earlier (the bucket is shared)', () => {
    const { clock, queue, writer, lines } = makeQueue({ burst: 1, interval: 1_000 });
    queue.attach(writer);
    const session = queue.session as number;
    for (let i = 0; i < 50; i++) queue.push('NOTICE', `user${i}`, `reply ${i}`, { session });
    queue.push('PRIVMSG', '#ops', 'alert', 'relay');
    expect(lines()).toEqual(['NOTICE user0 :reply 0']); // the burst went to the first reply
    clock.advance(1_000);
    expect(lines().at(-1)).toBe('PRIVMSG #ops :alert'); // the next token, not 49 s later
    clock.advance(1_000);
    expect(lines().at(-1)).toBe('NOTICE user1 :reply 1');
  });

  it('drops the replies of a lost connection (counted, logged once) and keeps the relayed lines', () => {
    const { clock, queue, writer, logs, lines } = makeQueue({ burst: 1, interval: 1_000 });
    queue.attach(writer);
    const session = queue.session as number;
    for (let i = 0; i < 900; i++) queue.push('PRIVMSG', 'x', `answer ${i}`, { session });
    queue.push('PRIVMSG', '#ops', 'alert 1', 'relay');
    queue.push('PRIVMSG', '#ops', 'alert 2', 'relay');
    queue.detach();
    expect(queue.stats()).toMatchObject({ queued: 2, orphaned: 899, dropped: 899 });
    const dropLogs = logs.filter((l) => l['msg'] === '899 reply line(s) dropped with their connection (relayed lines are kept)');
    expect(dropLogs).toEqual([expect.objectContaining({ level: 30, dropped: 899, kept: 2 })]);
    // the next connection gets the relayed lines, and nothing meant for x
    clock.advance(10_000);
    queue.attach(writer);
    clock.advance(1_000);
    expect(lines()).toEqual(['PRIVMSG x :answer 0', 'PRIVMSG #ops :alert 1', 'PRIVMSG #ops :alert 2']);
  });

  it('drops a reply that comes after its connection is gone, also once a new one is up', () => {
    const { queue, writer, lines } = makeQueue({ interval: 0 });
    queue.attach(writer);
    const first = queue.session as number;
    queue.detach();
    expect(queue.session).toBeUndefined();
    expect(queue.push('PRIVMSG', 'alice', 'late', { session: first })).toBe(0);
    queue.attach(writer);
    expect(queue.session).not.toBe(first);
    expect(queue.push('PRIVMSG', 'alice', 'too late', { session: first })).toBe(0);
    expect(queue.push('PRIVMSG', '#ops', 'too late, in a channel', { session: first })).toBe(0);
    expect(queue.push('PRIVMSG', 'alice', 'current', { session: queue.session as number })).toBe(1);
    expect(lines()).toEqual(['PRIVMSG alice :current']);
    expect(queue.stats()).toMatchObject({ orphaned: 3, dropped: 3, sent: 1 });
  });

  it('treats a relayed line to a nick as a reply of the current connection', () => {
    const { queue, writer, lines } = makeQueue({ interval: 0 });
    expect(queue.push('PRIVMSG', 'alice', 'while away', 'relay')).toBe(0); // no connection: nobody to say it to
    queue.attach(writer);
    queue.push('PRIVMSG', 'alice', 'now', 'relay');
    queue.push('NOTICE', '&local', 'a channel', 'relay');
    expect(lines()).toEqual(['PRIVMSG alice :now', 'NOTICE &local :a channel']);
    expect(queue.stats()).toMatchObject({ orphaned: 1 });
  });

  it('drops relayed lines older than relayMaxAge when their turn comes (counted, logged once)', () => {
    const { clock, queue, writer, logs, lines } = makeQueue({ burst: 2, interval: 1_000, relayMaxAge: 60_000 });
    for (let i = 0; i < 5; i++) queue.push('PRIVMSG', '#ops', `old ${i}`, 'relay');
    clock.advance(45_000);
    queue.push('PRIVMSG', '#ops', 'recent', 'relay');
    clock.advance(30_000); // the first five are 75 s old, `recent` 30 s
    queue.attach(writer);
    expect(lines()).toEqual(['PRIVMSG #ops :recent']);
    expect(queue.stats()).toMatchObject({ queued: 0, sent: 1, expired: 5, dropped: 5 });
    const warnings = logs.filter((l) => l['code'] === 'HX_ERR_IRC_RELAY_EXPIRED');
    expect(warnings).toEqual([expect.objectContaining({ level: 40, dropped: 5, relayMaxAge: 60_000 })]);
  });

  it('expires relayed lines that waited too long behind the flood rate too', () => {
    const { clock, queue, writer, lines } = makeQueue({ burst: 1, interval: 10_000, relayMaxAge: 25_000 });
    queue.attach(writer);
    for (let i = 0; i < 6; i++) queue.push('PRIVMSG', '#ops', `line ${i}`, 'relay');
    clock.advance(60_000);
    // 0 at once, 1 at 10 s, 2 at 20 s; 3 would go at 30 s, older than 25 s: it and the rest expire
    expect(lines()).toEqual(['PRIVMSG #ops :line 0', 'PRIVMSG #ops :line 1', 'PRIVMSG #ops :line 2']);
    expect(queue.stats()).toMatchObject({ queued: 0, expired: 3 });
  });

  it('keeps relayed lines of any age with relayMaxAge 0', () => {
    const { clock, queue, writer, lines } = makeQueue({ relayMaxAge: 0 });
    queue.push('PRIVMSG', '#ops', 'from yesterday', 'relay');
    clock.advance(86_400_000);
    queue.attach(writer);
    expect(lines()).toEqual(['PRIVMSG #ops :from yesterday']);
  });

  it('when full, a relayed line pushes out the oldest reply; a reply finding it full is dropped', () => {
    const { queue, writer, logs } = makeQueue({ burst: 1, interval: 1_000, maxQueue: 3 });
    queue.attach(writer);
    const session = queue.session as number;
    queue.push('PRIVMSG', '#ops', 'sent at once', 'relay');
    for (let i = 0; i < 3; i++) queue.push('NOTICE', `u${i}`, `reply ${i}`, { session });
    expect(queue.push('NOTICE', 'u3', 'reply 3', { session })).toBe(0);
    expect(queue.push('PRIVMSG', '#ops', 'alert', 'relay')).toBe(1);
    expect(queue.push('PRIVMSG', '#ops', 'alert 2', 'relay')).toBe(1);
    expect(queue.stats()).toMatchObject({ queued: 3, dropped: 3, orphaned: 0 });
    // with only relayed lines left to push out, the new one is dropped
    queue.push('PRIVMSG', '#ops', 'alert 3', 'relay');
    expect(queue.push('PRIVMSG', '#ops', 'alert 4', 'relay')).toBe(0);
    expect(queue.stats()).toMatchObject({ queued: 3, dropped: 5 });
    expect(logs.filter((l) => l['code'] === 'HX_ERR_IRC_QUEUE_FULL')).toHaveLength(1); // once per 10 s
  });

  it('drained() resolves when the replies are dropped with their connection', async () => {
    const { queue, writer } = makeQueue({ burst: 1, interval: 1_000 });
    queue.attach(writer);
    const session = queue.session as number;
    queue.push('PRIVMSG', 'a', '1', { session });
    queue.push('PRIVMSG', 'a', '2', { session });
    let done = false;
    const drained = queue.drained(60_000, new AbortController().signal).then(() => (done = true));
    queue.detach();
    await drained;
    expect(done).toBe(true);
  });
});
