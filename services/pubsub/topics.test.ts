import { describe, expect, it } from 'vitest';
import { allowedBy, checkPattern, checkTopic, covers, matches } from '../../src/net/topics.js';
import { SubscriptionTrie } from './trie.js';

describe('topics and patterns', () => {
  it('validates topics and patterns', () => {
    expect(checkTopic('chat.lobby')).toBeUndefined();
    expect(checkTopic('a')).toBeUndefined();
    for (const bad of ['', 'a..b', '.a', 'a.', 'a.*', 'a.>', 'a b', 'x'.repeat(257), 7]) expect(checkTopic(bad)).toBeDefined();
    for (const ok of ['a', 'a.*', 'a.>', '*', '>', '*.b.>']) expect(checkPattern(ok)).toBeUndefined();
    for (const bad of ['', 'a.>.b', 'a*', 'a.b>', 'a..b', null]) expect(checkPattern(bad)).toBeDefined();
  });

  it('matches * as one segment and > as one or more', () => {
    const cases: [string, string, boolean][] = [
      ['chat.*', 'chat.lobby', true],
      ['chat.*', 'chat', false],
      ['chat.*', 'chat.a.b', false],
      ['chat.>', 'chat.a.b', true],
      ['chat.>', 'chat', false],
      ['*.lobby', 'chat.lobby', true],
      ['>', 'anything.at.all', true],
      ['a.*.c', 'a.b.c', true],
      ['a.*.c', 'a.b.d', false],
    ];
    for (const [pattern, topic, expected] of cases) expect(matches(pattern, topic), `${pattern} ~ ${topic}`).toBe(expected);
  });

  it('knows when a permission covers a requested pattern', () => {
    expect(covers('chat.>', 'chat.*')).toBe(true);
    expect(covers('chat.>', 'chat.a.>')).toBe(true);
    expect(covers('chat.*', 'chat.>')).toBe(false);
    expect(covers('chat.*', 'chat.lobby')).toBe(true);
    expect(covers('chat.lobby', 'chat.*')).toBe(false);
    expect(covers('>', 'x.>')).toBe(true);
    expect(allowedBy(['a.*', 'b.>'], 'b.c.d')).toBe(true);
    expect(allowedBy([], 'x')).toBe(false);
  });
});

describe('the subscription trie', () => {
  it('finds exactly the subscriptions a scan would, for random patterns and topics', () => {
    const words = ['a', 'b', 'c'];
    const pick = (n: number) => Array.from({ length: n }, () => words[Math.floor(Math.random() * words.length)] as string);
    const trie = new SubscriptionTrie<number>();
    const subs: [string, number][] = [];
    for (let i = 0; i < 300; i++) {
      const segments = pick(1 + Math.floor(Math.random() * 3)).map((w) => (Math.random() < 0.2 ? '*' : w));
      if (Math.random() < 0.2) segments.push('>');
      const pattern = segments.join('.');
      trie.add(pattern, i);
      subs.push([pattern, i]);
    }
    // remove a third, as clients unsubscribe
    for (const [pattern, id] of subs.splice(0, 100)) expect(trie.remove(pattern, id)).toBe(true);
    expect(trie.size).toBe(200);
    for (let t = 0; t < 200; t++) {
      const topic = pick(1 + Math.floor(Math.random() * 4)).join('.');
      const found: number[] = [];
      trie.match(topic, (id) => found.push(id));
      const expected = subs.filter(([p]) => matches(p, topic)).map(([, id]) => id);
      expect(found.sort((x, y) => x - y), topic).toEqual(expected.sort((x, y) => x - y));
    }
  });

  it('prunes empty branches and refuses double adds and unknown removes', () => {
    const trie = new SubscriptionTrie<string>();
    expect(trie.add('a.b.c', 's')).toBe(true);
    expect(trie.add('a.b.c', 's')).toBe(false);
    expect(trie.remove('a.b.x', 's')).toBe(false);
    expect(trie.remove('a.b.c', 's')).toBe(true);
    expect(trie.size).toBe(0);
    const found: string[] = [];
    trie.match('a.b.c', (s) => found.push(s));
    expect(found).toEqual([]);
  });
});
