import type { ServiceContext } from '../../src/kinds/contract.js';
import { formatDuration } from '../../src/kinds/units.js';
import type { Clock, TimerHandle } from '../../src/runtime/clock.js';
import { backoffDelay } from '../../src/runtime/supervisor.js';
import type { ChannelSpec } from './channel-joins.js';
import { ircError } from './errors.js';
import type { CtcpRequest, IncomingMessage } from './incoming.js';
import type { OutgoingQueue } from './outgoing-queue.js';
import type { IrcConfig } from './schema.js';
import { IrcSession, isRetryable } from './session.js';
import type { TransportTls } from './transport.js';
import type { UserRateLimiter } from './user-rate.js';
import { abortable, sleep } from './waits.js';

/** Where and as whom to connect, and which channels to be in: what a session is opened with. */
export interface ConnectionTarget {
  /** The config the session registers with (nick, password, SASL, ping settings). */
  readonly config: IrcConfig;
  readonly host: string;
  readonly port: number;
  readonly tls: TransportTls | undefined;
  readonly channels: readonly ChannelSpec[];
}

/** What a connection needs from its service. */
export interface ConnectionOptions {
  readonly ctx: ServiceContext<IrcConfig>;
  readonly clock: Clock;
  readonly queue: OutgoingQueue;
  readonly limiter: UserRateLimiter;
  /** The service's config now (backoff, quit and rejoin settings, which a reload changes in place). */
  config(): IrcConfig;
  onMessage(message: IncomingMessage): void;
  onCtcp(request: CtcpRequest): void;
  /** The connection gave up (reconnect.limit) or a callback hit a bug: the service is done for. */
  onFatal(error: unknown): void;
}

