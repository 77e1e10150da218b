import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/helpers/pebble.js';
import { startRedisServer, type RedisServer } from '../../test/helpers/redis-server.js';
import { needCommand } from '../../test/helpers/system-command.js';
import type { WireMessage } from './backplane.js';
import { RedisBackplane, retryDelay } from './redis-backplane.js';

interface Line {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** One "node": a backplane with its own log and the messages its listener received. */
interface Node {
  readonly backplane: RedisBackplane;
  readonly prefix: string;
  readonly received: WireMessage[];
  readonly lines: Line[];
}

const nodes: Node[] = [];

function makeNode(url: string, prefix: string): Node {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  const backplane = new RedisBackplane(url, { log, prefix });
  const received: WireMessage[] = [];
  backplane.onMessage((message) => received.push(message));
  const node = { backplane, prefix, received, lines };
  nodes.push(node);
  return node;
}

/** Two started nodes on one Redis, under a prefix of their own. */
async function twoNodes(url: string): Promise<[Node, Node]> {
  const prefix = `hendrix:test-${randomBytes(4).toString('hex')}`;
  const a = makeNode(url, prefix);
  const b = makeNode(url, prefix);
  await Promise.all([a.backplane.start(AbortSignal.timeout(5_000)), b.backplane.start(AbortSignal.timeout(5_000))]);
  return [a, b];
}

async function until(what: string, predicate: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const ids = (messages: WireMessage[], topic?: string): string[] => messages.filter((m) => topic === undefined || m.topic === topic).map((m) => m.id);
const messages = (node: Node, msg: string): Line[] => node.lines.filter((line) => line.msg === msg);

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.backplane.stop()));
});

describe('retryDelay', () => {
  it('doubles from 100 ms to 5 s and jitters downwards by up to a quarter', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => retryDelay(n, () => 0))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(retryDelay(1, () => 1)).toBe(75);
    expect(retryDelay(30, () => 0.5)).toBe(4375);
  });
});

