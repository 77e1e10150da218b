import { afterEach, describe, expect, it } from 'vitest';
import type { CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import type { HubClient } from '../helpers/pubsub/test-client.js';
import { isAlive, pidApp, startGraph, until } from '../helpers/workers.js';
import { clientsOn, connectOn, epochOf, hubManifest, idsOf, publishOn, seqOf, waitForId } from '../helpers/workers-hub.js';

// The hub of `hendrix up` with `workers: 2`, through the built CLI: real worker processes, real
// `ws` clients. Which worker a client is on is known, not guessed: each client first asks
// `GET /` on its own TCP connection (the app answers with its pid) and sends its WebSocket
// upgrade on that same connection (helpers/workers-hub.ts), and node:cluster gives a
// connection to one worker whole. The SIGKILL test confirms the placement: exactly the clients
// placed on the killed worker are cut.

const running: CliProcess[] = [];
const clients: HubClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of running.splice(0)) {
    if (p.process.exitCode !== null || p.process.signalCode !== null) continue;
    p.process.kill('SIGTERM');
    await p.exited();
  }
});
const makeDir = useManifestDirs();
const project = (): string => makeDir({ 'hendrix.yaml': hubManifest(2), 'app.mjs': pidApp('v1') });

/** Subscribes every client to `topic` (acked, nothing replayed). */
async function subscribeAll(list: HubClient[], topic: string): Promise<void> {
  for (const ack of await Promise.all(list.map((c) => c.request({ type: 'subscribe', topic })))) expect(ack).toMatchObject({ type: 'ack' });
}

/** A WebSocket publish (acked): the message id. */
async function wsPublish(client: HubClient, topic: string, data: unknown): Promise<string> {
  const ack = await client.request({ type: 'publish', topic, data });
  expect(ack).toMatchObject({ type: 'ack' });
  return String(ack['messageId']);
}

/** Every client received exactly `ids` on `topic`, in that order, with the same data for each id. */
function expectExactly(list: HubClient[], topic: string, ids: string[]): void {
  const data = new Map<string, string>();
  for (const c of list) {
    expect(idsOf(c, topic)).toEqual(ids);
    for (const m of c.messages(topic)) {
      const text = JSON.stringify(m['data']);
      expect(data.get(String(m['id'])) ?? text).toBe(text);
      data.set(String(m['id']), text);
    }
  }
}