/** `host:port`, `[v6]:port`. */
export const whereOf = (target: Pick<ConnectionTarget, 'host' | 'port'>): string => `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;

/**
 * The bot's link to its server across sessions: connects at start (retrying network trouble
 * until the start gives up), reconnects with backoff once ready, and — for a reload — joins and
 * parts channels on the session it has, or replaces the session by one with new settings.
 */
export class IrcConnection {
  readonly #o: ConnectionOptions;
  readonly #life = new AbortController();
  #target: ConnectionTarget;
  #session: IrcSession | undefined;
  /** Aborts the reconnect attempt in flight (a reload with new settings starts another at once). */
  #attempt: AbortController | undefined;
  #timer: TimerHandle | undefined;
  #failures = 0;
  #reconnects = 0;
  #closed = false;

  constructor(options: ConnectionOptions, target: ConnectionTarget) {
    this.#o = options;
    this.#target = target;
  }

  /** The session now (ready, or still opening); undefined while disconnected. */
  get session(): IrcSession | undefined {
    return this.#session;
  }

  /** What the connection is for now. */
  get target(): ConnectionTarget {
    return this.#target;
  }

  /** Successful reconnects (a reload's included) since start. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Connects until it works, a refusal that retrying cannot fix, or `signal` aborts (start). */
  open(signal: AbortSignal): Promise<void> {
    return this.#connect(signal, (reason, cause) => this.#o.ctx.waiting(reason, cause));
  }

  /**
   * Joins `added` on the session it has (a reload), and from now on wants `channels`; resolves
   * once the server confirmed each. A refusal (HX_ERR_IRC_JOIN), the connection closing or
   * `signal` aborting first rejects, having left `added` again and wanting what it wanted
   * before. Disconnected, only the list changes: the next session joins it.
   */
  async join(added: readonly ChannelSpec[], channels: readonly ChannelSpec[], signal: AbortSignal): Promise<void> {
    const before = this.#target.channels;
    this.#want(channels);
    const session = this.#session;
    if (session?.ready !== true || added.length === 0) return;
    try {
      await abortable(session.channels.join(added), signal);
    } catch (error) {
      this.#want(before);
      if (session.ready) session.channels.part(added.map((c) => c.name), 'hendrix: reload rolled back');
      throw error;
    }
  }

  /** Leaves `removed` (PART) and from now on wants `channels` (a reload). */
  leave(removed: readonly ChannelSpec[], channels: readonly ChannelSpec[], message: string): void {
    this.#want(channels);
    const session = this.#session;
    if (session?.ready === true && removed.length > 0) session.channels.part(removed.map((c) => c.name), message);
  }

  /**
   * Replaces the session by one opened with `target` (a reload changed the server, the nick,
   * TLS or the credentials): QUIT with `reason`, then connect, retrying network trouble until
   * `signal` aborts. When the new one cannot be had, goes back to the previous target (a
   * reconnect at once) and rejects. Disconnected, the next attempt (now) uses `target`.
   */
  async replace(target: ConnectionTarget, reason: string, signal: AbortSignal): Promise<void> {
    const previous = this.#target;
    const old = this.#session;
    this.#target = target;
    if (old?.ready !== true) {
      this.#retryNow();
      return;
    }
    const log = this.#o.ctx.log;
    log.info({ reason, server: whereOf(target), nick: target.config.nick }, 'reconnecting to apply the reload');
    this.#session = undefined;
    this.#o.queue.detach();
    this.#o.limiter.reset();
    await old.quit(`hendrix: reconnecting (${reason})`, this.#o.config().quitTimeout, signal);
    try {
      await this.#connect(signal, () => undefined);
    } catch (error) {
      if (this.#closed) throw error;
      this.#target = previous;
      const hx = error as { code?: string; message?: string };
      log.warn({ code: hx.code, reason: hx.message, server: whereOf(previous) }, 'cannot connect with the new settings: back to the previous ones');
      this.#retryNow();
      throw error;
    }
    this.#reconnects++;
    log.info({ nick: (this.#session as IrcSession | undefined)?.nick, server: whereOf(target) }, 'reconnected');
  }

  /** Stops reconnecting (stop began); the session stays for the last lines and the QUIT. */
  close(): void {
    this.#closed = true;
    this.#clearTimer();
  }

  /** Lets go of everything: the session is closed at once, no attempt or timer is left. */
  destroy(why: string): void {
    this.close();
    this.#life.abort(new Error(why));
    this.#session?.destroy();
    this.#session = undefined;
  }

  #want(channels: readonly ChannelSpec[]): void {
    this.#target = { ...this.#target, channels };
    this.#session?.channels.want(channels);
  }

  async #connect(signal: AbortSignal, waiting: (reason: string, cause?: Error) => void): Promise<void> {
    const { ctx, clock } = this.#o;
    const stop = AbortSignal.any([signal, this.#life.signal]);
    const target = this.#target;
    const where = whereOf(target);
    let last: Error | undefined;
    const gaveUp = (): Error => ircError(ctx, 'HX_ERR_IRC_CONNECT', ['server'], `cannot reach ${target.config.server} in time: ${last?.message ?? 'no answer'}`, last);
    for (let attempt = 0; ; attempt++) {
      const session = this.#newSession(target);
      waiting(attempt === 0 ? `connecting to ${where}` : `connecting to ${where} (attempt ${attempt + 1})`, last);
      try {
        await session.open(stop);
        this.#session = session;
        this.#o.queue.attach((line) => session.write(line));
        return;
      } catch (error) {
        if (stop.aborted) throw last === undefined ? error : gaveUp();
        if (!isRetryable(error)) throw error;
        last = error as Error;
        const delay = backoffDelay(this.#o.config().reconnect, attempt, () => clock.random());
        ctx.log.warn({ attempt: attempt + 1, retryIn: delay, reason: last.message }, 'cannot connect yet, retrying');
        waiting(`retrying ${where} in ${formatDuration(delay)}`, last);
        await sleep(clock, delay, stop).catch(() => {
          throw gaveUp();
        });
      }
    }
  }

  #newSession(target: ConnectionTarget): IrcSession {
    const { ctx, clock } = this.#o;
    const session: IrcSession = new IrcSession({
      config: target.config,
      host: target.host,
      port: target.port,
      tls: target.tls,
      channels: target.channels,
      service: ctx.name,
      locate: (path) => ctx.locate(path),
      log: ctx.log,
      clock,
      rejoinDelay: () => this.#o.config().reconnect.initial,
      // a session replaced by a reload says nothing more
      onMessage: (message) => this.#session === session && this.#o.onMessage(message),
      onCtcp: (request) => this.#session === session && this.#o.onCtcp(request),
      onLost: (reason) => this.#onLost(session, reason),
    });
    return session;
  }

  #onLost(session: IrcSession, reason: string): void {
    if (this.#closed || this.#session !== session) return;
    this.#o.queue.detach();
    this.#o.limiter.reset();
    this.#session = undefined;
    this.#o.ctx.log.warn({ reason, queued: this.#o.queue.stats().queued }, 'disconnected');
    this.#guard(() => this.#scheduleReconnect());
  }

  /** Runs `fn` from a socket or timer callback: a bug there is reported as a crash, not thrown out of the event loop. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#o.onFatal(error);
    }
  }

  #scheduleReconnect(): void {
    const { ctx, clock } = this.#o;
    const settings = this.#o.config().reconnect;
    if (this.#closed) return;
    if (settings.limit > 0 && this.#failures >= settings.limit) {
      const error = ircError(ctx, 'HX_ERR_IRC_CONNECT', ['reconnect', 'limit'], `gave up after ${this.#failures} failed reconnect attempt(s) to ${whereOf(this.#target)}`);
      ctx.log.error({ code: error.code, attempts: this.#failures }, error.message);
      this.#o.onFatal(error);
      return;
    }
    const delay = backoffDelay(settings, this.#failures, () => clock.random());
    this.#failures++;
    ctx.log.info({ attempt: this.#failures, delay }, 'reconnecting');
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#guard(() => this.#reconnect());
    }, delay);
  }

  #reconnect(): void {
    if (this.#closed) return;
    const session = this.#newSession(this.#target);
    const attempt = new AbortController();
    this.#session = session;
    this.#attempt = attempt;
    const log = this.#o.ctx.log;
    session.open(AbortSignal.any([this.#life.signal, attempt.signal])).then(
      () => {
        if (this.#closed || this.#session !== session) {
          session.destroy();
          return;
        }
        this.#attempt = undefined;
        this.#failures = 0;
        this.#reconnects++;
        log.info({ nick: session.nick, queued: this.#o.queue.stats().queued }, 'reconnected');
        this.#o.queue.attach((line) => session.write(line));
      },
      (error: unknown) => {
        if (this.#closed || this.#session !== session) return;
        this.#session = undefined;
        this.#attempt = undefined;
        const hx = error as { code?: string; message?: string };
        log.warn({ attempt: this.#failures, code: hx.code, reason: hx.message }, 'reconnect failed');
        this.#guard(() => this.#scheduleReconnect());
      },
    );
  }

  /** Gives up the attempt in flight or the wait for the next one, and tries again at once (the target changed). */
  #retryNow(): void {
    this.#clearTimer();
    const attempt = this.#attempt;
    this.#attempt = undefined;
    this.#session = undefined;
    attempt?.abort(new Error('the settings changed'));
    if (this.#closed) return;
    this.#guard(() => this.#reconnect());
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