describe.runIf(needCommand('redis-server', 'redis-server'))('RedisBackplane against redis-server', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('delivers a publish on A to A and B with the same id, in one shared epoch', async () => {
    const [a, b] = await twoNodes(redis.url);
    expect(a.backplane.epoch()).not.toBe('');
    expect(a.backplane.epoch()).toBe(b.backplane.epoch());

    const data = { text: 'hello', list: [], big: 1234567890123456, nested: { n: 0.1 } };
    const sent = await a.backplane.publish('chat.lobby', data);
    expect(sent).toMatchObject({ topic: 'chat.lobby', epoch: a.backplane.epoch(), seq: 1, id: `${a.backplane.epoch()}:1`, data });
    await until('both nodes to receive it', () => a.received.length === 1 && b.received.length === 1);
    for (const node of [a, b]) {
      expect(node.received[0]).toEqual({ ...sent, ts: node.received[0]?.ts });
      expect(Math.abs((node.received[0]?.ts ?? 0) - Date.now())).toBeLessThan(5_000);
    }
    expect(b.received[0]?.data).toEqual(data); // byte for byte: [] stays an array, 16 digits stay 16 digits
  });

  it('orders ids per topic across nodes, strictly increasing, independently per topic', async () => {
    const [a, b] = await twoNodes(redis.url);
    const sent = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).backplane.publish(i % 3 === 0 ? 'topic.x' : 'topic.y', { i })),
    );
    const perTopic = (topic: string): number[] => sent.filter((m) => m.topic === topic).map((m) => m.seq).sort((p, q) => p - q);
    expect(perTopic('topic.x')).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(perTopic('topic.y')).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
    await until('40 messages on both', () => a.received.length === 40 && b.received.length === 40);
    expect(ids(a.received)).toEqual(ids(b.received)); // one global order, the same on every node
    for (const topic of ['topic.x', 'topic.y']) {
      const seqs = a.received.filter((m) => m.topic === topic).map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((p, q) => p - q));
    }
    // what publish resolved with is what the nodes received
    expect(new Set(ids(a.received))).toEqual(new Set(sent.map((m) => m.id)));
  });

  it('skips a malformed payload with a log line and keeps delivering', async () => {
    const [a] = await twoNodes(redis.url);
    const channel = `${a.prefix}:messages`;
    const intruder = new Redis(redis.url);
    try {
      await intruder.publish(channel, 'not json');
      await intruder.publish(channel, JSON.stringify({ topic: 't', epoch: 'e', seq: 'one', ts: 1, data: null }));
      await intruder.publish(channel, JSON.stringify(null));
    } finally {
      await intruder.quit();
    }
    const sent = await a.backplane.publish('after', 1);
    await until('the good message', () => a.received.length === 1);
    expect(ids(a.received)).toEqual([sent.id]);
    expect(messages(a, 'malformed backplane message skipped').map((line) => line['payload'])).toEqual([
      'not json',
      '{"topic":"t","epoch":"e","seq":"one","ts":1,"data":null}',
      'null',
    ]);
  });

  it('loads its script again after SCRIPT FLUSH (EVALSHA falls back to EVAL)', async () => {
    const [a, b] = await twoNodes(redis.url);
    await a.backplane.publish('t', 1);
    const admin = new Redis(redis.url);
    try {
      await admin.script('FLUSH');
    } finally {
      await admin.quit();
    }
    expect(await a.backplane.publish('t', 2)).toMatchObject({ seq: 2 });
    await until('both messages on B', () => b.received.length === 2);
  });

  it('logs a listener that throws and keeps delivering', async () => {
    const [a] = await twoNodes(redis.url);
    const seen: string[] = [];
    a.backplane.onMessage((message) => {
      seen.push(message.id);
      if (message.data === 'boom') throw new Error('listener bug');
    });
    await a.backplane.publish('t', 'boom');
    const next = await a.backplane.publish('t', 'fine');
    await until('the next message', () => seen.includes(next.id));
    expect(seen).toHaveLength(2);
    expect(messages(a, 'backplane listener failed')).toHaveLength(1);
  });

  it('goes local while only the subscriber is cut, and back to the same epoch', async () => {
    const [a, b] = await twoNodes(redis.url);
    const epoch = a.backplane.epoch();
    const admin = new Redis(redis.url);
    try {
      await admin.client('KILL', 'TYPE', 'pubsub');
    } finally {
      await admin.quit();
    }
    await until('A to notice', () => messages(a, 'redis connection lost').length === 1);
    await until('both to reconnect', () => messages(a, 'redis reconnected').length === 1 && messages(b, 'redis reconnected').length === 1);
    expect(messages(a, 'redis reconnected')[0]).toMatchObject({ epoch, epochChanged: false });
    const sent = await a.backplane.publish('t', 'after');
    expect(sent.epoch).toBe(epoch);
    await until('the message on both', () => a.received.at(-1)?.id === sent.id && b.received.at(-1)?.id === sent.id);
  });

  it('starts again after a stop, in the same shared epoch', async () => {
    const [a, b] = await twoNodes(redis.url);
    const epoch = a.backplane.epoch();
    await a.backplane.stop();
    await a.backplane.start(AbortSignal.timeout(5_000));
    expect(a.backplane.epoch()).toBe(epoch);
    const sent = await a.backplane.publish('t', 'again');
    await until('the message on both', () => a.received.at(-1)?.id === sent.id && b.received.at(-1)?.id === sent.id);
  });

  it('rejects a start that stop() overtakes', async () => {
    const node = makeNode(`redis://127.0.0.1:${await freePort()}`, 'hendrix:nowhere');
    const started = node.backplane.start(AbortSignal.timeout(5_000));
    await node.backplane.stop();
    await expect(started).rejects.toThrow(/stopped before it connected/);
  });

  it('rejects data that is not JSON and publishes after stop', async () => {
    const [a] = await twoNodes(redis.url);
    await expect(a.backplane.publish('t', undefined)).rejects.toThrow(/not JSON/);
    await expect(a.backplane.publish('t', 1n)).rejects.toThrow(/BigInt/);
    await a.backplane.stop();
    await expect(a.backplane.publish('t', 1)).rejects.toThrow(/stopped/);
  });

  it('stops idempotently and leaves no sockets or timers', async () => {
    const before = resources();
    const [a, b] = await twoNodes(redis.url);
    await a.backplane.publish('t', 1);
    await until('delivery', () => b.received.length === 1);
    expect(resources().get('TCPSocketWrap') ?? 0).toBeGreaterThanOrEqual((before.get('TCPSocketWrap') ?? 0) + 4);
    await Promise.all([a.backplane.stop(), a.backplane.stop(), b.backplane.stop()]);
    await a.backplane.stop();
    await settled(before);
  });

  it('rejects start against a closed port once the signal aborts, with ECONNREFUSED', async () => {
    const port = await freePort();
    const before = resources();
    const node = makeNode(`redis://127.0.0.1:${port}`, 'hendrix:nowhere');
    const started = Date.now();
    const error = await node.backplane.start(AbortSignal.timeout(500)).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toMatch(new RegExp(`redis://127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
    expect(Date.now() - started).toBeLessThan(1_500);
    const failures = messages(node, 'redis connection failed');
    expect(failures.length).toBeGreaterThanOrEqual(4); // attempts at ~0, 100, 300 ms on both connections
    expect(failures[0]).toMatchObject({ level: 40, code: 'ECONNREFUSED' });
    await node.backplane.stop(); // safe after a failed start
    await settled(before);
    const count = node.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(node.lines.length).toBe(count);
  });
});

describe.runIf(needCommand('redis-server', 'redis-server'))('RedisBackplane through a Redis outage', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('serves local subscribers in a local epoch, then reconnects to a new shared epoch', async () => {
    const [a, b] = await twoNodes(redis.url);
    const firstEpoch = a.backplane.epoch();
    await a.backplane.publish('t', 'before');
    await until('the first message on both', () => a.received.length === 1 && b.received.length === 1);

    await redis.stop();
    await until('both to notice', () => messages(a, 'redis connection lost').length === 1 && messages(b, 'redis connection lost').length === 1);
    const started = Date.now();
    const local = await a.backplane.publish('t', 'during');
    expect(Date.now() - started).toBeLessThan(100);
    expect(local.epoch).toMatch(/^local-/);
    expect(local).toMatchObject({ seq: 1, id: `${local.epoch}:1`, data: 'during' });
    expect(a.backplane.epoch()).toBe(local.epoch);
    expect(a.received.at(-1)).toMatchObject({ id: local.id, data: 'during' });
    expect((await a.backplane.publish('t', 'again')).id).toBe(`${local.epoch}:2`);
    expect(b.received).toHaveLength(1);

    await redis.restart();
    await until('both to reconnect', () => messages(a, 'redis reconnected').length === 1 && messages(b, 'redis reconnected').length === 1, 8_000);
    for (const node of [a, b]) {
      expect(messages(node, 'redis connection lost')).toHaveLength(1); // once per transition, not per attempt
      expect(messages(node, 'redis reconnected')[0]).toMatchObject({ epochChanged: true });
    }
    const secondEpoch = a.backplane.epoch();
    expect(secondEpoch).not.toBe(firstEpoch);
    expect(secondEpoch).not.toMatch(/^local-/);
    expect(b.backplane.epoch()).toBe(secondEpoch);

    const after = await a.backplane.publish('t', 'after');
    expect(after).toMatchObject({ epoch: secondEpoch, seq: 1 });
    await until('the message after on both', () => a.received.at(-1)?.id === after.id && b.received.at(-1)?.id === after.id);
    expect(b.received.map((m) => m.data)).toEqual(['before', 'after']);
    expect(a.received.map((m) => m.data)).toEqual(['before', 'during', 'again', 'after']);
  });

  it('stops cleanly in the middle of an outage: no reconnect timer or socket left', async () => {
    const before = resources();
    const a = makeNode(redis.url, 'hendrix:alone');
    await a.backplane.start(AbortSignal.timeout(5_000));
    await redis.stop();
    await until('the outage', () => messages(a, 'redis connection lost').length === 1);
    await new Promise((resolve) => setTimeout(resolve, 150)); // a reconnect attempt or two
    await a.backplane.stop();
    await settled(before);
    const count = a.lines.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(a.lines.length).toBe(count);
  });
});

/** Active resources by type; timers are counted too (the backplane must leave none behind). */
function resources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Waits until no resource type counts more than in `before`. */
async function settled(before: Map<string, number>): Promise<void> {
  await until('resources back to the baseline', () => sameOrFewer(resources(), before), 2_000).catch((err: Error) => {
    throw new Error(`${err.message}: before ${JSON.stringify([...before])}, after ${JSON.stringify([...resources()])}`);
  });
}

function sameOrFewer(now: Map<string, number>, before: Map<string, number>): boolean {
  return [...now].every(([type, count]) => count <= (before.get(type) ?? 0));
}
