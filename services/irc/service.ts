import type { Service, ServiceContext } from '../../src/kinds/contract.js';
import { systemClock, type Clock, type TimerHandle } from '../../src/runtime/clock.js';
import { backoffDelay } from '../../src/runtime/supervisor.js';
import { formatDuration } from '../../src/kinds/units.js';
import { IrcCommands, type CommandHost } from './commands.js';
import { ctcpReply } from './ctcp.js';
import { ircError } from './errors.js';
import { OutgoingQueue } from './outgoing-queue.js';
import type { IrcHandle, IrcStats } from './handle.js';
import { IrcRelay } from './relay.js';
import type { IrcConfig } from './schema.js';
import { readTlsCa } from './tls-ca.js';
import type { CtcpRequest, IncomingMessage } from './incoming.js';
import { IrcSession, isRetryable, type ChannelSpec } from './session.js';
import type { TransportTls } from './transport.js';
import { UserRateLimiter } from './user-rate.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { IrcHandle, IrcStats } from './handle.js';

/** What the service can be given besides its context (tests inject a clock). */
export interface IrcServiceOptions {
  /** Time, timers and randomness for backoff and flood control; default the system clock. */
  readonly clock?: Clock;
}

/** Everything one run (start → stop) holds. */
interface Run {
  readonly life: AbortController;
  readonly queue: OutgoingQueue;
  /** Per-user limit on commands and CTCP requests, for the current connection. */
  readonly limiter: UserRateLimiter;
  readonly relay: IrcRelay;
  commands: IrcCommands | undefined;
  tls: TransportTls | undefined;
  session: IrcSession | undefined;
  reconnectTimer: TimerHandle | undefined;
  attempt: number;
  reconnects: number;
  /** Stop began: no new commands or relayed lines, but replies of running commands still go out. */
  closing: boolean;
  /** Nothing more is queued. */
  stopping: boolean;
}

/** The parsed `server`: host and port. */
export function parseServer(server: string, tls: boolean): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(server);
  const host = m?.[1] ?? m?.[2] ?? server;
  return { host, port: m?.[3] === undefined ? (tls ? 6697 : 6667) : Number(m[3]) };
}

/**
 * The `irc` kind's service: a bot on one IRC server. Ready once registered and joined to every
 * channel; afterwards a lost connection is no crash — it reconnects with backoff, rejoins and
 * sends what was queued meanwhile. Outgoing lines go through a token bucket; stop sends QUIT.
 */
export class IrcService implements Service {
  readonly #ctx: ServiceContext<IrcConfig>;
  readonly #clock: Clock;
  readonly #server: { host: string; port: number };
  readonly #channels: ChannelSpec[];
  readonly #handle: IrcHandle;
  #run: Run | undefined;
  #stopping: Promise<void> | undefined;

