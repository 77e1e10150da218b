import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { MemoryHub, Observer, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';

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

  describe('nick collision', () => {
    it('takes the first free alternative, then generated nicks, and says so in the log', async () => {
      const holder = await observe('taken', ['#nick']);
      await observe('taken2', []);
      const { log, lines } = createCapturingLogger();
      const { bot } = await startBot({ server: server.server, nick: 'taken', altNicks: ['taken2'], channels: ['#nick'] }, { log });
      expect(bot.handle().nick).toBe('taken_');
      expect(await holder.names('#nick')).toContain('taken_');
      expect(lines.filter((l) => l['msg'] === 'nick taken, trying another').map((l) => l['trying'])).toEqual(['taken2', 'taken_']);
      // a second bot with the same wishes gets the next one
      const { bot: second } = await startBot({ server: server.server, nick: 'taken', altNicks: ['taken2'], channels: ['#nick'] }, { name: 'bot2' });
      expect(second.handle().nick).toBe('taken__');
    });
  });

  describe('stop', () => {
    it('sends QUIT with the configured message and waits for the server to close', async () => {
      const watcher = await observe('quitw', ['#quit']);
      const { bot } = await startBot({ server: server.server, nick: 'quitbot', channels: ['#quit'], quitMessage: 'deploying v2' });
      const started = performance.now();
      await bot.stop(AbortSignal.timeout(5_000));
      expect(performance.now() - started).toBeLessThan(1_500);
      await watcher.waitFor(() => watcher.quits.some((q) => q.nick === 'quitbot'), 3_000, 'the QUIT');
      expect(watcher.quits.find((q) => q.nick === 'quitbot')?.message).toMatch(/deploying v2/);
      expect(await watcher.names('#quit')).not.toContain('quitbot');
      expect(bot.handle().connected).toBe(false);
      expect(() => bot.handle().say('#quit', 'late')).toThrow(/not running/);
      await bot.stop(AbortSignal.timeout(1_000)); // idempotent
    });

    it('sends what is queued before quitting, within flushTimeout', async () => {
      const watcher = await observe('flushw', ['#flush']);
      const { bot } = await startBot({ server: server.server, nick: 'flushbot', channels: ['#flush'], flood: { burst: 1, interval: '200ms' }, flushTimeout: '3s' });
      for (let i = 0; i < 4; i++) bot.handle().say('#flush', `queued ${i}`);
      await bot.stop(AbortSignal.timeout(5_000));
      await watcher.waitFor(() => watcher.textsFrom('flushbot').length === 4, 3_000, 'the flushed lines');
      expect(watcher.textsFrom('flushbot')).toEqual(['queued 0', 'queued 1', 'queued 2', 'queued 3']);
      expect(bot.handle().stats()).toMatchObject({ queued: 0 });
    });
  });

  describe('outgoing lines', () => {
    it('splits long messages within 512 bytes and never lets a newline inject a command', async () => {
      const watcher = await observe('longw', ['#long']);
      const hub = new MemoryHub();
      const { bot } = await startBot(
        { server: server.server, nick: 'longbot', channels: ['#long'], relay: [{ from: 'hub:text', to: '#long' }], flood: { interval: 0 } },
        { peers: { hub } },
      );
      const long = `${'ünïcødé ✓ '.repeat(80)}END`;
      bot.handle().say('#long', long);
      await hub.publish('text', 'first line\r\nQUIT :pwned\nJOIN #evil\rPRIVMSG #long :spoofed');
      await watcher.waitFor(() => watcher.textsFrom('longbot').includes('PRIVMSG #long :spoofed'), 5_000, 'the relayed lines');
      const texts = watcher.textsFrom('longbot', '#long');
      const split = texts.slice(0, texts.indexOf('first line'));
      expect(split.length).toBeGreaterThan(1);
      expect(split.join(' ')).toBe(long.replace(/ +/g, ' ').trim());
      expect(texts.slice(-4)).toEqual(['first line', 'QUIT :pwned', 'JOIN #evil', 'PRIVMSG #long :spoofed']);
      // the bot is still there, in one channel only
      expect(await watcher.names('#long')).toContain('longbot');
      expect(await watcher.names('#evil')).not.toContain('longbot');
    });
  });

  describe('kicks', () => {
    it('rejoins a channel it was kicked from, after reconnect.initial', async () => {
      const op = await observe('chanop', ['#kick']); // the first in a channel is its operator
      const { log, lines } = createCapturingLogger();
      await startBot({ server: server.server, nick: 'kickbot', channels: ['#kick'], reconnect: { initial: '200ms' } }, { log });
      op.client.raw('KICK', '#kick', 'kickbot', 'out you go');
      const deadline = performance.now() + 5_000;
      while (!lines.some((l) => l['msg'] === 'kicked from a channel') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(lines.find((l) => l['msg'] === 'kicked from a channel')).toMatchObject({ channel: '#kick', by: 'chanop', reason: 'out you go', rejoinIn: 200 });
      while (!(await op.names('#kick')).includes('kickbot') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await op.names('#kick')).toContain('kickbot');
    });
  });
});
