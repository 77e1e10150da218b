import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { HubClient } from '../../test/helpers/pubsub/test-client.js';
import { startHub, stopHubs } from '../../test/helpers/pubsub/test-harness.js';
import { IRC_FIXTURES, Observer, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';

describe.runIf(needCommand('ngircd'))('relay with the real pub/sub hub', () => {
  let server: Ngircd;
  const observers: Observer[] = [];
  const clients: HubClient[] = [];

  beforeAll(async () => {
    server = await startNgircd();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await stopBots();
    await stopHubs();
    await Promise.all(observers.splice(0).map((o) => o.close()));
  });
  afterAll(stopAllNgircd);

  it('a WebSocket publish reaches the channel; a channel line reaches a WebSocket subscriber', async () => {
    const { hub, url } = await startHub();
    const watcher = await Observer.connect(server.port, 'hubwatch', ['#ops']);
    observers.push(watcher);
    await startBot(
      {
        server: server.server,
        nick: 'hubbot',
        channels: ['#ops'],
        relay: [
          { from: 'hub:alerts.>', to: '#ops', format: '[{topic}] {data.text}' },
          { from: '#ops', to: 'hub:irc.ops' },
        ],
      },
      { peers: { hub: hub.handle() } },
    );
    const publisher = await HubClient.connect(url);
    const subscriber = await HubClient.connect(url);
    clients.push(publisher, subscriber);
    expect(await subscriber.request({ type: 'subscribe', topic: 'irc.ops' })).toMatchObject({ type: 'ack' });

    expect(await publisher.request({ type: 'publish', topic: 'alerts.disk.sda1', data: { text: 'disk 91% full' } })).toMatchObject({ type: 'ack' });
    await watcher.waitFor(() => watcher.textsFrom('hubbot', '#ops').includes('[alerts.disk.sda1] disk 91% full'));

    watcher.say('#ops', 'on it');
    const frame = await subscriber.next((f) => f.type === 'message' && f['topic'] === 'irc.ops', 5_000);
    expect(frame['data']).toMatchObject({ channel: '#ops', nick: 'hubwatch', text: 'on it', bot: 'bot' });
    expect(typeof (frame['data'] as { time: unknown }).time).toBe('string');
  });

  it('relaying both ways on one topic does not echo the channel back into itself', async () => {
    const { hub, url } = await startHub();
    const watcher = await Observer.connect(server.port, 'loopwatch', ['#loop']);
    observers.push(watcher);
    const { bot } = await startBot(
      { server: server.server, nick: 'loopbot', channels: ['#loop'], relay: [{ from: '#loop', to: 'hub:chat' }, { from: 'hub:chat', to: '#loop' }], flood: { interval: 0 } },
      { peers: { hub: hub.handle() } },
    );
    const client = await HubClient.connect(url);
    clients.push(client);
    await client.request({ type: 'subscribe', topic: 'chat' });
    watcher.say('#loop', 'from irc');
    await client.next((f) => f.type === 'message' && (f['data'] as { text?: string }).text === 'from irc', 5_000);
    await client.request({ type: 'publish', topic: 'chat', data: 'from the web' });
    await watcher.waitFor(() => watcher.textsFrom('loopbot', '#loop').includes('from the web'));
    expect(watcher.textsFrom('loopbot', '#loop')).toEqual(['from the web']);
    expect(bot.handle().stats().sent).toBe(1);
  });

  it('a line the hub refuses (the topic schema) is logged with HX_ERR_IRC_RELAY_PUBLISH; the bot goes on', async () => {
    const { hub } = await startHub({ topics: { 'irc.strict': { schema: join(IRC_FIXTURES, 'numbers-only.schema.json') } } });
    const { log, lines } = createCapturingLogger();
    const watcher = await Observer.connect(server.port, 'strictw', ['#strict']);
    observers.push(watcher);
    const { bot, ctx } = await startBot(
      { server: server.server, nick: 'strictbot', channels: ['#strict'], relay: [{ from: '#strict', to: 'hub:irc.strict' }] },
      { log, peers: { hub: hub.handle() } },
    );
    watcher.say('#strict', 'not a number');
    const deadline = performance.now() + 5_000;
    while (!lines.some((l) => l['code'] === 'HX_ERR_IRC_RELAY_PUBLISH') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const warning = lines.find((l) => l['code'] === 'HX_ERR_IRC_RELAY_PUBLISH');
    expect(warning).toMatchObject({ level: 40, channel: '#strict', topic: 'irc.strict' });
    expect(bot.handle().connected).toBe(true);
    expect(ctx.crashes).toEqual([]);
  });
});
