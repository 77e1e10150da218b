import { fileURLToPath } from 'node:url';
import { Client, type MessageEvent } from 'irc-framework';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../../../src/runtime/clock.js';
import { commonServiceFields } from '../../../src/kinds/common-schema.js';
import { createKindContext, type KindTestContext } from '../kind-context.js';
import type { HubHandle, HubMessage } from '../../../services/pubsub/handle.js';
import { matches } from '../../../src/net/topics.js';
import { ircSchema } from '../../../services/irc/schema.js';
import { IrcService } from '../../../services/irc/service.js';

/** The folder of the irc test fixtures (commands modules). */
export const IRC_FIXTURES = fileURLToPath(new URL('../../../services/irc/fixtures/', import.meta.url));

const testSchema = ircSchema.safeExtend({ kind: z.string(), ...commonServiceFields });

/** The config an irc test context carries. */
export type TestIrcConfig = z.output<typeof testSchema>;

/** A hand-made context for an irc service, with what it reported back. */
export type IrcTestContext = KindTestContext<TestIrcConfig>;

/** Options of createIrcContext(). */
export interface IrcContextOptions {
  baseDir?: string;
  peers?: Record<string, unknown>;
  log?: Logger;
  name?: string;
}

/** A partial irc config, validated (defaults applied) as the manifest would: what a test hands reload(). */
export function ircConfig(partial: Record<string, unknown>): TestIrcConfig {
  return testSchema.parse({ kind: 'irc', ...partial });
}

/** Builds an irc context from a partial config, validated (defaults applied) as the manifest would. */
export function createIrcContext(partial: Record<string, unknown>, options: IrcContextOptions = {}): IrcTestContext {
  const config = ircConfig(partial);
  return createKindContext('irc', config, { name: options.name ?? 'bot', baseDir: options.baseDir ?? IRC_FIXTURES, peers: options.peers, log: options.log, line: 20 });
}

const running = new Set<IrcService>();

/** Builds (not starts) a bot; stopBots() stops it. */
export function createBot(partial: Record<string, unknown>, options: IrcContextOptions & { clock?: Clock } = {}): { bot: IrcService; ctx: IrcTestContext } {
  const ctx = createIrcContext(partial, options);
  const bot = new IrcService(ctx, options.clock === undefined ? {} : { clock: options.clock });
  running.add(bot);
  return { bot, ctx };
}

/** Builds and starts a bot (10 s at most). */
export async function startBot(partial: Record<string, unknown>, options: IrcContextOptions & { clock?: Clock } = {}): Promise<{ bot: IrcService; ctx: IrcTestContext }> {
  const made = createBot(partial, options);
  await made.bot.start(AbortSignal.timeout(10_000));
  return made;
}

/** Stops every bot createBot() made. */
export async function stopBots(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.all(all.map((bot) => bot.stop(AbortSignal.timeout(3_000))));
}

/** A line the observer saw. */
export interface Seen {
  readonly type: 'privmsg' | 'notice' | 'action';
  readonly nick: string;
  readonly target: string;
  readonly text: string;
  /** performance.now() when it arrived. */
  readonly at: number;
}

/** A JOIN or PART the observer saw in one of its channels. */
export interface Membership {
  readonly type: 'join' | 'part';
  readonly nick: string;
  readonly channel: string;
  /** The PART message. */
  readonly message: string;
}

/**
 * A second IRC client (irc-framework, as the issue asks) that watches channels: what the
 * channel sees, who is in it, who joins and parts, and QUIT messages. No pings of its own, so
 * it leaves no timers.
 */
export class Observer {
  readonly client = new Client();
  readonly seen: Seen[] = [];
  readonly quits: { nick: string; message: string }[] = [];
  /** JOINs and PARTs of others in the observer's channels, in order. */
  readonly memberships: Membership[] = [];
  /** CTCP answers received (`VERSION hendrix`), by whom. */
  readonly ctcpResponses: { nick: string; message: string }[] = [];
  readonly #waiters = new Set<() => void>();

  private constructor() {
    const push = (type: Seen['type']) => (event: MessageEvent) => {
      this.seen.push({ type, nick: event.nick, target: event.target, text: event.message, at: performance.now() });
      this.#wake();
    };
    this.client.on('privmsg', push('privmsg'));
    this.client.on('notice', push('notice'));
    this.client.on('action', push('action'));
    this.client.on('ctcp response', (event: { nick: string; message: string }) => {
      this.ctcpResponses.push({ nick: event.nick, message: event.message });
      this.#wake();
    });
    this.client.on('quit', (event: { nick: string; message: string }) => {
      this.quits.push({ nick: event.nick, message: event.message });
      this.#wake();
    });
    const member = (type: Membership['type']) => (event: { nick: string; channel: string; message?: string }) => {
      if (event.nick === this.client.user.nick) return;
      this.memberships.push({ type, nick: event.nick, channel: event.channel, message: event.message ?? '' });
      this.#wake();
    };
    this.client.on('join', member('join'));
    this.client.on('part', member('part'));
  }

  /** The JOINs (or PARTs) of `nick` seen, as channel names (lower case). */
  channelsOf(type: Membership['type'], nick: string): string[] {
    return this.memberships.filter((m) => m.type === type && m.nick === nick).map((m) => m.channel.toLowerCase());
  }

  /** Waits until `predicate` holds for the observer's records (5 s by default); `what` names it in the timeout error. */
  async until(predicate: () => boolean, what: string, ms = 5_000): Promise<void> {
    await this.waitFor(predicate, ms, `${what}; joins/parts: ${JSON.stringify(this.memberships)}; quits: ${JSON.stringify(this.quits)}`);
  }

