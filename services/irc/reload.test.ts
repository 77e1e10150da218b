import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { MemoryHub, Observer, ircConfig, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { needCommand } from '../../test/helpers/system-command.js';

/** Each test's reloads are bounded like a start. */
const reloadSignal = (): AbortSignal => AbortSignal.timeout(10_000);

describe.runIf(needCommand('ngircd'))('irc reload in place, against ngircd', () => {
  let server: Ngircd;
  let dir: string;
  const observers: Observer[] = [];
  const observe = async (nick: string, channels: string[]): Promise<Observer> => {
    const observer = await Observer.connect(server.port, nick, channels);
    observers.push(observer);
    return observer;
  };
  /** Writes the bot's commands module (cmds.mjs in the test folder). */
  const commands = (source: string): Promise<void> => writeFile(join(dir, 'cmds.mjs'), source);

  beforeAll(async () => {
    server = await startNgircd();
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

  it('stays on one connection through 5 reloads: joins, parts, relay rules, a new commands module, a new prefix', async () => {
    await commands("export function ping() { return 'pong v1'; }\n");
    const hub = new MemoryHub();
    const { log, lines } = createCapturingLogger();
    const watcher = await observe('rlwatch', ['#rlmain', '#rlextra']);
    const base = { server: server.server, nick: 'rlbot', commands: './cmds.mjs', flood: { interval: 0 } };
    const { bot } = await startBot({ ...base, channels: ['#rlmain'], relay: [{ from: 'hub:alerts', to: '#rlmain' }] }, { log, baseDir: dir, peers: { hub } });
    const signon = await watcher.signon('rlbot');
    watcher.say('#rlmain', '!ping');
    await watcher.waitFor(() => watcher.textsFrom('rlbot', '#rlmain').includes('pong v1'));

    // 1: a new channel is joined
    await bot.reload(ircConfig({ ...base, channels: ['#rlmain', '#rlextra'], relay: [{ from: 'hub:alerts', to: '#rlmain' }] }), reloadSignal());
    await watcher.until(() => watcher.channelsOf('join', 'rlbot').includes('#rlextra'), 'the JOIN of #rlextra');
    expect(await watcher.names('#rlextra')).toContain('rlbot');

    // 2: the relay rules change: another topic to another channel, and the channel to the hub
    await bot.reload(
      ircConfig({
        ...base,
        channels: ['#rlmain', '#rlextra'],
        relay: [
          { from: 'hub:deploys', to: '#rlextra', format: 'deploy: {data}' },
          { from: '#rlmain', to: 'hub:irc.main' },
        ],
      }),
      reloadSignal(),
    );
    expect(hub.subscriptions).toBe(1);
    await hub.publish('alerts', 'old rule');
    await hub.publish('deploys', 'web v2');
    // one queue, in order: once the later line is there, the earlier one would have been too
    await watcher.waitFor(() => watcher.textsFrom('rlbot', '#rlextra').includes('deploy: web v2'));
    expect(watcher.textsFrom('rlbot')).not.toContain('old rule');
    watcher.say('#rlmain', 'to the hub');
    await watcher.until(() => hub.published.some((m) => m.topic === 'irc.main'), 'the channel line on the hub');
    expect(hub.published.find((m) => m.topic === 'irc.main')?.data).toMatchObject({ channel: '#rlmain', nick: 'rlwatch', text: 'to the hub', bot: 'bot' });

    // 3: the commands module changed on disk (the config did not): the new one answers
    await commands("export function ping() { return 'pong v2'; }\nexport const version = () => 'v2';\n");
    await bot.reload(
      ircConfig({ ...base, channels: ['#rlmain', '#rlextra'], relay: [{ from: 'hub:deploys', to: '#rlextra', format: 'deploy: {data}' }, { from: '#rlmain', to: 'hub:irc.main' }] }),
      reloadSignal(),
    );
    watcher.say('#rlmain', '!version');
    await watcher.waitFor(() => watcher.textsFrom('rlbot', '#rlmain').includes('v2'));
    watcher.say('#rlmain', '!ping');
    await watcher.waitFor(() => watcher.textsFrom('rlbot', '#rlmain').includes('pong v2'));

    // 4: a channel is removed: parted, with the relay that named it
    await bot.reload(ircConfig({ ...base, channels: ['#rlmain'], relay: [{ from: 'hub:alerts', to: '#rlmain' }] }), reloadSignal());
    await watcher.until(() => watcher.channelsOf('part', 'rlbot').includes('#rlextra'), 'the PART of #rlextra');
    expect(await watcher.names('#rlextra')).not.toContain('rlbot');

    // 5: a new command prefix and limits
    await bot.reload(ircConfig({ ...base, channels: ['#rlmain'], relay: [{ from: 'hub:alerts', to: '#rlmain' }], commandPrefix: '?', flood: { burst: 8, interval: '1s' }, commandRate: { burst: 9 } }), reloadSignal());
    watcher.say('#rlmain', '?version');
    await hub.publish('alerts', 'new rule');
    await watcher.waitFor(() => watcher.textsFrom('rlbot', '#rlmain').includes('new rule'));
    await watcher.waitFor(() => watcher.textsFrom('rlbot', '#rlmain').filter((t) => t === 'v2').length === 2);

    // one connection all along, as the server sees it
    expect(watcher.quits.filter((q) => q.nick === 'rlbot')).toEqual([]);
    // the JOIN of the start, then the one of reload 1: never again (a new connection would rejoin)
    expect(watcher.channelsOf('join', 'rlbot')).toEqual(['#rlmain', '#rlextra']);
    expect(await watcher.signon('rlbot')).toBe(signon);
    expect(bot.handle().stats()).toMatchObject({ reconnects: 0 });
    const reloaded = lines.filter((l) => l['msg'] === 'reloaded');
    expect(reloaded.map((l) => l['changed'])).toEqual([['channels'], ['relay'], ['commands file'], ['channels', 'relay'], ['commandPrefix', 'commandRate', 'flood']]);
    expect(reloaded[0]).toMatchObject({ joined: ['#rlextra'] });
    expect(reloaded[3]).toMatchObject({ parted: ['#rlextra'] });
  });

  it('a nick change reconnects in place: QUIT with the reason, then the new nick in every channel', async () => {
    const { log, lines } = createCapturingLogger();
    const watcher = await observe('nkwatch', ['#nk']);
    const base = { server: server.server, channels: ['#nk'], flood: { interval: 0 } };
    const { bot } = await startBot({ ...base, nick: 'nkold' }, { log });
    await bot.reload(ircConfig({ ...base, nick: 'nknew' }), reloadSignal());
    // resolved: the new connection is registered and in the channel
    expect(bot.handle()).toMatchObject({ nick: 'nknew', connected: true });
    expect(await watcher.names('#nk')).toEqual(expect.arrayContaining(['nknew']));
    await watcher.until(() => watcher.quits.some((q) => q.nick === 'nkold'), 'the QUIT of nkold');
    expect(watcher.quits.find((q) => q.nick === 'nkold')?.message).toMatch(/reconnecting \(nick changed\)/);
    expect(await watcher.names('#nk')).not.toContain('nkold');
    expect(bot.handle().stats().reconnects).toBe(1);
    expect(lines.find((l) => l['msg'] === 'reconnecting to apply the reload')).toMatchObject({ reason: 'nick changed', nick: 'nknew' });
    expect(lines.find((l) => l['msg'] === 'reloaded')).toMatchObject({ changed: ['nick'], newConnection: true });
    bot.handle().say('#nk', 'still here');
    await watcher.waitFor(() => watcher.textsFrom('nknew', '#nk').includes('still here'));
  });

  it('a reload while disconnected applies at the next connection: the new nick joins the new channel list', async () => {
    const own = await startNgircd();
    const { log, lines } = createCapturingLogger();
    const base = { server: own.server, flood: { interval: 0 }, reconnect: { initial: '200ms', max: '400ms', jitter: 0 } };
    const { bot } = await startBot({ ...base, nick: 'dcold', channels: ['#dc'] }, { log });
    await own.kill('SIGKILL');
    for (const deadline = performance.now() + 5_000; !lines.some((l) => l['msg'] === 'disconnected'); ) {
      if (performance.now() > deadline) throw new Error('the bot did not notice the server go');
      await new Promise((r) => setTimeout(r, 20));
    }
    // nothing to wait for while disconnected: the settings are those of the next attempt
    await bot.reload(ircConfig({ ...base, nick: 'dcnew', channels: ['#dc', '#dc2'] }), reloadSignal());
    expect(lines.find((l) => l['msg'] === 'reloaded')).toMatchObject({ changed: ['nick', 'channels'], newConnection: true });
    await own.restart();
    const watcher = await Observer.connect(own.port, 'dcwatch', ['#dc2']);
    observers.push(watcher);
    // the bot may be back before the watcher: ask the server who is in the channel
    for (const deadline = performance.now() + 10_000; !(await watcher.names('#dc2')).includes('dcnew'); ) {
      if (performance.now() > deadline) throw new Error('dcnew did not join #dc2');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await watcher.names('#dc')).toContain('dcnew');
    expect(bot.handle().nick).toBe('dcnew');
    bot.handle().say('#dc2', 'back');
    await watcher.waitFor(() => watcher.textsFrom('dcnew', '#dc2').includes('back'));
  });
});
