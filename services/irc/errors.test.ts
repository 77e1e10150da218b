import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { startFailure } from '../../test/helpers/start-failure.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { startNgircd, stopAllNgircd, type Ngircd } from '../../test/helpers/ngircd.js';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { FakeIrcServer, registrationScript } from '../../test/helpers/irc/fake-server.js';
import { IRC_FIXTURES, MemoryHub, Observer, createBot, startBot, stopBots, type IrcContextOptions } from '../../test/helpers/irc/test-harness.js';
import { freePort } from '../../test/helpers/pebble.js';

/** Starts a bot that must fail; returns its error after checking that stop() still resolves. */
async function startError(partial: Record<string, unknown>, options: IrcContextOptions = {}, ms = 10_000): Promise<HendrixError> {
  const { bot } = createBot(partial, options);
  return startFailure(bot, ms);
}

afterEach(stopBots);

describe('errors before any connection, with the manifest path', () => {
  it('a commands module that is missing, broken, empty or not made of functions', async () => {
    const server = `127.0.0.1:${await freePort()}`;
    const missing = await startError({ server, nick: 'b', commands: './nope.mjs' });
    expect(missing).toMatchObject({ code: 'HX_ERR_IRC_COMMANDS', path: ['services', 'bot', 'commands'], location: { file: 'hendrix.yaml', line: 22 } });
    expect(missing.message).toBe(`cannot find the commands module ${join(IRC_FIXTURES, 'nope.mjs')}`);
    const broken = await startError({ server, nick: 'b', commands: './syntax-error.mjs' });
    expect(broken.code).toBe('HX_ERR_IRC_COMMANDS');
    expect(broken.message).toMatch(/^cannot load the commands module .*syntax-error\.mjs: /);
    const empty = await startError({ server, nick: 'b', commands: './empty.mjs' });
    expect(empty.message).toMatch(/exports no command/);
    const notFunction = await startError({ server, nick: 'b', commands: './not-a-function.mjs' });
    expect(notFunction.message).toMatch(/export `ping` is not a function/);
  });

  it('a relay naming a service that is not a hub', async () => {
    const error = await startError(
      { server: `127.0.0.1:${await freePort()}`, nick: 'b', channels: ['#ops'], relay: [{ from: '#ops', to: 'web:irc' }] },
      { peers: { web: { handleRequest() {} } } },
    );
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_RELAY', path: ['services', 'bot', 'relay', 0, 'to'] });
    expect(error.message).toBe('relay to: `web` is not a pubsub hub (it has no publish/subscribe)');
  });

  it('a TLS CA that cannot be read or is not PEM', async () => {
    const server = `127.0.0.1:${await freePort()}`;
    const missing = await startError({ server, nick: 'b', tls: { ca: './missing-ca.pem' } });
    expect(missing).toMatchObject({ code: 'HX_ERR_IRC_TLS', path: ['services', 'bot', 'tls', 'ca'] });
    expect(missing.message).toBe(`cannot read the CA ${join(IRC_FIXTURES, 'missing-ca.pem')}: ENOENT`);
    const notPem = await startError({ server, nick: 'b', tls: { ca: './commands.mjs' } });
    expect(notPem.message).toMatch(/holds no PEM certificate/);
  });

  it('a server that refuses connections: start retries with backoff until its signal aborts', async () => {
    const { log, lines } = createCapturingLogger();
    const port = await freePort();
    const started = performance.now();
    const error = await startError({ server: `127.0.0.1:${port}`, nick: 'b', reconnect: { initial: '100ms', jitter: 0 } }, { log }, 1_000);
    expect(performance.now() - started).toBeLessThan(1_800);
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_CONNECT', path: ['services', 'bot', 'server'] });
    expect(error.message).toBe(`cannot reach 127.0.0.1:${port} in time: cannot connect to 127.0.0.1:${port}: ECONNREFUSED (connection refused)`);
    const retries = lines.filter((l) => l['msg'] === 'cannot connect yet, retrying');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries.slice(0, 3).map((l) => l['retryIn'])).toEqual([100, 200, 400].slice(0, Math.min(3, retries.length)));
  });
});

