import { describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/log/logger.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import type { WireMessage } from './backplane.js';
import { History, type HistoryLimits } from './history.js';
import { LimitWatch } from './limits.js';

// The history's bookkeeping with a manual clock; the same behaviours through a real hub and
// real clients are in test/reliability/hub-memory.test.ts and hub-data.test.ts.

function history(limits: Partial<HistoryLimits> = {}, rule = { history: 10, ttl: 0 }) {
  const clock = new ManualClock(1_000_000);
  const forgot: string[] = [];
  const h = new History({
    rules: () => rule,
    limits: { bytes: 1e9, topics: 1e6, idle: 60_000, ...limits },
    watch: new LimitWatch(createSilentLogger(), () => clock.now()),
    forgot: (topic) => forgot.push(topic),
    now: () => clock.now(),
  });
  const record = (topic: string, seq: number, epoch = 'e'): void => h.record({ topic, id: `${epoch}:${seq}`, epoch, seq, data: seq, ts: clock.now() } as WireMessage, Buffer.from(`frame ${seq}`));
  return { h, clock, forgot, record };
}

const since = (seq: number, epoch = 'e') => ({ epoch, seq });

describe('History', () => {
  it('expires by ttl in the sweep, without a replay, then forgets the idle topic', () => {
    const { h, clock, forgot, record } = history({ idle: 5_000 }, { history: 10, ttl: 1_000 });
    record('t', 1);
    clock.advance(600);
    record('t', 2);
    clock.advance(600);
    h.sweep();
    expect(h.stats()).toMatchObject({ topics: 1, messages: 1 });
    clock.advance(600);
    h.sweep();
    expect(h.stats()).toMatchObject({ topics: 1, messages: 0, bytes: 0 });
    clock.advance(5_000);
    h.sweep();
    expect(h.stats()).toEqual({ topics: 0, messages: 0, bytes: 0, retained: 0 });
    expect(forgot).toEqual(['t']);
  });

  it('after forgetting a topic whose counter continues (Redis): exact from its last id, lost: epoch from before', () => {
    const { h, record } = history({ topics: 1 });
    for (let seq = 1; seq <= 57; seq++) record('t', seq);
    record('u', 1); // forgets t (limits.topics: 1)
    expect(h.replay('t', since(57), 'e')).toEqual({ messages: [], lost: 'epoch' }); // nothing known: maybe missing
    record('t', 58); // forgets u
    expect(h.replay('t', since(57), 'e')).toMatchObject({ messages: [{ seq: 58 }], lost: undefined });
    expect(h.replay('t', since(50), 'e')).toMatchObject({ messages: [{ seq: 58 }], lost: 'epoch' });
  });

  it('keeps reporting history, gap and epoch exactly for topics it did not forget', () => {
    const { h, record } = history({}, { history: 3, ttl: 0 });
    for (let seq = 1; seq <= 5; seq++) record('t', seq);
    expect(h.replay('t', since(1), 'e')).toMatchObject({ messages: [{ seq: 3 }, { seq: 4 }, { seq: 5 }], lost: 'history' });
    expect(h.replay('t', since(2), 'e').lost).toBeUndefined();
    record('t', 7); // 6 never arrived here
    expect(h.replay('t', since(4), 'e')).toMatchObject({ messages: [{ seq: 5 }, { seq: 7 }], lost: 'gap' });
    expect(h.replay('t', since(5, 'other'), 'e').lost).toBe('epoch');
    expect(h.replay('never', since(5), 'e').lost).toBeUndefined(); // nothing was forgotten
  });

  it('evicts the oldest messages of the least recently published topics over limits.historyBytes', () => {
    const { h, record } = history({ bytes: 3 * 310 });
    record('a', 1);
    record('b', 1);
    record('a', 2); // a is now the most recently published
    record('c', 1);
    expect(h.stats().messages).toBe(3);
    expect(h.replay('b', since(0), 'e')).toMatchObject({ messages: [], lost: 'history' });
    expect(h.replay('a', since(0), 'e').messages.map((k) => k.seq)).toEqual([1, 2]);
  });
});
