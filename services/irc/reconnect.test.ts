import { afterEach, describe, expect, it } from 'vitest';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd } from '../../test/helpers/ngircd.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { MemoryHub, Observer, startBot, stopBots } from '../../test/helpers/irc/test-harness.js';

type LogLine = Record<string, unknown>;

/** Resolves once `lines` holds one matching `test` (polling; 10 s at most). */
async function logged(lines: LogLine[], test: (line: LogLine) => boolean, what: string, ms = 10_000): Promise<LogLine> {
  const deadline = performance.now() + ms;
  for (;;) {
    const found = lines.find(test);
    if (found) return found;
    if (performance.now() > deadline) throw new Error(`not logged within ${ms} ms: ${what}; log: ${JSON.stringify(lines.map((l) => l['msg']))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.runIf(needCommand('ngircd'))('reconnects', () => {
  const observers: Observer[] = [];
  afterEach(async () => {
    await stopBots();
    await Promise.all(observers.splice(0).map((o) => o.close()));
    await stopAllNgircd();
  });

  it('after the server is killed and restarted: reconnects with backoff, rejoins, and delivers everything queued meanwhile', async () => {
    const server = await startNgircd();
    const hub = new MemoryHub();
    const { log, lines } = createCapturingLogger();
    const { bot, ctx } = await startBot(
      {
        server: server.server,
        nick: 'phoenix',
        channels: ['#ops', '#dev'],
        relay: [{ from: 'hub:alerts', to: '#ops', format: 'alert: {data}' }],
        reconnect: { initial: '300ms', factor: 2, max: '3s', jitter: 0 },
        flood: { burst: 4, interval: '300ms' },
      },
      { log, peers: { hub } },
    );
    const oldPid = server.pid;
    await server.kill('SIGKILL');
    await logged(lines, (l) => l['msg'] === 'disconnected', 'disconnected');
    expect(bot.handle().connected).toBe(false);

    // while the server is gone: lines from the handle and from the hub wait in the queue
    for (let i = 0; i < 3; i++) bot.handle().say('#ops', `queued ${i}`);
    await hub.publish('alerts', 'disk full');
    bot.handle().say('#dev', 'dev note');
    expect(bot.handle().stats().queued).toBe(5);

    // attempts fail (connection refused) and back off: 300 ms, 600 ms, 1.2 s, 2.4 s...
    await logged(lines, (l) => l['msg'] === 'reconnecting' && Number(l['delay']) >= 2_400, 'a 2.4 s backoff');
    const delays = lines.filter((l) => l['msg'] === 'reconnecting').map((l) => l['delay']);
    expect(delays).toEqual([300, 600, 1_200, 2_400]);
    expect(lines.filter((l) => l['msg'] === 'reconnect failed')[0]).toMatchObject({ code: 'HX_ERR_IRC_CONNECT', reason: expect.stringMatching(/ECONNREFUSED/) });

    // the server comes back; a watcher joins before the bot's next attempt
    await server.restart();
    expect(server.pid).not.toBe(oldPid);
    const watcher = await Observer.connect(server.port, 'watcher', ['#ops', '#dev']);
    observers.push(watcher);
    await logged(lines, (l) => l['msg'] === 'reconnected', 'reconnected');
    await watcher.waitFor((seen) => seen.filter((s) => s.nick === 'phoenix').length === 5, 5_000, 'the queued lines');
    expect(watcher.textsFrom('phoenix', '#ops')).toEqual(['queued 0', 'queued 1', 'queued 2', 'alert: disk full']);
    expect(watcher.textsFrom('phoenix', '#dev')).toEqual(['dev note']);
    expect(await watcher.names('#ops')).toContain('phoenix');
    expect(await watcher.names('#dev')).toContain('phoenix');
    expect(bot.handle()).toMatchObject({ connected: true, nick: 'phoenix' });
    expect(bot.handle().stats()).toMatchObject({ queued: 0, sent: 5, dropped: 0, reconnects: 1 });
    // a lost connection after ready is not a crash
    expect(ctx.crashes).toEqual([]);
    // and the relay still works on the new connection
    await hub.publish('alerts', 'back to normal');
    await watcher.waitFor(() => watcher.textsFrom('phoenix', '#ops').includes('alert: back to normal'));
  });

  it('gives up after reconnect.limit failed attempts and reports the crash', async () => {
    const server = await startNgircd();
    const { log, lines } = createCapturingLogger();
    const { ctx } = await startBot({ server: server.server, nick: 'quitter', channels: ['#ops'], reconnect: { initial: '50ms', max: '100ms', limit: 2 } }, { log });
    await server.kill('SIGKILL');
    const deadline = performance.now() + 5_000;
    while (ctx.crashes.length === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ctx.crashes).toHaveLength(1);
    const error = ctx.crashes[0];
    expect(isHendrixError(error) && error.code).toBe('HX_ERR_IRC_CONNECT');
    expect(isHendrixError(error) && error.path).toEqual(['services', 'bot', 'reconnect', 'limit']);
    expect(lines.filter((l) => l['msg'] === 'reconnect failed')).toHaveLength(2);
  });

  it('backs off exponentially with jitter on the injected clock, capped at max', async () => {
    const server = await startNgircd();
    const clock = new ManualClock();
    clock.randomValue = 1; // the top of the jitter range: +20 %
    const { log, lines } = createCapturingLogger();
    await startBot({ server: server.server, nick: 'clocked', channels: [] }, { log, clock });
    await server.kill('SIGKILL');
    await logged(lines, (l) => l['msg'] === 'reconnecting', 'the first reconnecting');
    for (let attempt = 1; attempt < 9; attempt++) {
      const pending = clock.pending;
      clock.advance(pending.at(-1) ?? 0);
      await logged(lines, (l) => l['msg'] === 'reconnecting' && l['attempt'] === attempt + 1, `attempt ${attempt + 1}`);
    }
    const delays = lines.filter((l) => l['msg'] === 'reconnecting').map((l) => l['delay']);
    // initial 1 s, factor 2, max 60 s, jitter 0.2 (the defaults), at random() = 1
    expect(delays).toEqual([1_200, 2_400, 4_800, 9_600, 19_200, 38_400, 72_000, 72_000, 72_000]);
  });
});