describe('the hub across worker processes', () => {
  it('publishes on each worker (WebSocket and HTTP) reach every subscriber on both workers once, in one id order; `since` replays across workers', async () => {
    const g = await startGraph(project(), [], running);
    const [a, b] = g.pids as [number, number];
    const placed = await clientsOn(g.url, [a, b], 4);
    // three subscribers and one publisher per worker
    const subsA = placed.get(a)!.slice(0, 3);
    const subsB = placed.get(b)!.slice(0, 3);
    const [pubA, pubB] = [placed.get(a)![3]!, placed.get(b)![3]!];
    clients.push(...subsA, ...subsB, pubA, pubB);
    const subscribers = [...subsA, ...subsB];
    await subscribeAll(subscribers, 'ticks');

    // four sources at once, ten messages each: a WebSocket on each worker, HTTP on each worker
    const sources: [string, (n: number) => Promise<string>][] = [
      ['ws-a', (n) => wsPublish(pubA, 'ticks', { from: 'ws-a', n })],
      ['ws-b', (n) => wsPublish(pubB, 'ticks', { from: 'ws-b', n })],
      ['http-a', (n) => publishOn(g.url, a, 'ticks', { from: 'http-a', n })],
      ['http-b', (n) => publishOn(g.url, b, 'ticks', { from: 'http-b', n })],
    ];
    const acked = (
      await Promise.all(
        sources.map(async ([, send]) => {
          const ids: string[] = [];
          for (let n = 0; n < 10; n++) ids.push(await send(n));
          return ids;
        }),
      )
    ).flat();
    // a last message: what it follows is all a subscriber will ever get before it
    const last = await wsPublish(pubB, 'ticks', { from: 'last' });
    await Promise.all(subscribers.map((c) => waitForId(c, 'ticks', last)));

    const all = [...acked, last].sort((x, y) => seqOf(x) - seqOf(y));
    // one epoch, one sequence without a hole or a repeat: 1..41
    expect(new Set(all.map(epochOf)).size).toBe(1);
    expect(all.map(seqOf)).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    expectExactly(subscribers, 'ticks', all);
    // the publishers subscribed to nothing and received nothing
    expect(pubA.messages()).toEqual([]);

    // `since`: a client that saw up to k reconnects, to worker A and to worker B
    const k = all[19]!;
    for (const pid of [a, b]) {
      const again = await connectOn(g.url, pid);
      clients.push(again);
      const ack = await again.request({ type: 'subscribe', topic: 'ticks', since: k });
      expect(ack).toMatchObject({ type: 'ack', replayed: 21 });
      expect(ack['lost']).toBeUndefined();
      expectExactly([again], 'ticks', all.slice(20));
    }
  });

  it('a SIGKILLed worker cuts only its clients; its replacement gets the history, and `since` on it misses nothing', async () => {
    const g = await startGraph(project(), [], running);
    const [a, b] = g.pids as [number, number];
    const placed = await clientsOn(g.url, [a, b], 3);
    const subsA = placed.get(a)!;
    const subsB = placed.get(b)!;
    clients.push(...subsA, ...subsB);
    await subscribeAll([...subsA, ...subsB], 'ticks');
    const before: string[] = [];
    for (let n = 0; n < 5; n++) before.push(await publishOn(g.url, n % 2 ? a : b, 'ticks', { n }));
    await Promise.all([...subsA, ...subsB].map((c) => waitForId(c, 'ticks', before.at(-1)!)));

    process.kill(a, 'SIGKILL');
    const cut = await Promise.all(subsA.map((c) => c.whenClosed(10_000)));
    expect(cut.map((c) => c.code)).toEqual([1006, 1006, 1006]);
    // worker B serves on meanwhile: its clients stay, and it publishes
    const pubB = subsB[0]!;
    const during: string[] = [];
    for (let n = 0; n < 5; n++) during.push(await wsPublish(pubB, 'ticks', { n, during: true }));

    const back = await g.p.waitForLog((l) => typeof l.msg === 'string' && /^worker 1 is back \(pid \d+\)$/.test(l.msg), 15_000);
    const fresh = Number(back.pid);
    expect(fresh).not.toBe(a);
    await until(() => !isAlive(a), 'the killed worker to be gone');
    // published on the new worker: the same epoch, the next seq
    const after = [await publishOn(g.url, fresh, 'ticks', { after: true })];
    const all = [...before, ...during, ...after];
    expect(all.map(seqOf)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    expect(new Set(all.map(epochOf)).size).toBe(1);

    // each client of the killed worker resumes on the new worker from the last id it saw
    for (const old of subsA) {
      const seen = idsOf(old, 'ticks');
      expect(seen).toEqual(before);
      const resumed = await connectOn(g.url, fresh);
      clients.push(resumed);
      const ack = await resumed.request({ type: 'subscribe', topic: 'ticks', since: seen.at(-1) });
      expect(ack).toMatchObject({ type: 'ack', replayed: 6 });
      expect(ack['lost']).toBeUndefined();
      expectExactly([resumed], 'ticks', [...during, ...after]);
    }
    // worker B's clients were never cut and got all eleven once
    await Promise.all(subsB.map((c) => waitForId(c, 'ticks', after[0]!)));
    expect(subsB.map((c) => c.closed)).toEqual([undefined, undefined, undefined]);
    expectExactly(subsB, 'ticks', all);
  });
});
