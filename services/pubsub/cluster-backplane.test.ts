import { afterEach, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { createClusterHubs, until, type ClusterHub } from '../../test/helpers/pubsub/cluster-hubs.js';
import { Hub, PublishRefused } from './hub.js';

// One hub across worker processes (docs/pubsub-protocol.md, "Across workers"): real Hubs, one
// per fake process, joined to the hub's coordinator by the in-process cluster bus (JSON-copied,
// asynchronous, ordered, as IPC is).

let cluster: ReturnType<typeof createClusterHubs> | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

function hubs(options: Parameters<typeof createClusterHubs>[0] = {}) {
  cluster = createClusterHubs(options);
  return cluster;
}

async function joined(c: ReturnType<typeof hubs>, key: string): Promise<ClusterHub> {
  const member = await c.join(key);
  await member.started;
  return member;
}

const seqs = (list: readonly { id: string }[]): number[] => list.map((m) => Number(m.id.split(':')[1]));
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** The seqs of `topic` a `since` replay from the start gives, and whether it says something was lost. */
const kept = (member: ClusterHub, topic: string, epoch: string) => {
  const replay = member.hub.replay(topic, { epoch, seq: 0 });
  return { seqs: replay.messages.map((k) => k.seq), lost: replay.lost };
};

describe('the hub across processes', () => {
  it('delivers publishes from either process to both hubs once, in one id order, in one epoch', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    const b = await joined(c, 'w2');
    const published = await Promise.all(range(1, 60).map((i) => (i % 2 === 0 ? a : b).hub.publish('chat.lobby', { i })));
    await until(() => a.received.length === 60 && b.received.length === 60, 'both hubs have the 60 messages');
    expect(a.received).toEqual(b.received);
    expect(seqs(a.received)).toEqual(range(1, 60));
    expect(new Set(published.map((m) => m.id)).size).toBe(60);
    expect(new Set(a.received.map((m) => m.id.split(':')[0]))).toEqual(new Set([c.coordinator().epoch]));
    expect(a.received.map((m) => (m.data as { i: number }).i).sort((x, y) => x - y)).toEqual(range(1, 60));
    // the publisher's promise resolves with the id its message got everywhere
    const byData = new Map(a.received.map((m) => [(m.data as { i: number }).i, m.id]));
    expect(published.map((m, i) => m.id === byData.get(i + 1))).not.toContain(false);
    expect(a.hub.stats.published).toBe(60);
  });

  it('sends the publishes of one turn to the coordinator as one message; each resolves with its own id', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    const b = await joined(c, 'w2');
    const host = c.bus.host;
    const receive = host.receive.bind(host);
    const sent: unknown[] = [];
    // observes what reaches the primary's side, then routes it as before
    host.receive = (process, envelope) => {
      if (envelope.op === 'msg') sent.push(envelope.d);
      receive(process, envelope);
    };
    const published = await Promise.all(range(1, 30).map((i) => a.hub.publish('t', i)));
    expect(sent).toEqual([{ t: 'pubs', list: range(1, 30).map((i) => ({ ref: expect.any(Number), topic: 't', json: String(i) })) }]);
    expect(published.map((m) => [m.seq, m.data])).toEqual(range(1, 30).map((i) => [i, i]));
    await until(() => b.received.length === 30, 'the second hub has the 30 messages');
    expect(b.received.map((m) => m.data)).toEqual(range(1, 30));
  });

  it('delivers nothing more of a batch once a listener stopped the hub midway', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    const b = await joined(c, 'w2');
    const got: unknown[] = [];
    b.hub.subscribe('t', Hub.listener((m) => got.push(m.data) === 3 && void b.stop()));
    // one turn of publishes: one batch, the third message of which stops b
    await Promise.all(range(1, 10).map((i) => a.hub.publish('t', i)));
    // the rest of the batch would have been delivered in the same call as the third message
    await until(() => got.length >= 3 && a.received.length === 10, 'the stop, and the 10 messages at the first hub');
    expect(got).toEqual([1, 2, 3]);
    expect(b.hub.stats.published).toBe(3);
  });

  it('hands a late joiner the history: the same frames byte for byte, a since replay works, nothing counted or delivered', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    const data = [{ text: 'héllo ✓ "quoted" ,"ts":1}' }, [1, [2, { x: null }]], 12345678901234567890, 'plain', { ts: 0 }];
    for (const value of data) await a.hub.publish('room.1', value);
    await a.hub.publish('room.2', true);
    const late = await joined(c, 'w2');
    const epoch = c.coordinator().epoch;
    expect(late.hub.epoch()).toBe(epoch);
    const from = (member: ClusterHub) => member.hub.replay('room.1', { epoch, seq: 2 });
    expect(from(late).lost).toBeUndefined();
    expect(from(late).messages.map((k) => k.seq)).toEqual([3, 4, 5]);
    expect(Buffer.concat(from(late).messages.map((k) => k.frame))).toEqual(Buffer.concat(from(a).messages.map((k) => k.frame)));
    expect(kept(late, 'room.2', epoch)).toEqual({ seqs: [1], lost: undefined });
    expect(late.received).toEqual([]);
    expect(late.hub.stats.published).toBe(0);
    // what comes next continues the sequence on both
    await late.hub.publish('room.1', 'next');
    await until(() => a.received.length === 7, 'the first hub has the next message');
    expect(kept(late, 'room.1', epoch)).toEqual({ seqs: range(1, 6), lost: undefined });
    expect(kept(a, 'room.1', epoch)).toEqual({ seqs: range(1, 6), lost: undefined });
  });

  it('loses and doubles nothing when a hub joins during a burst of publishes from two processes', async () => {
    const { log, lines } = createCapturingLogger();
    const c = hubs({ log });
    const a = await joined(c, 'w1');
    const b = await joined(c, 'w2');
    const sent: Promise<unknown>[] = [];
    let late: ClusterHub | undefined;
    for (let round = 0; round < 20; round++) {
      // the join is requested amid the publishes; more follow before its welcome can arrive
      if (round === 5) late = await c.join('w3');
      for (let i = 0; i < 50; i++) sent.push((i % 2 === 0 ? a : b).hub.publish(`burst.${i % 3}`, { round, i }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(sent);
    const joiner = late as ClusterHub;
    await joiner.started;
    await until(() => joiner.hub.stats.published + Number(joinOf(lines, 'w3')?.['restored'] ?? 0) === 1_000 && b.received.length === 1_000, 'the joiner has every message');
    const epoch = c.coordinator().epoch;
    for (const topic of ['burst.0', 'burst.1', 'burst.2']) expect(kept(joiner, topic, epoch)).toEqual(kept(a, topic, epoch));
    expect(kept(joiner, 'burst.0', epoch)).toEqual({ seqs: range(1, 340), lost: undefined });
    // the scenario happened: some messages came in the snapshot, some while the joiner waited for it
    const join = joinOf(lines, 'w3');
    expect(join).toMatchObject({ restored: expect.any(Number), early: expect.any(Number) });
    expect(join?.['early']).toBeGreaterThan(0);
  });

  it('asks another donor when the first one dies before answering, and drops what the later snapshot already holds', async () => {
    const { log, lines } = createCapturingLogger();
    const c = hubs({ log });
    const a = await joined(c, 'w1');
    const b = await joined(c, 'w2');
    for (let i = 1; i <= 10; i++) await a.hub.publish('t', i);
    const late = await c.join('w3');
    // these reach the joiner (it joined) and are in the second donor's snapshot (taken after them)
    const overlap = range(11, 30).map((i) => b.hub.publish('t', i));
    // a hub sends the publishes of a turn when the turn ends: let them leave b first
    await new Promise((resolve) => setImmediate(resolve));
    c.kill('w1'); // the first donor (the longest welcomed) is gone before it read `dump`
    await late.started;
    await Promise.all(overlap);
    await until(() => b.received.length === 30, 'the second hub has the 30 messages');
    const epoch = c.coordinator().epoch;
    expect(kept(late, 't', epoch)).toEqual({ seqs: range(1, 30), lost: undefined });
    expect(joinOf(lines, 'w3')).toMatchObject({ restored: 30, early: 20 });
    await a.stop();
  });

  it('welcomes a joiner with an empty history when its only donor dies before answering', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    await a.hub.publish('t', 1);
    const late = await c.join('w2');
    c.kill('w1');
    await late.started;
    const epoch = c.coordinator().epoch;
    expect(late.hub.replay('t', { epoch, seq: 0 })).toMatchObject({ messages: [] });
    // ids go on from the coordinator's counter, not from 1
    expect((await late.hub.publish('t', 2)).id).toBe(`${epoch}:2`);
    await a.stop();
  });

  it('keeps the epoch and the history through a rolling restart: every instance replaced, since still replays', async () => {
    const c = hubs();
    let a = await joined(c, 'w1');
    let b = await joined(c, 'w2');
    for (let i = 1; i <= 5; i++) await a.hub.publish('t', i);
    const epoch = c.coordinator().epoch;
    await until(() => b.received.length === 5, 'the second hub has the 5 messages');
    await a.stop();
    a = await joined(c, 'w3');
    await b.stop();
    b = await joined(c, 'w4');
    expect(b.hub.replay('t', { epoch, seq: 3 })).toMatchObject({ messages: [{ seq: 4 }, { seq: 5 }], lost: undefined });
    expect((await b.hub.publish('t', 6)).id).toBe(`${epoch}:6`);
  });

  it('rejects a publish after stop, and one still waiting for its id when the hub stops', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    const waiting = a.hub.publish('t', 1);
    await a.stop();
    await expect(waiting).rejects.toBeInstanceOf(PublishRefused);
    await expect(a.hub.publish('t', 2)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(a.backplane.publish('t', 3)).rejects.toThrow(/stopped/);
  });

  it('gives a message data parsed from the JSON text once, on first read', async () => {
    const c = hubs();
    const a = await joined(c, 'w1');
    await a.hub.publish('t', { deep: { list: [1, 2] } });
    await until(() => a.received.length === 1, 'the message');
    const message = a.received[0];
    expect(message?.data).toEqual({ deep: { list: [1, 2] } });
    expect(message?.data).toBe(message?.data);
  });
});

/** The 'hub joined' log line of the hub in process `key`: how many messages it restored, how many came early. */
function joinOf(lines: readonly Record<string, unknown>[], key: string): Record<string, unknown> | undefined {
  return lines.find((l) => l['msg'] === 'hub joined' && String(l['member']).startsWith(`${key}/`));
}
