import { registrationScript, type FakeConnection, type FakeScript } from './fake-server.js';

/** What the hostile server does once the bot has joined. */
export interface HostileOptions {
  /** The channel the bot joins (commands and channel CTCPs go there). */
  readonly channel: string;
  /** How many hostile lines in all (default 10,000). */
  readonly lines?: number;
  /** How many fake users talk to the bot (default 200; `x` is one of them). */
  readonly users?: number;
  /** The commands the fake users call (default `!ping`, `!help`). */
  readonly commands?: readonly string[];
  /** The PRNG seed: the same seed, the same lines. */
  readonly seed?: number;
  /** Close the connection at the first line from the bot, after the flood, that passes this. */
  readonly closeWhen?: (line: string) => boolean;
}

/** A hostile server's script and what the test can wait for. */
export interface Hostile {
  readonly script: FakeScript;
  /** Resolves once the bot answered the PING sent after the flood: it has handled every line. */
  readonly flooded: Promise<void>;
  /** Resolves once the server closed the connection. */
  readonly closed: Promise<void>;
  /** What was sent, by sort: garbage, ctcp, command (lines). */
  readonly counts: { garbage: number; ctcp: number; command: number };
  /** Every line the bot sent after the flood began. */
  readonly afterFlood: string[];
}

/** mulberry32: a tiny seeded PRNG, so that a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lines a server should never send, or sends broken: parsers and handlers must survive each. */
function malformed(bot: string, channel: string): string[] {
  const u = ':mal!m@hostile.test';
  return [
    ':', ': ', '::::', ':prefix', `${u}`, 'PRIVMSG', `${u} PRIVMSG`, `${u} PRIVMSG ${channel}`, `${u} PRIVMSG ${bot} :\x01`,
    `${u} PRIVMSG ${bot} :\x01\x01`, `${u} PRIVMSG ${bot} :\x01VERSION`, `${u} PRIVMSG ${bot} :\x01 \x01`, `${u} NOTICE ${bot} :\x01VERSION evil\x01`,
    '@', '@a=b;c;d=\\s\\:\\\\ :x PRIVMSG #ops :tags', `@${'k=v;'.repeat(2000)} ${u} PRIVMSG ${channel} :tag flood`,
    ':hostile.test 001', `:hostile.test 005 ${bot} CHANTYPES= PREFIX=(ov)@+ CASEMAPPING=nonsense NICKLEN=-1 :are supported`,
    `:hostile.test 353 ${bot} = ${channel} :@@@ +++ @`, `:hostile.test 366 ${bot}`, `${u} MODE ${channel} +ooooooooo`, `${u} MODE ${bot}`,
    `${u} NICK`, `${u} NICK :`, `${u} KICK ${channel}`, `${u} JOIN`, `${u} PART`, `${u} QUIT`, 'BATCH +1 chathistory', 'BATCH -999',
    `@batch=nope ${u} PRIVMSG ${channel} :in a batch that never began`, ':hostile.test CAP * NEW :sasl', `:hostile.test CAP ${bot} ACK :nonsense`,
    `:hostile.test 433 * ${bot} :taken`, `:hostile.test 904 ${bot} :SASL failed`, `:hostile.test 474 ${bot} ${channel} :banned`,
    `:hostile.test 900 ${bot}`, ':hostile.test AUTHENTICATE +', `${u} INVITE ${bot} #evil`, `${u} TOPIC ${channel}`, `${u} WALLOPS`,
    `${u} PRIVMSG ${channel} :${'é'.repeat(3000)}`, `${u} PRIVMSG ${channel} :\uFFFD\uD800\uDFFF`, `${u} AWAY`, `${u} ACCOUNT`, `${u} CHGHOST`,
    `:hostile.test 332 ${bot} ${channel}`, `:hostile.test 311 ${bot}`, `:hostile.test PONG`, `${u} 9999999999 ${bot} :x`,
  ];
}

/**
 * A scripted hostile IRC server: it registers the bot and echoes its JOINs like a server,
 * then sends `lines` lines — garbage (random bytes, invalid UTF-8, NUL, overlong lines up to
 * 100 KB, malformed IRC), CTCP floods (VERSION, PING, TIME, CLIENTINFO from `users` fake users,
 * to the bot and to the channel) and command floods — then a PING to know the bot has read
 * them all, and closes the connection when `closeWhen` says so.
 */
export function hostileScript(options: HostileOptions): Hostile {
  const total = options.lines ?? 10_000;
  const users = Array.from({ length: options.users ?? 200 }, (_, i) => (i === 0 ? 'x' : `fake${i}`));
  const commands = options.commands ?? ['!ping', '!help'];
  const random = prng(options.seed ?? 13);
  const counts = { garbage: 0, ctcp: 0, command: 0 };
  const afterFlood: string[] = [];
  let nick = '*';
  let started = false;
  let pinged = false;
  let resolveFlooded: () => void = () => undefined;
  let resolveClosed: () => void = () => undefined;
  const flooded = new Promise<void>((resolve) => (resolveFlooded = resolve));
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;

  const garbage = (): Buffer => {
    const roll = random();
    if (roll < 0.02) return Buffer.alloc(roll < 0.005 ? 100_000 : 20_000, 0x41); // overlong
    if (roll < 0.4) {
      const bytes = Buffer.alloc(1 + Math.floor(random() * 600));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      return Buffer.from(bytes.map((b) => (b === 0x0a ? 0x20 : b))); // random bytes: binary, NUL, invalid UTF-8
    }
    return Buffer.from(pick(malformed(nick, options.channel)), 'utf8');
  };
  const ctcp = (): string => {
    const from = pick(users);
    const target = random() < 0.7 ? nick : options.channel;
    return `:${from}!u@hostile.test PRIVMSG ${target} :\x01${pick(['VERSION', 'PING 1700000000', 'TIME', 'CLIENTINFO'])}\x01`;
  };
  const command = (): string => `:${pick(users)}!u@hostile.test PRIVMSG ${random() < 0.5 ? options.channel : nick} :${pick(commands)}`;

  const flood = (c: FakeConnection): void => {
    let sent = 0;
    const batch = (): void => {
      if (c.socket.destroyed) return resolveFlooded();
      const chunk: Buffer[] = [];
      for (let i = 0; i < 250 && sent < total; i++, sent++) {
        const roll = random();
        if (roll < 0.6) {
          counts.garbage++;
          chunk.push(garbage());
        } else if (roll < 0.9) {
          counts.ctcp++;
          chunk.push(Buffer.from(ctcp()));
        } else {
          counts.command++;
          chunk.push(Buffer.from(command()));
        }
        chunk.push(Buffer.from(random() < 0.5 ? '\r\n' : '\n'));
      }
      c.sendRaw(Buffer.concat(chunk));
      if (sent < total) setImmediate(batch);
      else {
        pinged = true;
        c.send('PING :flood-done');
      }
    };
    setImmediate(batch);
  };

  const script = registrationScript({
    onLine: (line, c) => {
      const [command = '', first = ''] = line.split(' ');
      if (command.toUpperCase() === 'NICK') nick = first;
      if (started) afterFlood.push(line);
      if (!started && command.toUpperCase() === 'JOIN') {
        started = true;
        c.socket.once('close', () => resolveClosed());
        flood(c);
        return;
      }
      if (pinged && command.toUpperCase() === 'PONG' && line.includes('flood-done')) resolveFlooded();
      if (pinged && options.closeWhen?.(line)) c.socket.end();
    },
  });
  return { script, flooded, closed, counts, afterFlood };
}
