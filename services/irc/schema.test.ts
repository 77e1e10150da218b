import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { serviceSchema } from '../../src/manifest/root-schema.js';
import type { ServiceKind } from '../../src/kinds/contract.js';
import { plan } from '../../src/index.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { checkFormat, renderFormat } from './format.js';
import { ircKind } from './kind.js';
import { NickChooser } from './nicks.js';
import { parseEndpoint } from './relay-endpoint.js';
import { parseServer } from './settings.js';

const project = useManifestDirs();
const schema = serviceSchema(ircKind as unknown as ServiceKind);

/** The manifest problems of `yaml` (after the first line `services:`), as `path: message` with their line. */
async function problems(services: string): Promise<{ path: string; message: string; line: number | undefined; code: string }[]> {
  const dir = project({ 'hendrix.yaml': `version: 1\nservices:\n${services}` });
  const error: unknown = await plan(join(dir, 'hendrix.yaml'), { environment: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isHendrixError(error)) throw new Error('expected manifest problems');
  const all = (error as HendrixError).errors.length ? (error as HendrixError).errors : [error as HendrixError];
  return all.map((e) => ({ path: (e.path ?? []).join('.'), message: e.message, line: e.location?.line, code: e.code }));
}

describe('the irc schema', () => {
  it('applies the defaults of the issue: burst 4 then one line per 2 s, backoff 1 s ×2 up to 60 s with 0.2 jitter', () => {
    const config = schema.parse({ kind: 'irc', server: 'irc.example.net:6697', nick: 'hxbot' }) as Record<string, unknown>;
    expect(config).toMatchObject({
      tls: false,
      altNicks: [],
      realname: 'Hendrix IRC bot',
      channels: [],
      commandPrefix: '!',
      relay: [],
      flood: { burst: 4, interval: 2_000, maxQueue: 1_000 },
      commandRate: { burst: 5, interval: 3_000 },
      relayMaxAge: 300_000,
      reconnect: { initial: 1_000, factor: 2, max: 60_000, jitter: 0.2, limit: 0 },
      pingInterval: 30_000,
      pingTimeout: 120_000,
      quitTimeout: 2_000,
      flushTimeout: 2_000,
    });
    expect(schema.parse({ kind: 'irc', server: 'h', nick: 'n', tls: true })).toMatchObject({ tls: { verify: true } });
  });

  it('reads durations and numbers written as strings (from variables)', () => {
    const config = schema.parse({ kind: 'irc', server: 'h:1', nick: 'n', flood: { burst: '2', interval: '500ms' }, reconnect: { initial: '2s', limit: '3' } });
    expect(config).toMatchObject({ flood: { burst: 2, interval: 500 }, reconnect: { initial: 2_000, limit: 3 } });
  });

  it('reports bad fields with their manifest path and line, all at once', async () => {
    const found = await problems(
      [
        '  hub: { kind: http, listen: "127.0.0.1:0" }',
        '  bot:',
        '    kind: irc',
        '    server: "irc example net"',
        '    nick: "9lives"',
        '    channels: ["ops", { name: "#a b" }]',
        '    relay:',
        '      - { from: "hub:alerts", to: "#elsewhere" }',
        '      - { from: "#ops", to: "hub:irc.*" }',
        '      - { from: "hub:a", to: "hub:b" }',
        '      - { from: "hub:alerts", to: "#ops", format: "{nick} {data" }',
        '      - { from: "nothing", to: "#ops" }',
        '',
      ].join('\n'),
    );
    const byPath = Object.fromEntries(found.map((p) => [p.path, p]));
    expect(byPath['services.bot.server']?.message).toMatch(/expected host:port/);
    expect(byPath['services.bot.server']?.line).toBe(6);
    expect(byPath['services.bot.nick']?.message).toMatch(/expected an IRC nickname/);
    expect(byPath['services.bot.channels.0']?.message).toMatch(/#ops/);
    expect(byPath['services.bot.relay.0.to']?.message).toBe('`relay[0].to`: the bot does not join #elsewhere: add it to channels');
    expect(byPath['services.bot.relay.0.to']?.line).toBe(10);
    expect(byPath['services.bot.relay.1.to']?.message).toMatch(/no wildcards in `to`/);
    expect(byPath['services.bot.relay.2.to']?.message).toMatch(/not hub to hub/);
    expect(byPath['services.bot.relay.4.from']?.message).toMatch(/expected a channel \(#ops\) or <pubsub service>:<topic>/);
  });

  it('checks format placeholders per direction', async () => {
    const found = await problems(
      [
        '  hub: { kind: pubsub, listen: "127.0.0.1:0" }',
        '  bot:',
        '    kind: irc',
        '    server: "127.0.0.1:6667"',
        '    nick: hxbot',
        '    channels: ["#ops"]',
        '    relay:',
        '      - { from: "hub:alerts", to: "#ops", format: "{nick}: {data.text}" }',
        '      - { from: "#ops", to: "hub:irc", format: "<{nick}> {data}" }',
        '      - { from: "hub:alerts", to: "#ops", format: "{data" }',
        '',
      ].join('\n'),
    );
    expect(found.map((p) => [p.path, p.message])).toEqual([
      ['services.bot.relay.0.format', '`relay[0].format`: unknown placeholder {nick}: a hub → channel relay knows {data}, {topic}, {id}, {time} and {data.field}'],
      ['services.bot.relay.1.format', '`relay[1].format`: unknown placeholder {data}: a channel → hub relay knows {nick}, {channel}, {text}, {time}'],
      ['services.bot.relay.2.format', '`relay[2].format`: unmatched { in the format (write {{ or }} for a literal brace)'],
    ]);
  });

  it('turns every hub a relay names into a graph edge, and an unknown one into an error at its line', async () => {
    const dir = project({
      'hendrix.yaml': [
        'services:',
        '  alerts: { kind: pubsub, listen: "127.0.0.1:0" }',
        '  chat: { kind: pubsub, listen: "127.0.0.1:0" }',
        '  bot:',
        '    kind: irc',
        '    server: "127.0.0.1:6667"',
        '    nick: hxbot',
        '    channels: ["#ops"]',
        '    relay: [{ from: "alerts:disk.*", to: "#ops" }, { from: "#ops", to: "chat:irc.ops" }]',
        '',
      ].join('\n'),
    });
    const { graph } = await plan(join(dir, 'hendrix.yaml'), { environment: {} });
    expect(graph.order.indexOf('bot')).toBe(2);
    expect(graph.edges).toEqual(
      expect.arrayContaining([expect.objectContaining({ from: 'bot', to: 'alerts', via: 'relay' }), expect.objectContaining({ from: 'bot', to: 'chat', via: 'relay' })]),
    );
    const found = await problems('  bot:\n    kind: irc\n    server: "127.0.0.1:6667"\n    nick: hxbot\n    channels: ["#ops"]\n    relay: [{ from: "hbu:alerts", to: "#ops" }]\n');
    expect(found[0]).toMatchObject({ code: 'HX_ERR_UNKNOWN_REFERENCE', path: 'services.bot.relay.0.from', line: 8 });
  });
});

describe('relay endpoints', () => {
  it('parses channels and hub topics; patterns only in from', () => {
    expect(parseEndpoint('#ops', 'to')).toEqual({ type: 'channel', channel: '#ops' });
    expect(parseEndpoint('&local', 'from')).toEqual({ type: 'channel', channel: '&local' });
    expect(parseEndpoint('hub:alerts', 'from')).toEqual({ type: 'hub', service: 'hub', topic: 'alerts' });
    expect(parseEndpoint('hub:deploys.*.done', 'from')).toEqual({ type: 'hub', service: 'hub', topic: 'deploys.*.done' });
    expect(parseEndpoint('hub:alerts.>', 'from')).toMatchObject({ topic: 'alerts.>' });
    expect(parseEndpoint('hub:alerts.>', 'to')).toHaveProperty('problem');
    expect(parseEndpoint('hub:a.>.b', 'from')).toMatchObject({ problem: expect.stringMatching(/last segment/) });
    expect(parseEndpoint('hub:', 'from')).toMatchObject({ problem: expect.stringMatching(/missing/) });
    expect(parseEndpoint('hub:a b', 'from')).toHaveProperty('problem');
    expect(parseEndpoint('#a,#b', 'to')).toHaveProperty('problem');
  });
});

describe('format', () => {
  it('renders hub messages: strings as they are, other values as JSON, missing as nothing', () => {
    const values = { data: { text: 'disk 91%', n: 3, nested: { ok: true } }, topic: 'alerts.disk', id: '1:7', time: '2026-01-01T00:00:00.000Z' };
    expect(renderFormat('{data}', { data: 'plain' })).toBe('plain');
    expect(renderFormat('{data}', values)).toBe('{"text":"disk 91%","n":3,"nested":{"ok":true}}');
    expect(renderFormat('[{topic}#{id}] {data.text} ({data.n}) {data.nested} {data.missing}|', values)).toBe('[alerts.disk#1:7] disk 91% (3) {"ok":true} |');
    expect(renderFormat('{{literal}} {topic}', values)).toBe('{literal} alerts.disk');
    expect(checkFormat('{data.a.b} {time}', 'hub')).toBeUndefined();
    expect(checkFormat('{topic.x}', 'hub')).toMatch(/unknown placeholder/);
  });
});

describe('nicks', () => {
  it('tries nick, the alternatives, then nick_, nick__, nick1...', () => {
    const nicks = new NickChooser('bot', ['bot2']);
    const tried = [nicks.current.nick];
    for (let next = nicks.next(); next !== undefined; next = nicks.next()) tried.push(next.nick);
    // bot2 is not tried twice; the generated ones run out after 20
    expect(tried.slice(0, 7)).toEqual(['bot', 'bot2', 'bot_', 'bot__', 'bot1', 'bot3', 'bot4']);
    expect(tried).toHaveLength(21);
    expect(new Set(tried).size).toBe(tried.length);
  });

  it('cuts generated nicks shorter when the server refuses one as too long', () => {
    const nicks = new NickChooser('ninechars', []);
    expect(nicks.next()?.nick).toBe('ninechars_');
    expect(nicks.refused()?.nick).toBe('ninechar_');
    expect(nicks.next()?.nick).toBe('ninecha__');
    expect(new NickChooser('x', []).refused()).toBeUndefined(); // the configured nick itself: the manifest's mistake
  });
});

describe('server', () => {
  it('defaults the port to 6667, or 6697 with TLS', () => {
    expect(parseServer('irc.example.net', false)).toEqual({ host: 'irc.example.net', port: 6667 });
    expect(parseServer('irc.example.net', true)).toEqual({ host: 'irc.example.net', port: 6697 });
    expect(parseServer('127.0.0.1:7000', true)).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(parseServer('[::1]:6667', false)).toEqual({ host: '::1', port: 6667 });
  });
});
