import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { MemoryHub, Observer, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { needCommand } from '../../test/helpers/system-command.js';

describe.runIf(needCommand('ngircd'))('CTCP answers and commandRate, at a real server', () => {
  let server: Ngircd;
  const observers: Observer[] = [];
  const observe = async (nick: string, channels: string[] = []): Promise<Observer> => {
    const observer = await Observer.connect(server.port, nick, channels);
    observers.push(observer);
    return observer;
  };

  beforeAll(async () => {
    server = await startNgircd();
  });
  afterEach(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
  });
  afterAll(stopAllNgircd);

  it('answers CTCP through the outgoing queue, at most commandRate.burst answers per user', async () => {
    const asker = await observe('asker');
    const other = await observe('other');
    const { log, lines } = createCapturingLogger();
    const { bot } = await startBot({ server: server.server, nick: 'ctcpbot', channels: ['#ctcp'], commandRate: { burst: 2, interval: '1m' }, flood: { burst: 1, interval: '200ms' } }, { log });
    asker.ctcp('ctcpbot', 'VERSION');
    asker.ctcp('ctcpbot', 'PING 1700000000');
    for (let i = 0; i < 6; i++) asker.ctcp('ctcpbot', 'TIME');
    await asker.waitForCtcp((r) => r.length >= 2);
    const deadline = performance.now() + 5_000;
    while (bot.handle().stats().limited < 6 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(asker.ctcpResponses).toEqual([
      { nick: 'ctcpbot', message: 'VERSION hendrix' },
      { nick: 'ctcpbot', message: 'PING 1700000000' },
    ]);
    // the answers went through the queue (irc-framework's own VERSION answer would not be counted)
    expect(bot.handle().stats()).toMatchObject({ sent: 2, limited: 6 });
    expect(lines.filter((l) => String(l['msg']).startsWith('commandRate:'))).toEqual([expect.objectContaining({ level: 40, ignored: 1, nick: 'asker', what: 'CTCP TIME' })]);
    // another user has a limit of their own
    other.ctcp('ctcpbot', 'CLIENTINFO');
    await other.waitForCtcp((r) => r.length === 1);
    expect(other.ctcpResponses[0]).toEqual({ nick: 'ctcpbot', message: 'CLIENTINFO ACTION CLIENTINFO PING TIME VERSION' });
  });

  it('holds commands to commandRate per user; the relay of channel lines is not limited', async () => {
    const spammer = await observe('spammer', ['#rate']);
    const hub = new MemoryHub();
    const { bot } = await startBot(
      { server: server.server, nick: 'ratebot', channels: ['#rate'], commands: './commands.mjs', relay: [{ from: '#rate', to: 'hub:irc.rate' }], commandRate: { burst: 3, interval: '1m' }, flood: { interval: 0 } },
      { peers: { hub } },
    );
    for (let i = 0; i < 10; i++) spammer.say('#rate', `!echo ${i}`);
    const deadline = performance.now() + 5_000;
    while (bot.handle().stats().limited < 7 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await spammer.waitFor(() => spammer.textsFrom('ratebot', '#rate').length === 3, 5_000, 'three answers');
    expect(spammer.textsFrom('ratebot', '#rate')).toEqual(['0', '1', '2']);
    expect(bot.handle().stats()).toMatchObject({ limited: 7, sent: 3 });
    // every line, commands included, is channel content and reached the hub
    expect(hub.published.map((m) => (m.data as { text: string }).text)).toEqual(Array.from({ length: 10 }, (_, i) => `!echo ${i}`));
  });
});
