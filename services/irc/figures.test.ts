import { afterEach, describe, expect, it } from 'vitest';
import { figure, figureProblems } from '../../test/helpers/figures.js';
import { until } from '../../test/helpers/http/test-client.js';
import { Observer, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';
import { startNgircd, stopAllNgircd } from '../../test/helpers/ngircd.js';
import { needCommand } from '../../test/helpers/system-command.js';
import type { IrcService } from './service.js';

const now = (bot: IrcService): Record<string, number> =>
  Object.fromEntries(['connected', 'channels', 'queued_lines', 'reconnects_total', 'lines_sent_total'].map((name) => [name, figure(bot, `irc_${name}`)]));

describe.runIf(needCommand('ngircd'))('irc figures', () => {
  const observers: Observer[] = [];
  afterEach(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
    await stopAllNgircd();
  });

  it('follows the connection, the channels and the queue through a kick and a server restart (Debian ngircd)', async () => {
    const server = await startNgircd();
    // in #ops first, the operator is its chanop
    const operator = await Observer.connect(server.port, 'operator', ['#ops']);
    observers.push(operator);
    const { bot } = await startBot({ server: server.server, nick: 'figbot', channels: ['#ops', '#dev'], reconnect: { initial: '100ms', factor: 2, max: '1s', jitter: 0 } });
    expect(figureProblems(bot, ['irc'])).toEqual([]);
    expect(now(bot)).toEqual({ connected: 1, channels: 2, queued_lines: 0, reconnects_total: 0, lines_sent_total: 0 });

    bot.handle().say('#ops', 'one');
    bot.handle().say('#ops', 'two');
    await operator.waitFor((seen) => seen.filter((s) => s.nick === 'figbot').length === 2);
    expect(figure(bot, 'irc_lines_sent_total')).toBe(2);

    // kicked from an invite-only channel: the bot's rejoin is refused, it stays in one channel
    operator.client.raw('MODE', '#ops', '+i');
    operator.client.raw('KICK', '#ops', 'figbot', 'out');
    await until(() => figure(bot, 'irc_channels') === 1, 10_000);
    expect(figure(bot, 'irc_connected')).toBe(1);

    // the server dies: not connected, no channel, and what is said waits in the queue
    await server.kill('SIGKILL');
    await until(() => figure(bot, 'irc_connected') === 0, 10_000);
    expect(figure(bot, 'irc_channels')).toBe(0);
    for (const text of ['a', 'b', 'c']) bot.handle().say('#dev', text);
    expect(figure(bot, 'irc_queued_lines')).toBe(3);

    // back: reconnected once, in both channels again (the new server has no +i), the queue sent
    await server.restart();
    await until(() => figure(bot, 'irc_reconnects_total') === 1 && figure(bot, 'irc_queued_lines') === 0, 15_000);
    await until(() => figure(bot, 'irc_channels') === 2, 10_000);
    expect(now(bot)).toEqual({ connected: 1, channels: 2, queued_lines: 0, reconnects_total: 1, lines_sent_total: 5 });
  });
});