  constructor(ctx: ServiceContext<IrcConfig>, options: IrcServiceOptions = {}) {
    this.#ctx = ctx;
    this.#clock = options.clock ?? systemClock;
    this.#server = parseServer(ctx.config.server, ctx.config.tls !== false);
    this.#channels = ctx.config.channels.map((c, index) => (typeof c === 'string' ? { name: c, key: undefined, index } : { name: c.name, key: c.key, index }));
    const service = this;
    this.#handle = Object.freeze({
      say: (target: string, text: string) => service.#send('PRIVMSG', target, text),
      notice: (target: string, text: string) => service.#send('NOTICE', target, text),
      get nick() {
        const session = service.#run?.session;
        return session?.ready ? session.nick : undefined;
      },
      get connected() {
        return service.#run?.session?.ready ?? false;
      },
      stats: (): IrcStats => {
        const run = service.#run;
        const queue = run?.queue.stats() ?? { queued: 0, sent: 0, dropped: 0, expired: 0, orphaned: 0 };
        return { ...queue, limited: run?.limiter.limited ?? 0, reconnects: run?.reconnects ?? 0 };
      },
    });
  }

  /** Loads the commands module and the TLS CA, wires the relay, connects; resolves once joined everywhere. */
  async start(signal: AbortSignal): Promise<void> {
    const { config, log } = this.#ctx;
    const run: Run = {
      life: new AbortController(),
      queue: new OutgoingQueue({
        ...config.flood,
        relayMaxAge: config.relayMaxAge,
        nickBytes: Math.max(config.nick.length, ...config.altNicks.map((n) => n.length)) + 3,
        clock: this.#clock,
        log,
      }),
      limiter: new UserRateLimiter({ ...config.commandRate, clock: this.#clock, log }),
      relay: new IrcRelay(this.#ctx),
      commands: undefined,
      tls: undefined,
      session: undefined,
      reconnectTimer: undefined,
      attempt: 0,
      reconnects: 0,
      closing: false,
      stopping: false,
    };
    this.#run = run;
    this.#stopping = undefined;
    try {
      if (config.commands !== undefined) run.commands = await IrcCommands.load(this.#ctx, config.commands);
      run.tls = await this.#loadTls();
      signal.throwIfAborted();
      run.relay.attach((command, channel, text) => this.#send(command, channel, text));
      await this.#connectAtStart(run, signal);
    } catch (error) {
      this.#teardown(run, 'start failed');
      throw error;
    }
    const session = run.session as IrcSession;
    log.info({ server: `${this.#server.host}:${this.#server.port}`, tls: run.tls !== undefined, nick: session.nick, channels: this.#channels.map((c) => c.name) }, 'connected');
  }

  async #loadTls(): Promise<TransportTls | undefined> {
    const tls = this.#ctx.config.tls;
    if (tls === false) return undefined;
    // read again at start (the plan checked it): the file may have changed since
    const ca = tls.ca === undefined ? undefined : await readTlsCa(this.#ctx, tls.ca);
    return { ca, verify: tls.verify, servername: tls.servername, handshakeTimeout: tls.handshakeTimeout };
  }

  /** Connects until it works, a refusal that retrying cannot fix, or the start signal aborts. */
  async #connectAtStart(run: Run, signal: AbortSignal): Promise<void> {
    const { log, config } = this.#ctx;
    const stop = AbortSignal.any([signal, run.life.signal]);
    let last: Error | undefined;
    const gaveUp = (): Error =>
      ircError(this.#ctx, 'HX_ERR_IRC_CONNECT', ['server'], `cannot reach ${config.server} in time: ${last?.message ?? 'no answer'}`, last);
    const where = `${this.#server.host}:${this.#server.port}`;
    for (let attempt = 0; ; attempt++) {
      const session = this.#newSession(run);
      this.#ctx.waiting(attempt === 0 ? `connecting to ${where}` : `connecting to ${where} (attempt ${attempt + 1})`, last);
      try {
        await session.open(stop);
        run.session = session;
        run.queue.attach((line) => session.write(line));
        return;
      } catch (error) {
        if (stop.aborted) throw last === undefined ? error : gaveUp();
        if (!isRetryable(error)) throw error;
        last = error as Error;
        const delay = backoffDelay(config.reconnect, attempt, () => this.#clock.random());
        log.warn({ attempt: attempt + 1, retryIn: delay, reason: last.message }, 'cannot connect yet, retrying');
        this.#ctx.waiting(`retrying ${where} in ${formatDuration(delay)}`, last);
        await this.#sleep(delay, stop).catch(() => {
          throw gaveUp();
        });
      }
    }
  }

  #newSession(run: Run): IrcSession {
    const session: IrcSession = new IrcSession({
      config: this.#ctx.config,
      host: this.#server.host,
      port: this.#server.port,
      tls: run.tls,
      channels: this.#channels,
      service: this.#ctx.name,
      locate: (path) => this.#ctx.locate(path),
      log: this.#ctx.log,
      clock: this.#clock,
      onMessage: (message) => this.#onMessage(run, message),
      onCtcp: (request) => this.#onCtcp(run, request),
      onLost: (reason) => this.#onLost(run, session, reason),
    });
    return session;
  }

  #onMessage(run: Run, message: IncomingMessage): void {
    const session = run.session;
    if (session === undefined || run.closing) return;
    run.relay.onMessage(message);
    if (run.commands === undefined) return;
    const prefix = this.#ctx.config.commandPrefix;
    run.commands.dispatch(message, this.#commandHost(run), (nick, command) => run.limiter.allow(nick, `${prefix}${command}`));
  }

  /** Answers the CTCP requests the bot knows (VERSION, PING, TIME, CLIENTINFO), within the sender's commandRate. */
  #onCtcp(run: Run, request: CtcpRequest): void {
    if (run.session === undefined || run.closing) return;
    const answer = ctcpReply(request.message, this.#clock.now());
    if (answer === undefined) return;
    if (!run.limiter.allow(request.nick, `CTCP ${request.message.split(' ', 1)[0] ?? ''}`)) return;
    const session = run.queue.session;
    // a CTCP answer goes to the nick that asked, on this connection only, never split
    if (session !== undefined) run.queue.push('NOTICE', request.nick, answer, { session });
  }

  /**
   * What command handlers send through: like the handle, but a reply after stop is dropped,
   * not thrown, and everything belongs to the connection the command came on — dropped with
   * it, never sent to the next server, where the same nick may be someone else.
   */
  #commandHost(run: Run): CommandHost {
    const session = run.queue.session ?? -1;
    const send = (command: 'PRIVMSG' | 'NOTICE', target: string, text: string): number => {
      if (run.stopping) {
        this.#ctx.log.debug({ target }, 'command reply after stop: dropped');
        return 0;
      }
      return run.queue.push(command, target, text, { session });
    };
    return {
      get nick() {
        return run.session?.nick ?? '';
      },
      say: (target, text) => send('PRIVMSG', target, text),
      notice: (target, text) => send('NOTICE', target, text),
    };
  }

  #onLost(run: Run, session: IrcSession, reason: string): void {
    if (run.stopping || run.session !== session) return;
    run.queue.detach();
    run.limiter.reset();
    run.session = undefined;
    this.#ctx.log.warn({ reason, queued: run.queue.stats().queued }, 'disconnected');
    this.#guard(run, () => this.#scheduleReconnect(run));
  }

  /** Runs `fn` from a socket or timer callback: a bug there is reported as a crash, not thrown out of the event loop. */
  #guard(run: Run, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#teardown(run, 'internal error');
      this.#ctx.crashed(error);
    }
  }

  #scheduleReconnect(run: Run): void {
    const { config, log } = this.#ctx;
    if (run.stopping) return;
    const limit = config.reconnect.limit;
    if (limit > 0 && run.attempt >= limit) {
      const error = ircError(this.#ctx, 'HX_ERR_IRC_CONNECT', ['reconnect', 'limit'], `gave up after ${run.attempt} failed reconnect attempt(s) to ${this.#server.host}:${this.#server.port}`);
      log.error({ code: error.code, attempts: run.attempt }, error.message);
      this.#teardown(run, 'gave up reconnecting');
      this.#ctx.crashed(error);
      return;
    }
    const delay = backoffDelay(config.reconnect, run.attempt, () => this.#clock.random());
    run.attempt++;
    log.info({ attempt: run.attempt, delay }, 'reconnecting');
    run.reconnectTimer = this.#clock.setTimeout(() => {
      run.reconnectTimer = undefined;
      this.#guard(run, () => this.#reconnect(run));
    }, delay);
  }

  #reconnect(run: Run): void {
    if (run.stopping) return;
    const session = this.#newSession(run);
    run.session = session;
    session.open(run.life.signal).then(
      () => {
        if (run.stopping) return;
        run.attempt = 0;
        run.reconnects++;
        this.#ctx.log.info({ nick: session.nick, queued: run.queue.stats().queued }, 'reconnected');
        run.queue.attach((line) => session.write(line));
      },
      (error: unknown) => {
        if (run.session === session) run.session = undefined;
        if (run.stopping) return;
        const hx = error as { code?: string; message?: string };
        this.#ctx.log.warn({ attempt: run.attempt, code: hx.code, reason: hx.message }, 'reconnect failed');
        this.#guard(run, () => this.#scheduleReconnect(run));
      },
    );
  }

  #send(command: 'PRIVMSG' | 'NOTICE', target: string, text: string): number {
    const run = this.#run;
    if (run === undefined || run.stopping) throw new Error(`irc service ${this.#ctx.name} is not running`);
    // to a channel: relayed content, kept across reconnects; to a nick: only on this connection
    return run.queue.push(command, target, text, 'relay');
  }

  /** Finishes commands and queued lines (within flushTimeout), sends QUIT and waits for the server to close. */
  stop(signal: AbortSignal): Promise<void> {
    const run = this.#run;
    if (run === undefined) return Promise.resolve();
    this.#stopping ??= this.#stopRun(run, signal).finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
    return this.#stopping;
  }

  async #stopRun(run: Run, signal: AbortSignal): Promise<void> {
    const { config, log } = this.#ctx;
    run.closing = true;
    run.relay.detach();
    if (run.reconnectTimer !== undefined) this.#clock.clearTimeout(run.reconnectTimer);
    run.reconnectTimer = undefined;
    const session = run.session;
    if (session?.ready === true && !signal.aborted) {
      const deadline = this.#clock.now() + config.flushTimeout;
      const inflight = run.commands?.settled();
      if (inflight !== undefined) await this.#within(inflight, config.flushTimeout, signal);
      run.stopping = true;
      const queued = run.queue.stats().queued;
      if (queued > 0) log.info({ queued }, 'sending queued lines before quitting');
      await run.queue.drained(Math.max(0, deadline - this.#clock.now()), signal);
    }
    run.stopping = true;
    run.queue.clear(session?.ready === true ? 'not sent within flushTimeout' : 'stopped while disconnected');
    if (session !== undefined) await session.quit(config.quitMessage, config.quitTimeout, signal);
    this.#teardown(run, 'stopped');
    log.debug('quit');
  }

  /** Lets go of everything a run holds; lines still queued are dropped and logged. */
  #teardown(run: Run, why: string): void {
    run.closing = true;
    run.stopping = true;
    run.life.abort(new Error(why));
    if (run.reconnectTimer !== undefined) this.#clock.clearTimeout(run.reconnectTimer);
    run.reconnectTimer = undefined;
    run.relay.detach();
    run.session?.destroy();
    run.session = undefined;
    run.queue.clear(why);
    if (this.#run === run && this.#stopping === undefined) this.#run = undefined;
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const onAbort = (): void => {
        this.#clock.clearTimeout(timer);
        reject(signal.reason as Error);
      };
      const timer = this.#clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #within(promise: Promise<unknown>, ms: number, signal: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const both = AbortSignal.any([signal, controller.signal]);
    await Promise.race([promise, this.#sleep(ms, both).catch(() => undefined)]);
    controller.abort();
  }

  /** `irc://host:port` (ircs:// with TLS) while running. */
  address(): string | undefined {
    if (this.#run === undefined) return undefined;
    const { host, port } = this.#server;
    return `${this.#ctx.config.tls === false ? 'irc' : 'ircs'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** What dependents get from `ctx.peer(name)`. */
  handle(): IrcHandle {
    return this.#handle;
  }
}
