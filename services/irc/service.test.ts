import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { createCapturingLogger } from '../http/test-context.js';
import { MemoryHub, Observer, startBot, stopBots } from './test-harness.js';

describe.runIf(needCommand('ngircd'))('irc bot against ngircd', () => {
  let server: Ngircd;
  const observers: Observer[] = [];
  const observe = async (nick: string, channels: string[]): Promise<Observer> => {
    const observer = await Observer.connect(server.port, nick, channels);
    observers.push(observer);
    return observer;
  };

  beforeAll(async () => {
    server = await startNgircd({ channels: [{ name: '#locked', modes: ['+k s3cret'] }] });
  });
  afterEach(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
  });
  afterAll(stopAllNgircd);

  describe('join and ready', () => {
    it('resolves start once registered and joined to every channel (keyed ones too)', async () => {
      const watcher = await observe('watcher', ['#ops', '#locked s3cret']);
      const { bot } = await startBot({ server: server.server, nick: 'hxbot', channels: ['#ops', { name: '#locked', key: 's3cret' }] });
      // no waiting: at the moment start resolves the bot is in both channels
      expect(await watcher.names('#ops')).toContain('hxbot');
      expect(await watcher.names('#locked')).toContain('hxbot');
      expect(bot.handle().connected).toBe(true);
      expect(bot.handle().nick).toBe('hxbot');
      expect(bot.address()).toBe(`irc://${server.server}`);
    });

    it('logs connected with the nick and channels', async () => {
      const { log, lines } = createCapturingLogger();
      await startBot({ server: server.server, nick: 'logbot', channels: ['#ops'] }, { log });
      expect(lines.find((l) => l['msg'] === 'connected')).toMatchObject({ nick: 'logbot', channels: ['#ops'], server: server.server });
    });
  });

  describe('commands', () => {
    it('answers !commands in a channel and in private, with the module handlers', async () => {
      const watcher = await observe('asker', ['#cmd']);
      await startBot({ server: server.server, nick: 'cmdbot', channels: ['#cmd'], commands: './commands.mjs', flood: { interval: 0 } });
      watcher.say('#cmd', '!ping');
      await watcher.waitFor(() => watcher.textsFrom('cmdbot', '#cmd').includes('pong'));
      watcher.say('#cmd', '!echo  two  words ');
      await watcher.waitFor(() => watcher.textsFrom('cmdbot', '#cmd').includes('two  words'));
      watcher.say('cmdbot', '!whoami a b');
      await watcher.waitFor(() => watcher.textsFrom('cmdbot', 'asker').includes('asker in private (args: 2, bot: cmdbot)'));
      watcher.say('#cmd', '!boom');
      await watcher.waitFor(() => watcher.textsFrom('cmdbot', '#cmd').includes('!boom failed'));
      watcher.say('#cmd', '!help');
      await watcher.waitFor(() => watcher.textsFrom('cmdbot', '#cmd').some((t) => t.startsWith('commands: !announce !boom')));
    });
  });

  describe('relay with a hub', () => {
    it('relays hub topics to channels and channel lines to hub topics', async () => {
      const hub = new MemoryHub();
      const watcher = await observe('relayw', ['#relay']);
      await startBot(
        {
          server: server.server,
          nick: 'relaybot',
          channels: ['#relay'],
          relay: [
            { from: 'hub:alerts.*', to: '#relay', format: '[{topic}] {data.text}' },
            { from: '#relay', to: 'hub:irc.relay' },
          ],
          flood: { interval: 0 },
        },
        { peers: { hub } },
      );
      await hub.publish('alerts.disk', { text: 'disk 91%' });
      await watcher.waitFor(() => watcher.textsFrom('relaybot', '#relay').includes('[alerts.disk] disk 91%'));
      watcher.say('#relay', 'hello hub');
      const deadline = Date.now() + 5_000;
      while (!hub.published.some((m) => m.topic === 'irc.relay') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(hub.published.find((m) => m.topic === 'irc.relay')?.data).toMatchObject({ channel: '#relay', nick: 'relayw', text: 'hello hub', bot: 'bot' });
    });
  });
});
