import { describe, expect, it } from 'vitest';
import { startHub, useHubClients } from '../helpers/pubsub/test-harness.js';
import { HubClient, type Frame } from '../helpers/pubsub/test-client.js';
import type { PubsubService } from '../../services/pubsub/service.js';

// The hub's memory ceiling (issue #13): what an anonymous client can make the hub keep is
// bounded by the hub's own accounting (stats: topics, historyBytes, retainedBytes), whatever it
// sends — many topics, big messages, replays, requests it never reads the answers of.

const MB = 1024 * 1024;
const connect = useHubClients();

/** Resolves once `test()` holds, polling; fails with `what` after a generous deadline. */
async function until(what: string, test: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Publishes `count` messages from `client` (topic and data from `make`), then waits for the last ack. */
async function flood(client: HubClient, count: number, make: (i: number) => { topic: string; data: unknown }): Promise<void> {
  const tag = Math.random().toString(36).slice(2, 8);
  for (let i = 0; i < count; i++) client.send({ type: 'publish', id: `${tag}-${i}`, ...make(i) });
  const last = await client.next((f) => f['id'] === `${tag}-${count - 1}`, 20_000);
  expect(last).toMatchObject({ type: 'ack' });
}

const stats = (hub: PubsubService) => hub.handle().stats();

describe('the hub memory ceiling, with the default limits', () => {
  it('keeps at most limits.historyBytes (32 MB) of history when a client floods distinct topics with 60 KB messages', async () => {
    // the chat example's topic settings: history 100, ttl 10m (the report: +319 MB)
    const { url, hub } = await startHub({ topics: { 'chat.*': { history: 100, ttl: '10m' } } });
    const attacker = await connect(url);
    const text = 'x'.repeat(60 * 1024);
    await flood(attacker, 700, (i) => ({ topic: `chat.t${i}`, data: { text } })); // 42 MB of history asked for
    const { historyBytes, historyMessages, retainedBytes, topics } = stats(hub);
    expect(historyBytes).toBeLessThanOrEqual(32 * MB);
    expect(historyBytes).toBeGreaterThan(30 * MB); // the limit bit, not something else
    expect(historyMessages).toBeLessThan(700);
    expect(topics).toBe(700);
    expect(retainedBytes).toBeLessThan(64 * MB);
  });

  it('knows at most limits.topics (10,000) topics, their counters included, when a client publishes on 12,000', async () => {
    const { url, hub } = await startHub({ topics: { 'chat.*': { history: 100, ttl: '10m' } } });
    // three connections, so that the publish rate limit (bursts of 5,000) does not slow this down
    const attackers = await Promise.all([connect(url), connect(url), connect(url)]);
    await Promise.all(attackers.map((a, n) => flood(a, 4_000, (i) => ({ topic: `chat.c${n}-${i}`, data: 'hello' }))));
    const { topics, retainedBytes, historyMessages } = stats(hub);
    expect(topics).toBe(10_000);
    expect(historyMessages).toBe(10_000);
    expect(retainedBytes).toBeLessThan(64 * MB);
    // the first topic was forgotten, with its counter: a new message on it gets an id above
    // every id it had (ids never repeat), not seq 1 again
    const first = attackers[0] as HubClient;
    const ack = await first.request({ type: 'publish', topic: 'chat.c0-0', data: 'again' });
    expect(Number(String(ack['messageId']).split(':')[1])).toBeGreaterThan(1);
  });
});

describe('history expires on time, without a reader', () => {
  it('drops kept messages past their ttl and forgets the idle topics, with nobody subscribed or replaying', async () => {
    // the report: history 100, ttl 2s, 60 KB messages still held 10 s after their ttl
    const { url, hub } = await startHub({ topics: { 'exp.*': { history: 100, ttl: '2s' } }, limits: { topicIdle: '300ms' } });
    const client = await connect(url);
    const text = 'y'.repeat(60 * 1024);
    await flood(client, 100, (i) => ({ topic: `exp.t${i % 10}`, data: { text } }));
    expect(stats(hub).historyMessages).toBeGreaterThan(0);
    expect(stats(hub).historyBytes).toBeGreaterThan(MB);
    await until('the kept messages to expire', () => stats(hub).historyMessages === 0);
    expect(stats(hub).historyBytes).toBe(0);
    await until('the idle topics to be forgotten', () => stats(hub).topics === 0);
    expect(stats(hub).retainedBytes).toBe(0);
  });
});

describe('every other buffer a client can fill', () => {
  it('closes a client that keeps sending requests without reading the answers (1008)', async () => {
    const { url } = await startHub({ maxBuffered: '64kb' });
    const greedy = await connect(url);
    (greedy.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // never reads
    // each request gets an error echoing a 60 KB type: the answers pile up in the hub
    const type = 'z'.repeat(60 * 1024);
    for (let i = 0; i < 400 && greedy.ws.readyState === greedy.ws.OPEN; i++) {
      greedy.send({ type, id: i });
      if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    (greedy.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await greedy.whenClosed(10_000)).code).toBe(1008);
  });

  it('replays at most half of maxBuffered (the newest messages) and says the rest is lost', async () => {
    const { url } = await startHub({ maxBuffered: '64kb', topics: { big: { history: 50 } } });
    const publisher = await connect(url);
    const first = await publisher.request({ type: 'publish', topic: 'big', data: 'first' });
    await flood(publisher, 20, () => ({ topic: 'big', data: 'b'.repeat(10 * 1024) }));
    const reader = await connect(url);
    const ack = await reader.request({ type: 'subscribe', topic: 'big', since: first['messageId'] });
    expect(ack).toMatchObject({ type: 'ack', lost: 'history' });
    expect(Number(ack['replayed'])).toBeGreaterThan(0);
    expect(Number(ack['replayed'])).toBeLessThanOrEqual(3); // 32 KB of 10 KB messages
    const replayed = reader.messages('big');
    expect(replayed).toHaveLength(Number(ack['replayed']));
    // the newest ones, in order, ending with the last published
    const seqs = replayed.map((m: Frame) => Number(String(m['id']).split(':')[1]));
    expect(seqs.at(-1)).toBe(21);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });
});
