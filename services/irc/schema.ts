import { z } from 'zod';
import { bool, duration, int, number } from '../../src/kinds/fields.js';
import { checkFormat } from './format.js';
import { CHANNEL, parseEndpoint } from './relay-endpoint.js';

/** An IRC nickname as RFC 2812 allows it (the server's NICKLEN decides the length). */
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;

const nick = (description: string) => z.string().regex(NICK, 'expected an IRC nickname: a letter or one of []\\`_^{|}, then letters, digits, those or -').max(50).describe(description);

/** `server`: `host:port`, `[v6]:port` or a bare host (port 6667, or 6697 with tls). */
const server = z
  .string()
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::\d{1,5})?$/, 'expected host:port, e.g. irc.libera.chat:6697 or 127.0.0.1:6667')
  .describe('The IRC server: host:port (a bare host means port 6667, or 6697 with tls).');

const channelEntry = z.union([
  z.string().regex(CHANNEL, 'expected a channel name such as #ops (no spaces or commas)'),
  z.strictObject({
    name: z.string().regex(CHANNEL, 'expected a channel name such as #ops (no spaces or commas)').describe('The channel, e.g. #ops.'),
    key: z.string().regex(/^[^\s,]+$/, 'a channel key has no spaces or commas').optional().describe('The channel key (+k), when the channel has one.'),
  }),
]);

const tlsObject = z.strictObject({
  ca: z.string().min(1).optional().describe('A CA certificate (PEM) to trust for the server, relative to the manifest: for a private CA or a self-signed server. Default: the system CAs.'),
  verify: bool('Whether the server certificate must be valid for its host name and chain to a trusted CA. Turn off only for a test server.').default(true),
  servername: z.string().min(1).optional().describe('The name the certificate is checked against (and SNI). Default: the host of `server`.'),
  handshakeTimeout: duration('How long the TLS handshake may take once connected (a plain-text port never answers it).').default(10_000),
});

const tls = z
  .union([z.literal(false), z.literal(true).transform(() => tlsObject.parse({})), tlsObject])
  .default(false)
  .describe('Connect over TLS: true (system CAs) or { ca, verify, servername }. false: plain text.');

const relayEntry = z
  .strictObject({
    from: z.string().min(1).describe('Where lines come from: `<pubsub service>:<topic or pattern>` (hub:alerts, hub:deploys.*) or a channel the bot joins (#ops).'),
    to: z.string().min(1).describe('Where they go: a channel the bot joins (#ops) or `<pubsub service>:<topic>` (hub:irc.ops).'),
    format: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The text sent. Hub → channel: {data} (a string as is, anything else as JSON), {data.field.sub}, {topic}, {id}, {time}; default {data}. Channel → hub: the published data becomes this string, with {nick}, {channel}, {text}, {time}; default: the object { channel, nick, text, time, bot }.',
      ),
    notice: bool('Hub → channel: send NOTICE instead of PRIVMSG (the convention for bots: other bots never answer a notice).').default(false),
  })
  .describe('One relay: hub topic → channel, or channel → hub topic.');

