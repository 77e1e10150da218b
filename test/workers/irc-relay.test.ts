import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CliProcess } from '../helpers/cli.js';
import { Observer } from '../helpers/irc/test-harness.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { startNgircd, stopAllNgircd } from '../helpers/ngircd.js';
import type { HubClient } from '../helpers/pubsub/test-client.js';
import { needCommand } from '../helpers/system-command.js';
import { pidApp, startGraph, workerPids } from '../helpers/workers.js';
import { clientsOn, hubManifest, idsOf, publishOn, waitForId } from '../helpers/workers-hub.js';

// `workers: 2` with an IRC bot relaying both ways between the hub and a channel of a real
// ngircd, through the built CLI. The hub runs in both workers; the bot runs once (in the
// process of the once-services) with the hub's stand-in: one IRC connection, and each message
// relayed once whichever worker it was published on. Clients are placed on a known worker as in
// hub.test.ts (a GET / on their own TCP connection before the upgrade).

const CHANNEL = '#relay';
const BOT = 'relaybot';

const running: CliProcess[] = [];
const clients: HubClient[] = [];
const observers: Observer[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of running.splice(0)) {
    if (p.process.exitCode !== null || p.process.signalCode !== null) continue;
    p.process.kill('SIGTERM');
    await p.exited();
  }
  await Promise.all(observers.splice(0).map((o) => o.close()));
});
afterAll(stopAllNgircd);

const botLines = (server: string): string => `  bot:
    kind: irc
    server: ${server}
    nick: ${BOT}
    channels: ['${CHANNEL}']
    flood: { interval: 0 }
    relay:
      - { from: 'hub:alerts.>', to: '${CHANNEL}', format: '{id} {data.text}' }
      - { from: '${CHANNEL}', to: 'hub:irc.relay' }
`;

describe.runIf(needCommand('ngircd'))('an IRC relay with the hub across workers', () => {
  const makeDir = useManifestDirs();

  it('hub messages published on each worker reach the channel once each; a channel line reaches subscribers on both workers once; one bot joins', async () => {
    const ngircd = await startNgircd();
    const watcher = await Observer.connect(ngircd.port, 'relaywatch', [CHANNEL]);
    observers.push(watcher);
    const dir = makeDir({ 'hendrix.yaml': hubManifest(2, botLines(ngircd.server)), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    const [a, b] = g.pids as [number, number];
    const ready = g.p.stdout().split('\n').find((l) => l.includes('"ready:'))!;
    // the bot's process: one, besides the two workers
    expect(workerPids(JSON.parse(ready) as Record<string, unknown>, 'once')).toHaveLength(1);
    await watcher.until(() => watcher.channelsOf('join', BOT).includes(CHANNEL), 'the bot in the channel', 10_000);

    const placed = await clientsOn(g.url, [a, b], 3);
    const subscribers = [...placed.get(a)!.slice(0, 2), ...placed.get(b)!.slice(0, 2)];
    const [pubA, pubB] = [placed.get(a)![2]!, placed.get(b)![2]!];
    clients.push(...subscribers, pubA, pubB);
    for (const ack of await Promise.all(subscribers.map((c) => c.request({ type: 'subscribe', topic: 'irc.relay' })))) expect(ack).toMatchObject({ type: 'ack' });

    // hub → channel: a WebSocket publish and an HTTP publish on each worker, then one more last
    const wsPublish = async (client: HubClient, text: string): Promise<string> => String((await client.request({ type: 'publish', topic: 'alerts.disk', data: { text } }))['messageId']);
    const sent = [
      [await wsPublish(pubA, 'ws on a'), 'ws on a'],
      [await wsPublish(pubB, 'ws on b'), 'ws on b'],
      [await publishOn(g.url, a, 'alerts.disk', { text: 'http on a' }), 'http on a'],
      [await publishOn(g.url, b, 'alerts.disk', { text: 'http on b' }), 'http on b'],
      [await wsPublish(pubB, 'last'), 'last'],
    ].map(([id, text]) => `${id} ${text}`);
    await watcher.waitFor(() => watcher.textsFrom(BOT, CHANNEL).includes(sent.at(-1)!), 10_000, 'the last relayed line');
    // in id order, each once: the bot relays what its one subscription on the one hub receives
    expect(watcher.textsFrom(BOT, CHANNEL)).toEqual(sent);

    // channel → hub: two lines said in the channel reach every subscriber on both workers once
    watcher.say(CHANNEL, 'from irc 1');
    watcher.say(CHANNEL, 'from irc 2');
    await Promise.all(subscribers.map((c) => c.next((f) => f.type === 'message' && (f['data'] as { text?: string }).text === 'from irc 2', 10_000)));
    const ids = idsOf(subscribers[0]!, 'irc.relay');
    expect(ids).toHaveLength(2);
    for (const c of subscribers) {
      await waitForId(c, 'irc.relay', ids[1]!);
      expect(idsOf(c, 'irc.relay')).toEqual(ids);
      expect(c.messages('irc.relay').map((m) => m['data'])).toMatchObject([
        { channel: CHANNEL, nick: 'relaywatch', text: 'from irc 1', bot: 'bot' },
        { channel: CHANNEL, nick: 'relaywatch', text: 'from irc 2', bot: 'bot' },
      ]);
    }

    // one bot in the channel, joined once, never under another nick
    expect((await watcher.names(CHANNEL)).sort()).toEqual([BOT, 'relaywatch'].sort());
    expect(watcher.memberships.filter((m) => m.type === 'join')).toHaveLength(1);
  });
});
