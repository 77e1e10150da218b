import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { MemoryHub, Observer, ircConfig, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { freePort } from '../../test/helpers/pebble.js';
import { needCommand } from '../../test/helpers/system-command.js';

const reloadSignal = (): AbortSignal => AbortSignal.timeout(10_000);

/** The HendrixError a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<HendrixError> {
  const error = await promise.then(
    () => new Error('resolved, expected a rejection'),
    (e: unknown) => e,
  );
  if (!isHendrixError(error)) throw error;
  return error;
}

describe.runIf(needCommand('ngircd'))('irc reloads that fail, and rebinds, against ngircd', () => {
  let server: Ngircd;
  let dir: string;
  const observers: Observer[] = [];
  const observe = async (nick: string, channels: string[]): Promise<Observer> => {
    const observer = await Observer.connect(server.port, nick, channels);
    observers.push(observer);
    return observer;
  };
  const file = (): string => join(dir, 'cmds.mjs');
  const commands = (source: string): Promise<void> => writeFile(file(), source);

  beforeAll(async () => {
    server = await startNgircd({ channels: [{ name: '#rfkeyed', modes: ['+k s3cret'] }] });
    dir = await mkdtemp(join(tmpdir(), 'hendrix-irc-reload-'));
  });
  afterEach(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
  });
  afterAll(async () => {
    await stopAllNgircd();
    await rm(dir, { recursive: true, force: true });
  });

  it('a commands module that does not load rejects with its file:line:col; the old commands keep answering; a rollback brings them back', async () => {
    await commands("export function ping() { return 'pong v1'; }\n");
    const watcher = await observe('cmwatch', ['#cm']);
    const base = { server: server.server, nick: 'cmbot', channels: ['#cm'], commands: './cmds.mjs', flood: { interval: 0 } };
    const { bot, ctx } = await startBot(base, { baseDir: dir });
    const pings = (): number => watcher.textsFrom('cmbot', '#cm').filter((t) => t === 'pong v1').length;

    await commands("export function ping() {\n  return 'pong v2';\n}}\n");
    const syntax = await rejection(bot.reload(ircConfig(base), reloadSignal()));
    expect(syntax).toMatchObject({ code: 'HX_ERR_IRC_COMMANDS', path: ['services', 'bot', 'commands'] });
    expect(syntax.message).toBe(`cannot load the commands module ${file()}: ${file()}:3:2: Unexpected token '}'`);
    expect(syntax.related).toEqual([{ message: 'the failure is here', location: { file: file(), line: 3, column: 2 } }]);
    watcher.say('#cm', '!ping');
    await watcher.waitFor(() => pings() === 1);

    await commands("const answer = 'v2';\nthrow new Error('boom at import');\nexport function ping() { return answer; }\n");
    const thrown = await rejection(bot.reload(ircConfig(base), reloadSignal()));
    expect(thrown.message).toBe(`cannot load the commands module ${file()}: ${file()}:2:7: boom at import`);
    watcher.say('#cm', '!ping');
    await watcher.waitFor(() => pings() === 2);

    await commands("export function ping() { return 'pong v3'; }\n");
    await bot.reload(ircConfig(base), reloadSignal());
    watcher.say('#cm', '!ping');
    await watcher.waitFor(() => watcher.textsFrom('cmbot', '#cm').includes('pong v3'));
    // the core rolls back with the previous config object: the module it had, not the file on disk now
    await bot.reload(ctx.config, reloadSignal());
    watcher.say('#cm', '!ping');
    await watcher.waitFor(() => pings() === 3);
    expect(watcher.quits).toEqual([]);
  });

  it('a channel that refuses the join, or a relay to no hub, rejects the reload and leaves the bot as it was', async () => {
    const hub = new MemoryHub();
    const watcher = await observe('rfwatch', ['#rfok', '#rfnew']);
    const base = { server: server.server, nick: 'rfbot', flood: { interval: 0 } };
    const relay = [{ from: 'hub:alerts', to: '#rfok' }];
    const { bot } = await startBot({ ...base, channels: ['#rfok'], relay }, { peers: { hub, web: { handleRequest() {} } } });

    const refused = await rejection(
      bot.reload(ircConfig({ ...base, channels: ['#rfok', { name: '#rfkeyed', key: 'wrong' }, '#rfnew'], relay: [{ from: 'hub:alerts', to: '#rfnew' }] }), reloadSignal()),
    );
    expect(refused).toMatchObject({ code: 'HX_ERR_IRC_JOIN', path: ['services', 'bot', 'channels', 1] });
    expect(refused.message).toMatch(/^cannot join #rfkeyed: wrong channel key/);
    // #rfnew was joined in the same JOIN line: left again
    await watcher.until(() => watcher.channelsOf('part', 'rfbot').includes('#rfnew'), 'the PART of #rfnew');
    expect(await watcher.names('#rfnew')).not.toContain('rfbot');

    const noHub = await rejection(bot.reload(ircConfig({ ...base, channels: ['#rfok'], relay: [{ from: 'web:alerts', to: '#rfok' }] }), reloadSignal()));
    expect(noHub).toMatchObject({ code: 'HX_ERR_IRC_RELAY', path: ['services', 'bot', 'relay', 0, 'from'] });

    // the old relay still relays, on the same connection
    await hub.publish('alerts', 'still relayed');
    await watcher.waitFor(() => watcher.textsFrom('rfbot', '#rfok').includes('still relayed'));
    expect(hub.subscriptions).toBe(1);
    expect(watcher.quits).toEqual([]);
    // and the bot still takes a good reload
    await bot.reload(ircConfig({ ...base, channels: ['#rfok', '#rfnew'], relay: [{ from: 'hub:alerts', to: '#rfnew' }] }), reloadSignal());
    await hub.publish('alerts', 'to the new channel');
    await watcher.waitFor(() => watcher.textsFrom('rfbot', '#rfnew').includes('to the new channel'));
  });

  it('a new server that cannot be reached rejects once the reload gives up; the bot goes back to its server', async () => {
    const { log, lines } = createCapturingLogger();
    const watcher = await observe('svwatch', ['#sv']);
    const base = { nick: 'svbot', channels: ['#sv'], reconnect: { initial: '100ms', max: '200ms' } };
    const { bot } = await startBot({ ...base, server: server.server }, { log });
    const nowhere = `127.0.0.1:${await freePort()}`;
    const error = await rejection(bot.reload(ircConfig({ ...base, server: nowhere }), AbortSignal.timeout(1_500)));
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_CONNECT', path: ['services', 'bot', 'server'] });
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(lines.find((l) => l['msg'] === 'cannot connect with the new settings: back to the previous ones')).toMatchObject({ server: server.server });
    // back on the old server (a new connection: the old one was quit for the new settings)
    await watcher.until(() => watcher.channelsOf('join', 'svbot').length === 2, 'svbot back in #sv');
    expect(watcher.quits.find((q) => q.nick === 'svbot')?.message).toMatch(/reconnecting \(server changed\)/);
    await watcher.until(() => bot.handle().connected, 'the bot connected');
    expect(bot.address()).toBe(`irc://${server.server}`);
  });

  it('rebind: the relay moves to the new handle of a replaced hub; commands reach peers per call', async () => {
    await commands("export async function pub(message, reply, ctx) { await ctx.peer('hub').publish('cmd', { by: message.nick }); return 'published'; }\n");
    const first = new MemoryHub();
    const second = new MemoryHub();
    const peers: Record<string, unknown> = { hub: first, web: { handleRequest() {} } };
    const watcher = await observe('rbwatch', ['#rb']);
    const { bot } = await startBot(
      {
        server: server.server,
        nick: 'rbbot',
        channels: ['#rb'],
        commands: './cmds.mjs',
        relay: [
          { from: 'hub:alerts', to: '#rb' },
          { from: '#rb', to: 'hub:irc.rb' },
        ],
        flood: { interval: 0 },
        dependsOn: ['web'],
      },
      { baseDir: dir, peers },
    );
    // the core swaps the handle, then calls rebind
    peers['hub'] = second;
    watcher.say('#rb', '!pub');
    await watcher.waitFor(() => watcher.textsFrom('rbbot', '#rb').includes('published'));
    expect(second.published.map((m) => m.topic)).toEqual(['cmd']);
    await bot.rebind('hub', reloadSignal());
    expect([first.subscriptions, second.subscriptions]).toEqual([0, 1]);
    await first.publish('alerts', 'from the old hub');
    await second.publish('alerts', 'from the new hub');
    await watcher.waitFor(() => watcher.textsFrom('rbbot', '#rb').includes('from the new hub'));
    expect(watcher.textsFrom('rbbot', '#rb')).not.toContain('from the old hub');
    watcher.say('#rb', 'to the new hub');
    await watcher.until(() => second.published.some((m) => m.topic === 'irc.rb'), 'the channel line on the new hub');
    // the old hub got channel lines only until the rebind (!pub), and none after
    expect(first.published.filter((m) => m.topic === 'irc.rb').map((m) => (m.data as { text: string }).text)).toEqual(['!pub']);

    // a peer the relay does not use: nothing moves
    await bot.rebind('web', reloadSignal());
    expect(second.subscriptions).toBe(1);
    // a rollback rebinds to the old handle the same way
    peers['hub'] = first;
    await bot.rebind('hub', reloadSignal());
    expect([first.subscriptions, second.subscriptions]).toEqual([1, 0]);
    await first.publish('alerts', 'the old hub again');
    await watcher.waitFor(() => watcher.textsFrom('rbbot', '#rb').includes('the old hub again'));
    expect(watcher.quits).toEqual([]);
  });
});
