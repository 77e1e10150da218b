import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/log/logger.js';
import { up, type Hendrix } from '../../src/index.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { HubClient } from '../../test/helpers/pubsub/test-client.js';
import type { IrcHandle } from './service.js';
import { Observer } from '../../test/helpers/irc/test-harness.js';

const manifest = fileURLToPath(new URL('../../examples/irc-relay/hendrix.yaml', import.meta.url));

describe.runIf(needCommand('ngircd'))('examples/irc-relay: web, hub and bot as one graph', () => {
  let server: Ngircd;
  let app: Hendrix | undefined;
  let watcher: Observer | undefined;
  let client: HubClient | undefined;

  beforeAll(async () => {
    server = await startNgircd();
    watcher = await Observer.connect(server.port, 'opsuser', ['#ops']);
  });
  afterAll(async () => {
    client?.close();
    await app?.stop();
    await watcher?.close();
    await stopAllNgircd();
  });

  it('starts the bot after the hub it relays with, relays both ways and answers commands', async () => {
    app = await up(manifest, { environment: { IRC_SERVER: server.server, PORT: '0' }, logger: createSilentLogger() });
    const order = app.graph.order;
    expect(order.indexOf('bot')).toBeGreaterThan(order.indexOf('hub'));
    expect(app.addresses()['bot']).toBe(`irc://${server.server}`);
    expect(await watcher!.names('#ops')).toContain('hxbot');
    const web = app.addresses()['web'] as string;

    client = await HubClient.connect(`${web.replace(/^http/, 'ws')}/hub`);
    await client.request({ type: 'subscribe', topic: 'irc.ops' });
    // HTTP publish on the hub → the channel
    const res = await fetch(`${web}/hub/publish/alerts.disk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'disk 91%' }) });
    expect(res.status).toBe(202);
    await watcher!.waitFor(() => watcher!.textsFrom('hxbot', '#ops').includes('[alerts.disk] disk 91%'));
    // the channel → irc.ops over WebSocket
    watcher!.say('#ops', 'looking');
    expect((await client.next((f) => f.type === 'message' && f['topic'] === 'irc.ops', 5_000))['data']).toMatchObject({ nick: 'opsuser', text: 'looking' });
    // commands, one of them publishing through the hub peer and coming back through the relay
    watcher!.say('#ops', '!ping');
    await watcher!.waitFor(() => watcher!.textsFrom('hxbot', '#ops').includes('pong'));
    watcher!.say('#ops', '!alert restarting db');
    await watcher!.waitFor(() => watcher!.textsFrom('hxbot', '#ops').includes('[alerts.irc] restarting db'));
    expect(app.handle<IrcHandle>('bot').connected).toBe(true);

    await app.stop();
    await watcher!.waitFor(() => watcher!.quits.some((q) => q.nick === 'hxbot' && q.message.includes('hendrix example stopping')), 3_000, 'the QUIT');
    app = undefined;
  });
});