/** The config of an `irc` service: a bot on one IRC server. */
export const ircSchema = z
  .strictObject({
    server,
    tls,
    nick: nick('The nickname of the bot.'),
    altNicks: z
      .array(nick('An alternative nickname.'))
      .default([])
      .describe('Nicknames tried in turn when `nick` is taken; after them the bot tries nick_, nick__, then nick plus digits.'),
    username: z.string().regex(/^[^\s@]+$/, 'a username has no spaces or @').max(50).optional().describe('The username (ident) sent at registration. Default: the nick.'),
    realname: z.string().min(1).default('Hendrix IRC bot').describe('The real name (gecos) shown by WHOIS.'),
    password: z.string().min(1).optional().describe('The server password (PASS), when the server needs one. Use ${VAR} rather than writing it in the manifest.'),
    sasl: z
      .strictObject({
        account: z.string().min(1).describe('The account to log in to.'),
        password: z.string().min(1).describe('Its password. Use ${VAR} rather than writing it in the manifest.'),
      })
      .optional()
      .describe('Log in with SASL PLAIN during registration; start fails when the server refuses it or offers no SASL.'),
    channels: z.array(channelEntry).default([]).describe('Channels to join: "#ops" or { name: "#ops", key: secret }. Ready means joined to every one.'),
    commands: z
      .string()
      .min(1)
      .optional()
      .describe('A module of command handlers, relative to the manifest: export function ping(message, reply, ctx) answers !ping in channels and private messages.'),
    commandPrefix: z.string().min(1).max(5).regex(/^\S+$/, 'no spaces').default('!').describe('What starts a command in a message: !name args.'),
    commandRate: z
      .strictObject({
        burst: int('How many commands and CTCP requests one user (nick) may make at once.').pipe(z.number().int().min(1)).default(5),
        interval: duration('After the burst, one more per this interval for that user (0: no limit).').default(3_000),
      })
      .prefault({})
      .describe('Per-user limit on what makes the bot answer someone (commands, CTCP VERSION/PING/TIME/CLIENTINFO), so that one user cannot fill the outgoing queue; beyond it requests are ignored, counted and logged.'),
    relay: z.array(relayEntry).default([]).describe('Relays between pub/sub hub topics and channels; each hub named becomes a dependency of the bot.'),
    relayMaxAge: duration(
      'The oldest a relayed channel line (hub → channel, or say() to a channel from the handle) may be when its turn to go out comes; older ones are dropped, counted and logged. Relayed lines wait across reconnects; replies to people do not (0: no limit).',
    ).default(300_000),
    flood: z
      .strictObject({
        burst: int('How many lines may go out at once before the rate applies (the token bucket size).').pipe(z.number().int().min(1)).default(4),
        interval: duration('After the burst, one line per this interval (0: no limit, for a private server that allows it).').default(2_000),
        maxQueue: int('How many lines may wait to be sent, relayed lines and replies together; when it is full a relayed line pushes out the oldest reply, other new lines are dropped, counted and logged.').pipe(z.number().int().min(1)).default(1_000),
      })
      .prefault({})
      .describe('Outgoing flood control: servers disconnect bots that send too fast ("Excess Flood").'),
    reconnect: z
      .strictObject({
        initial: duration('Delay before the first reconnect attempt.').default(1_000),
        factor: number('Each further delay is the previous one times this factor.').default(2),
        max: duration('The longest delay between attempts.').default(60_000),
        jitter: number('Random spread of each delay, as a fraction of it (0 to 1).').pipe(z.number().max(1)).default(0.2),
        limit: int('Give up after this many failed attempts in a row and report the service crashed (0: never give up).').pipe(z.number().int().min(0)).default(0),
      })
      .prefault({})
      .describe('What happens when the connection is lost once ready: reconnect with exponential backoff, rejoin every channel, then send the relayed lines queued meanwhile (replies to people are dropped with their connection).'),
    pingInterval: duration('How often the bot pings the server to notice a dead connection.').default(30_000),
    pingTimeout: duration('How long without any line from the server before the connection counts as dead and is reconnected.').default(120_000),
    quitMessage: z.string().default('hendrix: stopping').describe('The QUIT message sent on stop.'),
    flushTimeout: duration('On stop, how long queued lines may still go out (at the flood rate) before QUIT; what is left is logged as dropped.').default(2_000),
    quitTimeout: duration('On stop, how long to wait after QUIT for the server to close the connection.').default(2_000),
  })
  .superRefine((config, ctx) => {
    const joined = new Set(config.channels.map((c) => (typeof c === 'string' ? c : c.name).toLowerCase()));
    config.relay.forEach((entry, index) => {
      const from = parseEndpoint(entry.from, 'from');
      const to = parseEndpoint(entry.to, 'to');
      for (const [end, key] of [[from, 'from'], [to, 'to']] as const) {
        if ('problem' in end) ctx.addIssue({ code: 'custom', path: ['relay', index, key], message: end.problem });
        else if (end.type === 'channel' && !joined.has(end.channel.toLowerCase())) {
          ctx.addIssue({ code: 'custom', path: ['relay', index, key], message: `the bot does not join ${end.channel}: add it to channels` });
        }
      }
      if ('problem' in from || 'problem' in to) return;
      if (from.type === to.type) {
        ctx.addIssue({ code: 'custom', path: ['relay', index, 'to'], message: `a relay goes from a hub topic to a channel or from a channel to a hub topic, not ${from.type} to ${to.type}` });
        return;
      }
      if (entry.format !== undefined) {
        const problem = checkFormat(entry.format, from.type === 'hub' ? 'hub' : 'channel');
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['relay', index, 'format'], message: problem });
      }
    });
  });

/** The validated config of an `irc` service. */
export type IrcConfig = z.output<typeof ircSchema>;

/** One validated relay entry. */
export type RelayConfig = IrcConfig['relay'][number];
