import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { Observer, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';

describe.runIf(needCommand('ngircd'))('outgoing flood control, measured at a real server', () => {
  let server: Ngircd;
  const observers: Observer[] = [];

  beforeAll(async () => {
    server = await startNgircd();
  });
  afterEach(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
  });
  afterAll(stopAllNgircd);

  it('sends the burst at once, then one line per interval, as the channel sees it', async () => {
    const watcher = await Observer.connect(server.port, 'floodw', ['#flood']);
    observers.push(watcher);
    // 2.5 lines/s: under ngircd's own throttle (about 3 commands/s), so the server does not smooth it for us
    const { bot } = await startBot({ server: server.server, nick: 'floodbot', channels: ['#flood'], flood: { burst: 3, interval: '400ms' } });
    const count = 13;
    for (let i = 0; i < count; i++) bot.handle().say('#flood', `line ${i}`);
    await watcher.waitFor(() => watcher.textsFrom('floodbot').length === count, 10_000, `${count} lines`);
    expect(watcher.textsFrom('floodbot')).toEqual(Array.from({ length: count }, (_, i) => `line ${i}`));
    const at = watcher.seen.filter((s) => s.nick === 'floodbot').map((s) => s.at);
    const first = at[0] as number;
    // the burst: the first three together
    expect((at[2] as number) - first).toBeLessThan(150);
    // then the rate: ten more lines over ten intervals (4 s), never two in one interval
    const total = (at[count - 1] as number) - first;
    expect(total).toBeGreaterThan(3_800);
    expect(total).toBeLessThan(4_800);
    for (let i = 3; i < count; i++) expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThan(300);
    const rate = (count - 3) / (total / 1000);
    expect(rate).toBeGreaterThan(2.2);
    expect(rate).toBeLessThanOrEqual(2.6);
  });

  it('bounds the queue: overflow is dropped, counted and logged with HX_ERR_IRC_QUEUE_FULL', async () => {
    const { log, lines } = createCapturingLogger();
    const { bot } = await startBot({ server: server.server, nick: 'fullbot', channels: ['#full'], flood: { burst: 1, interval: '10s', maxQueue: 5 } }, { log });
    for (let i = 0; i < 20; i++) bot.handle().say('#full', `line ${i}`);
    // one sent at once (the burst), five waiting, fourteen dropped
    expect(bot.handle().stats()).toMatchObject({ sent: 1, queued: 5, dropped: 14 });
    const warning = lines.find((l) => l['code'] === 'HX_ERR_IRC_QUEUE_FULL');
    expect(warning).toMatchObject({ level: 40, maxQueue: 5, target: '#full' });
  });
});
