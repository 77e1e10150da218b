import { afterEach, describe, expect, it } from 'vitest';
import { createClusterHubs, until } from '../../test/helpers/pubsub/cluster-hubs.js';
import type { HubChannelMessage } from './cluster-coordinator.js';

// The hub's coordinator (the sequencer in the primary) seen from its members' channels, speaking
// the protocol by hand, over the in-process cluster bus.

let cluster: ReturnType<typeof createClusterHubs> | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** A member speaking the channel protocol by hand: answers `dump` with nothing, keeps the rest. */
async function member(key: string) {
  const c = (cluster ??= createClusterHubs());
  const got: HubChannelMessage[] = [];
  let ref = 0;
  const channel = c.link(key).open((message) => {
    const m = message as HubChannelMessage;
    if (m.t === 'dump') channel.send({ t: 'dumped', for: m.for, history: [] });
    else got.push(m);
  });
  await until(() => got.some((m) => m.t === 'welcome'), `${key} welcomed`);
  const welcome = got.find((m) => m.t === 'welcome');
  const self = welcome?.t === 'welcome' ? welcome.member : '';
  const mine = (m: HubChannelMessage, sent: number): boolean => m.t === 'msg' && m.ref === sent && m.from === self;
  const seqOf = async (sent: number): Promise<number> => {
    await until(() => got.some((m) => mine(m, sent)), `message ${sent} of ${key} back`);
    const back = got.find((m) => mine(m, sent));
    return back?.t === 'msg' ? back.seq : NaN;
  };
  return {
    got,
    channel,
    /** Publishes and resolves with the seq the coordinator gave it. */
    publish: (topic: string): Promise<number> => {
      const sent = ++ref;
      channel.send({ t: 'pub', ref: sent, topic, json: '1' });
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
    await until(() => m1.got.some((m) => m.t === 'msg'), 'the message at m1');
    const [at1, at2] = [m1, m2].map((m) => m.got.filter((x) => x.t === 'msg'));
    expect(at1).toEqual(at2);
    expect(at1).toEqual([{ t: 'msg', topic: 't', epoch: cluster?.coordinator().epoch, seq, ts: expect.any(Number), json: '1', from: expect.stringMatching(/^w2\//), ref: 1 }]);
  });
});