describe.runIf(needCommand('ngircd'))('refusals by a real server', () => {
  let server: Ngircd;
  let guarded: Ngircd;
  let short: Ngircd;
  beforeAll(async () => {
    [server, guarded, short] = await Promise.all([
      startNgircd({
        channels: [
          { name: '#locked', modes: ['+k s3cret'] },
          { name: '#invite', modes: ['+i'] },
          { name: '#banned', modes: ['+b *!*@*'] },
        ],
      }),
      startNgircd({ password: 'letmein' }),
      startNgircd({ maxNickLength: 9 }),
    ]);
  });
  afterAll(stopAllNgircd);

  it('a wrong channel key, an invite-only channel, a ban: HX_ERR_IRC_JOIN at the channel entry', async () => {
    const key = await startError({ server: server.server, nick: 'keybot', channels: ['#open', { name: '#locked', key: 'wrong' }] });
    expect(key).toMatchObject({ code: 'HX_ERR_IRC_JOIN', path: ['services', 'bot', 'channels', 1], location: { line: 23 } });
    expect(key.message).toMatch(/^cannot join #locked: wrong channel key \(\+k\)/);
    const invite = await startError({ server: server.server, nick: 'invbot', channels: ['#invite'] });
    expect(invite.message).toMatch(/^cannot join #invite: the channel is invite-only \(\+i\)/);
    const banned = await startError({ server: server.server, nick: 'banbot', channels: ['#banned'] });
    expect(banned.message).toMatch(/^cannot join #banned: the bot is banned from the channel \(\+b\)/);
  });

  it('a wrong or missing server password: HX_ERR_IRC_REGISTER at password, at once (no retrying)', async () => {
    const started = performance.now();
    const wrong = await startError({ server: guarded.server, nick: 'pwbot', password: 'wrong' });
    expect(wrong).toMatchObject({ code: 'HX_ERR_IRC_REGISTER', path: ['services', 'bot', 'password'] });
    expect(wrong.message).toBe('the server refused the password: Access denied: Bad password?');
    const none = await startError({ server: guarded.server, nick: 'pwbot' });
    expect(none).toMatchObject({ code: 'HX_ERR_IRC_REGISTER', path: ['services', 'bot', 'password'] });
    expect(performance.now() - started).toBeLessThan(8_000);
    // the right one works
    const { bot } = await startBot({ server: guarded.server, nick: 'pwbot', password: 'letmein', channels: ['#in'] });
    expect(bot.handle().connected).toBe(true);
  });

  it('SASL against a server that offers none fails instead of going on unauthenticated', async () => {
    const error = await startError({ server: server.server, nick: 'saslbot', sasl: { account: 'bot', password: 'pw' } });
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_REGISTER', path: ['services', 'bot', 'sasl'] });
    expect(error.message).toMatch(/^(SASL login as bot failed: the server offers no SASL|not logged in as bot)/);
  });

  it('a nick the server refuses: HX_ERR_IRC_REGISTER at nick; a generated one is cut to fit instead', async () => {
    const error = await startError({ server: short.server, nick: 'muchtoolongnick' });
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_REGISTER', path: ['services', 'bot', 'nick'] });
    expect(error.message).toMatch(/^the server refused the nick muchtoolongnick: /);
    const holder = await Observer.connect(short.port, 'ninechars');
    try {
      const { bot } = await startBot({ server: short.server, nick: 'ninechars' });
      expect(bot.handle().nick).toBe('ninechar_');
    } finally {
      await holder.close();
    }
  });
});

describe('SASL and broken lines (a scripted server: ngircd has no SASL)', () => {
  const servers: FakeIrcServer[] = [];
  afterEach(async () => {
    await stopBots();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  function saslServer(account: string, password: string): Promise<FakeIrcServer> {
    return FakeIrcServer.start(
      registrationScript({
        caps: 'sasl=PLAIN',
        onLine(line, c) {
          if (line === 'AUTHENTICATE PLAIN') c.send('AUTHENTICATE +');
          else if (line.startsWith('AUTHENTICATE ') && line !== 'AUTHENTICATE +') {
            const [, user, pass] = Buffer.from(line.slice(13), 'base64').toString('utf8').split('\0');
            if (user === account && pass === password) {
              c.send(`:fake.test 900 * *!bot@127.0.0.1 ${account} :You are now logged in as ${account}`);
              c.send(':fake.test 903 * :SASL authentication successful');
            } else c.send(':fake.test 904 * :SASL authentication failed');
          }
        },
      }),
    ).then((s) => (servers.push(s), s));
  }

  it('logs in with SASL PLAIN', async () => {
    const server = await saslServer('hendrix', 'pw');
    const { bot } = await startBot({ server: server.address, nick: 'sasl', sasl: { account: 'hendrix', password: 'pw' }, channels: ['#ops'] });
    expect(bot.handle().connected).toBe(true);
    const sent = server.connections[0]?.received ?? [];
    expect(sent).toContain('CAP REQ :sasl');
    expect(sent).toContain(`AUTHENTICATE ${Buffer.from('hendrix\0hendrix\0pw').toString('base64')}`);
    expect(sent.some((l) => l.startsWith('PASS'))).toBe(false);
  });

  it('a refused SASL login is HX_ERR_IRC_REGISTER at sasl', async () => {
    const server = await saslServer('hendrix', 'pw');
    const error = await startError({ server: server.address, nick: 'sasl', sasl: { account: 'hendrix', password: 'nope' } });
    expect(error).toMatchObject({ code: 'HX_ERR_IRC_REGISTER', path: ['services', 'bot', 'sasl'] });
    expect(error.message).toBe('SASL login as hendrix failed: fail: SASL authentication failed');
  });

  it('a server password is never sent as SASL when no sasl is configured', async () => {
    const server = await saslServer('x', 'y');
    await startBot({ server: server.address, nick: 'pass', password: 'server-pass' });
    const sent = server.connections[0]?.received ?? [];
    expect(sent).toContain('PASS server-pass');
    expect(sent.some((l) => l.startsWith('AUTHENTICATE'))).toBe(false);
  });

  it('one bad line from the server never crashes the bot or the process', async () => {
    const hub = new MemoryHub();
    const server = await FakeIrcServer.start(registrationScript());
    servers.push(server);
    const { log, lines } = createCapturingLogger();
    const { bot, ctx } = await startBot(
      { server: server.address, nick: 'tough', channels: ['#ops'], relay: [{ from: '#ops', to: 'hub:irc' }], commands: './commands.mjs', flood: { interval: 0 } },
      { log, peers: { hub } },
    );
    const c = server.connections[0];
    if (c === undefined) throw new Error('no connection');
    for (const junk of [
      'PRIVMSG',
      ':x!y@z PRIVMSG',
      ':fake.test 318',
      ':fake.test 353',
      ':fake.test 366',
      'KICK',
      ':x!y@z JOIN',
      ':fake.test 005',
      ':fake.test CAP',
      '@@@ :::',
      ':x!y@z PRIVMSG #ops :\u0001',
    ]) {
      c.send(junk);
    }
    c.sendRaw(Buffer.from([0xff, 0xfe, 0x0d, 0x0a]));
    c.sendRaw(`${'x'.repeat(20_000)}\r\n`);
    c.send(':alice!a@h PRIVMSG #ops :!ping');
    c.send(':alice!a@h PRIVMSG #ops :still here');
    const deadline = performance.now() + 3_000;
    while (!c.received.includes('PRIVMSG #ops :pong') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(c.received).toContain('PRIVMSG #ops :pong');
    while (!hub.published.some((m) => (m.data as { text?: string }).text === 'still here') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(hub.published.map((m) => (m.data as { text: string }).text)).toContain('still here');
    expect(bot.handle().connected).toBe(true);
    expect(ctx.crashes).toEqual([]);
    expect(lines.some((l) => /^\d+ line\(s\) from the server (too long: dropped|could not be handled: skipped)$/.test(String(l['msg'])))).toBe(true);
  });
});
