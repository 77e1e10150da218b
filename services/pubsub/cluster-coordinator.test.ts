import { afterEach, describe, expect, it } from 'vitest';
import { createClusterHubs, until } from '../../test/helpers/pubsub/cluster-hubs.js';
import type { HubChannelMessage, SequencedMessage } from './cluster-coordinator.js';

// The hub's coordinator (the sequencer in the primary) seen from its members' channels, speaking
// the protocol by hand, over the in-process cluster bus.

let cluster: ReturnType<typeof createClusterHubs> | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** Opens a channel speaking the protocol by hand: answers `dump` with nothing, keeps everything it gets. */
function open(key: string) {
  const c = (cluster ??= createClusterHubs());
  const got: HubChannelMessage[] = [];
  const channel = c.link(key).open((message) => {
    const m = message as HubChannelMessage;
    got.push(m);
    if (m.t === 'dump') channel.send({ t: 'dumped', for: m.for, history: [] });
  });
  /** Every sequenced message received, in order, out of their batches. */
  const messages = (): SequencedMessage[] => got.flatMap((m) => (m.t === 'msgs' ? m.list : []));
  return { got, channel, messages };
}

/** A welcomed member (see open()) that publishes and forgets. */
async function member(key: string) {
  const { got, channel, messages } = open(key);
  let ref = 0;
  await until(() => got.some((m) => m.t === 'welcome'), `${key} welcomed`);
  const welcome = got.find((m) => m.t === 'welcome');
  const self = welcome?.t === 'welcome' ? welcome.member : '';
  const mine = (m: SequencedMessage, sent: number): boolean => m.ref === sent && m.from === self;
  const seqOf = async (sent: number): Promise<number> => {
    await until(() => messages().some((m) => mine(m, sent)), `message ${sent} of ${key} back`);
    return messages().find((m) => mine(m, sent))?.seq ?? NaN;
  };
  return {
    got,
    channel,
    messages,
    self,
    /** Publishes without waiting (the channel is ordered); returns the ref. */
    send: (topic: string): number => {
      const sent = ++ref;
      channel.send({ t: 'pubs', list: [{ ref: sent, topic, json: String(sent) }] });
      return sent;
    },
    /** Publishes and resolves with the seq the coordinator gave it. */
    publish: (topic: string): Promise<number> => {
      const sent = ++ref;
      channel.send({ t: 'pubs', list: [{ ref: sent, topic, json: '1' }] });
      return seqOf(sent);
    },
    forget: (topic: string): void => channel.send({ t: 'forget', topic }),
  };
}

describe('the hub coordinator', () => {
  it('forgets a topic counter only once every member that saw its last publish asked', async () => {
    const m1 = await member('w1');
    const m2 = await member('w2');
    for (const topic of ['b', 'd', 'e']) expect(await m1.publish(topic)).toBe(1);
    for (let i = 0; i < 10; i++) await m1.publish('high');
    m1.forget('high');
    m2.forget('high');
    // a forgotten counter starts again above the highest seq forgotten (10): a jump shows a forget
    m1.forget('b');
    expect(await m1.publish('b')).toBe(2); // m2 had not asked
    const m3 = await member('w3');
    m1.forget('b');
    m2.forget('b');
    expect(await m2.publish('b')).toBe(11); // m3 joined after b's last publish: it never knew b
    m1.forget('e');
    expect(await m1.publish('e')).toBe(2);
    m2.forget('e');
    m3.forget('e');
    expect(await m1.publish('e')).toBe(3); // m1 asked before the last publish: it must ask again
    expect(await m1.publish('d')).toBe(2);
    m1.forget('d');
    m3.forget('d');
    m2.channel.close(); // the one that had not asked leaves
    expect(await m1.publish('d')).toBe(11);
  });

  it('sends each message to every member once, with the publisher and its ref, the data as text', async () => {
    const m1 = await member('w1');
    const m2 = await member('w2');
    const seq = await m2.publish('t');
    await until(() => m1.messages().length === 1, 'the message at m1');
    const [at1, at2] = [m1, m2].map((m) => m.got.filter((x) => x.t === 'msgs'));
    expect(at1).toEqual(at2);
    expect(at1).toEqual([{ t: 'msgs', epoch: cluster?.coordinator().epoch, list: [{ topic: 't', seq, ts: expect.any(Number), json: '1', from: expect.stringMatching(/^w2\//), ref: 1 }] }]);
  });

  it('sends what it sequenced in one turn as one batch per member, in order, each publish with its own ref', async () => {
    const m1 = await member('w1');
    const m2 = await member('w2');
    // the bus hands every envelope sent in this turn to the coordinator in one turn of its own
    const sent = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? m1 : m2).send('t'));
    await until(() => m1.messages().length === 40 && m2.messages().length === 40, 'the 40 messages at both');
    for (const m of [m1, m2]) expect(m.got.filter((x) => x.t === 'msgs')).toHaveLength(1);
    expect(m1.messages()).toEqual(m2.messages());
    expect(m1.messages().map((m) => m.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // in the order the channels delivered them, each with the publisher and ref it was sent with
    expect(m1.messages().map((m) => [m.from, m.ref, m.json])).toEqual(sent.map((ref, i) => [(i % 2 === 0 ? m1 : m2).self, ref, String(ref)]));
  });

  it('splits a batch at its size limit without losing or reordering a message', async () => {
    const m1 = await member('w1');
    for (let i = 0; i < 1_100; i++) m1.send('t');
    await until(() => m1.messages().length === 1_100, 'the 1100 messages');
    const batches = m1.got.flatMap((m) => (m.t === 'msgs' ? [m.list.length] : []));
    expect(Math.max(...batches)).toBeLessThanOrEqual(512);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(m1.messages().map((m) => m.seq)).toEqual(Array.from({ length: 1_100 }, (_, i) => i + 1));
  });

  it('splits a batch that straddles a join: the joiner gets only what came after it joined, the donor all before its dump', async () => {
    const m1 = await member('w1');
    const m2 = await member('w2');
    // one turn: ten publishes, a join, ten more — all sequenced in one turn of the coordinator
    for (let i = 0; i < 10; i++) m1.send('t');
    const joiner = open('w3');
    for (let i = 0; i < 10; i++) m2.send('t');
    await until(() => joiner.got.some((m) => m.t === 'welcome') && m1.messages().length === 20 && m2.messages().length === 20, 'the joiner welcomed, 20 messages at both');
    const seqs = (list: readonly SequencedMessage[]): number[] => list.map((m) => m.seq);
    const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    // the donor (the longest welcomed) snapshots exactly the ten sequenced before the join
    const dumpAt = m1.got.findIndex((m) => m.t === 'dump' && m.for.startsWith('w3/'));
    expect(dumpAt).toBeGreaterThan(0);
    expect(seqs(m1.got.slice(0, dumpAt).flatMap((m) => (m.t === 'msgs' ? m.list : [])))).toEqual(range(1, 10));
    expect(seqs(m1.got.slice(dumpAt).flatMap((m) => (m.t === 'msgs' ? m.list : [])))).toEqual(range(11, 20));
    expect(seqs(m2.messages())).toEqual(range(1, 20));
    // the joiner: the ten after its join, before its welcome, and nothing else
    expect(seqs(joiner.messages())).toEqual(range(11, 20));
    expect(joiner.got.at(-1)?.t).toBe('welcome');
  });
});
