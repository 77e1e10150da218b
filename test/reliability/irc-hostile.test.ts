import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../helpers/http/test-context.js';
import { FakeIrcServer } from '../helpers/irc/fake-server.js';
import { hostileScript } from '../helpers/irc/hostile-script.js';
import { SwitchProxy } from '../helpers/irc/switch-proxy.js';
import { MemoryHub, Observer, startBot, stopBots } from '../helpers/irc/test-harness.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../helpers/ngircd.js';
import { needCommand } from '../helpers/system-command.js';

type LogLine = Record<string, unknown>;

/** Resolves once `lines` holds one matching `test` (polling; `ms` at most). */
async function logged(lines: LogLine[], test: (line: LogLine) => boolean, what: string, ms = 10_000): Promise<LogLine> {
  const deadline = performance.now() + ms;
  for (;;) {
    const found = lines.find(test);
    if (found) return found;
    if (performance.now() > deadline) throw new Error(`not logged within ${ms} ms: ${what}; log: ${JSON.stringify(lines.slice(-20).map((l) => l['msg']))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves `promise`, or rejects after `ms` saying what it waited for. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

const isMessage = (line: string): boolean => /^(PRIVMSG|NOTICE) /i.test(line);

// Issue #13 part 3: a hostile server floods the bot (10,000 garbage, overlong and binary lines,
// CTCP and command floods from 200 fake users, one of them `x`) and closes; the bot reconnects —
// through a proxy — to a real ngircd, where a user named `x` is someone else.
describe.runIf(needCommand('ngircd'))('irc: a hostile server cannot poison the queues', () => {
  let ngircd: Ngircd;
  let hostileServer: FakeIrcServer;
  let proxy: SwitchProxy;
  const observers: Observer[] = [];
  const burst = 4;
  const interval = 500;
  const hostile = hostileScript({ channel: '#ops', closeWhen: (line) => line.includes('alert: during the flood') });

  beforeAll(async () => {
    ngircd = await startNgircd();
    hostileServer = await FakeIrcServer.start(hostile.script);
    proxy = await SwitchProxy.start([hostileServer.address, ngircd.server]);
  });
  afterAll(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
    await proxy?.close();
    await hostileServer?.close();
    await stopAllNgircd();
  });

  it('survives the flood, drops the replies with their connection, and relays an alert right after the reconnect', { timeout: 30_000 }, async () => {
    // on the real server, `x` is an innocent user in the channel
    const x = await Observer.connect(ngircd.port, 'x', ['#ops']);
    observers.push(x);
    const hub = new MemoryHub();
    const { log, lines } = createCapturingLogger();
    const startedAt = performance.now();
    const { bot, ctx } = await startBot(
      {
        server: proxy.address,
        nick: 'hxbot',
        channels: ['#ops'],
        commands: './commands.mjs',
        relay: [{ from: 'hub:alerts', to: '#ops', format: 'alert: {data}' }],
        flood: { burst, interval: `${interval}ms` },
        reconnect: { initial: '200ms', max: '1s', jitter: 0 },
      },
      { log, peers: { hub } },
    );

    // 1. the flood: every line read (the bot answers the PING sent after it), nothing crashed
    await within(hostile.flooded, 15_000, 'the bot reading the whole flood');
    expect(hostile.counts.garbage + hostile.counts.ctcp + hostile.counts.command).toBe(10_000);
    const during = bot.handle().stats();
    // each fake user got at most commandRate.burst (5) answers; the rest was ignored
    expect(during.limited).toBeGreaterThan(2_000);
    expect(during.queued).toBeGreaterThan(100);

    // 2. a relayed line does not wait behind those replies: it is the next line out
    const sentBefore = bot.handle().stats().sent;
    await hub.publish('alerts', 'during the flood');
    await within(hostile.closed, 10_000, 'the alert reaching the hostile server (which then closes)');
    expect(hostile.afterFlood.filter(isMessage)[sentBefore]).toBe('PRIVMSG #ops :alert: during the flood');
    // every message line the bot wrote there (CTCP answers too: irc-framework's own VERSION
    // answer went straight to the socket) went through the token bucket
    const countedAt = performance.now();
    const onWire = proxy.connections[0]?.clientLines.filter(isMessage) ?? [];
    expect(onWire.length).toBeLessThanOrEqual(burst + Math.ceil((countedAt - startedAt) / interval) + 1);

    // 3. the connection is gone: its replies are dropped, counted and logged once
    await logged(lines, (l) => l['msg'] === 'disconnected', 'disconnected');
    const orphanedLogs = lines.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).includes('reply line(s) dropped with their connection'));
    expect(orphanedLogs).toHaveLength(1);
    expect(bot.handle().stats().orphaned).toBeGreaterThan(100);
    expect(bot.handle().stats().queued).toBe(0);
    await hub.publish('alerts', 'while away');

    // 4. the reconnect reaches ngircd; the alert queued while away goes out first, then a fresh one
    await logged(lines, (l) => l['msg'] === 'reconnected', 'reconnected to ngircd');
    await hub.publish('alerts', 'after the reconnect');
    await x.waitFor(() => x.textsFrom('hxbot', '#ops').includes('alert: after the reconnect'), 10_000, 'the fresh alert in #ops');
    expect(x.textsFrom('hxbot', '#ops')).toEqual(['alert: while away', 'alert: after the reconnect']);
    // nothing meant for the hostile server's `x` (or any of its fake users) reached the real one
    expect(proxy.connections).toHaveLength(2);
    expect(proxy.connections[1]?.upstream).toBe(ngircd.server);
    expect(proxy.connections[1]?.clientLines.filter(isMessage)).toEqual(['PRIVMSG #ops :alert: while away', 'PRIVMSG #ops :alert: after the reconnect']);
    expect(x.seen.filter((s) => s.target.toLowerCase() === 'x')).toEqual([]);

    // 10,000 hostile lines made a handful of warnings, not thousands (each kind is throttled)
    expect(lines.filter((l) => Number(l['level']) >= 40).length).toBeLessThan(20);
    expect(ctx.crashes).toEqual([]);
    expect(bot.handle()).toMatchObject({ connected: true, nick: 'hxbot' });
    expect(bot.handle().stats()).toMatchObject({ reconnects: 1, expired: 0 });
  });
});