  /**
   * When the server says `nick` signed on (WHOIS, RPL_WHOISIDLE: seconds since the epoch):
   * the server's own view of the connection — the same value means the same connection.
   */
  signon(nick: string): Promise<number> {
    return withTimeout(
      new Promise<number>((resolve, reject) => {
        const onWhois = (event: { nick: string; logon?: string; error?: string }): void => {
          if (event.nick.toLowerCase() !== nick.toLowerCase()) return;
          this.client.off('whois', onWhois);
          if (event.logon === undefined) reject(new Error(`WHOIS ${nick}: no signon time (${event.error ?? 'no such nick?'})`));
          else resolve(Number(event.logon));
        };
        this.client.on('whois', onWhois);
        this.client.raw('WHOIS', nick);
      }),
      5_000,
      `WHOIS ${nick}`,
    );
  }

  /** Connects as `nick` to `127.0.0.1:port` and joins `channels` (with keys: `#c key`). */
  static async connect(port: number, nick: string, channels: string[] = []): Promise<Observer> {
    const observer = new Observer();
    const client = observer.client;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`observer ${nick} did not register`)), 5_000);
      client.once('registered', () => {
        clearTimeout(timer);
        resolve();
      });
      client.once('close', () => reject(new Error(`observer ${nick}: connection closed`)));
      client.connect({ host: '127.0.0.1', port, nick, username: 'observer', gecos: 'observer', auto_reconnect: false, ping_interval: 0, ping_timeout: 0, account: {} });
    });
    for (const entry of channels) {
      const [channel, key] = entry.split(' ');
      await observer.join(channel as string, key);
    }
    return observer;
  }

  /** Joins a channel and waits for the server's confirmation. */
  async join(channel: string, key?: string): Promise<void> {
    const joined = new Promise<void>((resolve) => {
      const onJoin = (event: { nick: string; channel: string }): void => {
        if (event.nick === this.client.user.nick && event.channel.toLowerCase() === channel.toLowerCase()) {
          this.client.off('join', onJoin);
          resolve();
        }
      };
      this.client.on('join', onJoin);
    });
    this.client.join(channel, key);
    await withTimeout(joined, 5_000, `observer join ${channel}`);
  }

  /** Waits until `predicate` holds for what was seen (5 s by default). */
  async waitFor(predicate: (seen: readonly Seen[]) => boolean, ms = 5_000, what = 'the expected lines'): Promise<void> {
    const deadline = performance.now() + ms;
    while (!predicate(this.seen)) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`observer: timed out waiting for ${what}; saw ${JSON.stringify(this.seen.map((s) => `${s.nick}: ${s.text}`))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /** The texts seen from `nick` (to `target`, when given). */
  textsFrom(nick: string, target?: string): string[] {
    return this.seen.filter((s) => s.nick === nick && (target === undefined || s.target.toLowerCase() === target.toLowerCase())).map((s) => s.text);
  }

  /** The nicks in `channel` (NAMES), without their mode prefixes. */
  names(channel: string): Promise<string[]> {
    return withTimeout(
      new Promise<string[]>((resolve) => {
        const onList = (event: { channel: string; users: { nick: string }[] }): void => {
          if (event.channel.toLowerCase() !== channel.toLowerCase()) return;
          this.client.off('userlist', onList);
          resolve(event.users.map((u) => u.nick));
        };
        this.client.on('userlist', onList);
        this.client.raw('NAMES', channel);
      }),
      5_000,
      `NAMES ${channel}`,
    );
  }

  /** Sends a PRIVMSG. */
  say(target: string, text: string): void {
    this.client.say(target, text);
  }

  /** Sends a CTCP request (`VERSION`, `PING 123`) as a PRIVMSG. */
  ctcp(target: string, request: string): void {
    this.client.raw(`PRIVMSG ${target} :\x01${request}\x01`);
  }

  /** Waits until `predicate` holds for the CTCP answers received (5 s by default). */
  async waitForCtcp(predicate: (responses: readonly { nick: string; message: string }[]) => boolean, ms = 5_000, what = 'the CTCP answers'): Promise<void> {
    await this.waitFor(() => predicate(this.ctcpResponses), ms, `${what}; CTCP answers: ${JSON.stringify(this.ctcpResponses)}`);
  }

  /** Quits and waits for the connection to close. */
  async close(): Promise<void> {
    if (!this.client.connected) return;
    const closed = new Promise<void>((resolve) => this.client.once('close', () => resolve()));
    this.client.quit('observer done');
    await withTimeout(closed, 2_000, 'observer close').catch(() => this.client.connection.transport?.disposeSocket());
  }

  #wake(): void {
    for (const done of [...this.#waiters]) done();
    this.#waiters.clear();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** An in-memory stand-in for a pub/sub hub: exact topics and `*`/`>` patterns, synchronous delivery. */
export class MemoryHub implements HubHandle {
  readonly published: HubMessage[] = [];
  readonly #subs = new Set<{ pattern: string; listener: (message: HubMessage) => void }>();
  #seq = 0;

  publish(topic: string, data: unknown): Promise<string> {
    if (topic.includes('*') || topic.includes('>')) return Promise.reject(new Error('wildcards are for subscriptions, not for publishing'));
    const message: HubMessage = { topic, id: `1:${++this.#seq}`, data, ts: Date.now() };
    this.published.push(message);
    for (const sub of [...this.#subs]) if (matches(sub.pattern, topic)) sub.listener(message);
    return Promise.resolve(message.id);
  }

  subscribe(pattern: string, listener: (message: HubMessage) => void): () => void {
    const sub = { pattern, listener };
    this.#subs.add(sub);
    return () => void this.#subs.delete(sub);
  }

  /** How many subscriptions are open. */
  get subscriptions(): number {
    return this.#subs.size;
  }
}
