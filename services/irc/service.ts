import type { Figure, Service, ServiceContext } from '../../src/kinds/contract.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import { IrcCommands, type CommandHost } from './commands.js';
import { IrcConnection, whereOf, type ConnectionTarget } from './connection.js';
import { ctcpReply } from './ctcp.js';
import { OutgoingQueue } from './outgoing-queue.js';
import type { IrcHandle, IrcStats } from './handle.js';
import { IrcRelay } from './relay.js';
import { reloadIrc, type ReloadHost, type ReloadRun } from './reload.js';
import type { IrcConfig } from './schema.js';
import { channelSpecs, parseServer, queueLimits } from './settings.js';
import { readTlsCa } from './tls-ca.js';
import type { CtcpRequest, IncomingMessage } from './incoming.js';
import type { TransportTls } from './transport.js';
import { UserRateLimiter } from './user-rate.js';
import { sleep } from './waits.js';
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
interface Run extends ReloadRun {
  connection: IrcConnection | undefined;
  /** Stop began: no new commands or relayed lines, but replies of running commands still go out. */
  closing: boolean;
  /** Nothing more is queued. */
  stopping: boolean;
}

/**
 * The `irc` kind's service: a bot on one IRC server. Ready once registered and joined to every
 * channel; afterwards a lost connection is no crash — it reconnects with backoff, rejoins and
 * sends what was queued meanwhile. Outgoing lines go through a token bucket; stop sends QUIT.
 * A reload applies a new config on the same connection (a new one only for a new server, nick,
 * TLS or credentials); a replaced hub is rebound.
 */
export class IrcService implements Service {
  readonly #ctx: ServiceContext<IrcConfig>;
  readonly #clock: Clock;
  readonly #handle: IrcHandle;
  /** The config in effect: ctx.config at first, then what the last reload applied. */
  #config: IrcConfig;
  #run: Run | undefined;
  #stopping: Promise<void> | undefined;
  /** Reloads and rebinds, one at a time. */
  #changes: Promise<unknown> = Promise.resolve();

  constructor(ctx: ServiceContext<IrcConfig>, options: IrcServiceOptions = {}) {
    this.#ctx = ctx;
    this.#clock = options.clock ?? systemClock;
    this.#config = ctx.config;
    const service = this;
    this.#handle = Object.freeze({
      say: (target: string, text: string) => service.#send('PRIVMSG', target, text),
      notice: (target: string, text: string) => service.#send('NOTICE', target, text),
      get nick() {
        const session = service.#run?.connection?.session;
        return session?.ready ? session.nick : undefined;
      },
      get connected() {
        return service.#run?.connection?.session?.ready ?? false;
      },
      stats: (): IrcStats => {
        const run = service.#run;
        const queue = run?.queue.stats() ?? { queued: 0, sent: 0, dropped: 0, expired: 0, orphaned: 0 };
        return { ...queue, limited: run?.limiter.limited ?? 0, reconnects: run?.connection?.reconnects ?? 0 };
      },
    });
  }

  /** Loads the commands module and the TLS CA, wires the relay, connects; resolves once joined everywhere. */
  async start(signal: AbortSignal): Promise<void> {
    const { log } = this.#ctx;
    const config = this.#config;
    const run: Run = {
      queue: new OutgoingQueue({ ...queueLimits(config), clock: this.#clock, log }),
      limiter: new UserRateLimiter({ ...config.commandRate, clock: this.#clock, log }),
      inflight: new Set(),
      relay: undefined,
      commands: undefined,
      connection: undefined,
      closing: false,
      stopping: false,
    };
    this.#run = run;
    this.#stopping = undefined;
    try {
      if (config.commands !== undefined) run.commands = await this.#loadCommands(run, config.commands);
      const tls = await this.#loadTls(config);
      signal.throwIfAborted();
      run.relay = this.#prepareRelay(config);
      run.relay.subscribe();
      const connection = this.#connection(run, this.#target(config, tls));
      run.connection = connection;
      await connection.open(signal);
    } catch (error) {
      this.#teardown(run, 'start failed');
      throw error;
    }
    const { target, session } = run.connection;
    log.info({ server: whereOf(target), tls: target.tls !== undefined, nick: session?.nick, channels: target.channels.map((c) => c.name) }, 'connected');
  }

  /**
   * Applies `next` in place: what it needs (the commands module, the TLS CA, the hubs of the
   * relay) is loaded and checked first; then channels are joined (or the connection replaced,
   * for a new server, nick, TLS or credentials), the relay, commands and limits switched, and
   * removed channels parted. Rejecting leaves the bot on its previous config.
   */
  reload(next: unknown, signal: AbortSignal): Promise<void> {
    return this.#serially(async () => {
      const run = this.#run;
      if (run === undefined || run.connection === undefined || run.closing) {
        // not running: the next start uses it
        this.#config = next as IrcConfig;
        return;
      }
      await reloadIrc(this.#reloadHost(run), run, run.connection, next as IrcConfig, signal);
    });
  }

  /**
   * Moves the relay to the new instance of `peer`, a hub it uses that a reload replaced:
   * unsubscribes from the old handle, subscribes on `ctx.peer(peer)`. Commands reach their
   * peers through ctx.peer() at each call: they hold nothing to move.
   */
  rebind(peer: string, signal: AbortSignal): Promise<void> {
    return this.#serially(async () => {
      const run = this.#run;
      if (run?.relay === undefined || run.closing || !run.relay.uses(peer)) return;
      const next = this.#prepareRelay(this.#config);
      signal.throwIfAborted();
      this.#switchRelay(run, next);
      this.#ctx.log.info({ peer }, 'rebound');
    });
  }

  /** What reload.ts works with: this service's config, loaders and relay switch, for `run`. */
  #reloadHost(run: Run): ReloadHost {
    return {
      ctx: this.#ctx,
      config: this.#config,
      apply: (next) => void (this.#config = next),
      loadCommands: (file, current) => this.#loadCommands(run, file, current),
      loadTls: (config) => this.#loadTls(config),
      target: (config, tls) => this.#target(config, tls),
      prepareRelay: (config) => this.#prepareRelay(config),
      switchRelay: (next) => this.#switchRelay(run, next),
    };
  }

  /** Loads the commands module `file` for `run`; `current` when that is the same file, unchanged. */
  #loadCommands(run: Run, file: string, current?: IrcCommands): Promise<IrcCommands> {
    return IrcCommands.load(this.#ctx, file, { prefix: () => this.#config.commandPrefix, inflight: run.inflight }, current);
  }

  /** The TLS settings of `config`, with `tls.ca` read now (the file may have changed since the plan checked it). */
  async #loadTls(config: IrcConfig): Promise<TransportTls | undefined> {
    const tls = config.tls;
    if (tls === false) return undefined;
    const ca = tls.ca === undefined ? undefined : await readTlsCa(this.#ctx, tls.ca);
    return { ca, verify: tls.verify, servername: tls.servername, handshakeTimeout: tls.handshakeTimeout };
  }

  /** Where `config` connects to, as whom, and which channels it joins. */
  #target(config: IrcConfig, tls: TransportTls | undefined): ConnectionTarget {
    return { config, ...parseServer(config.server, config.tls !== false), tls, channels: channelSpecs(config) };
  }

  /** The relay of `config`, every hub reached, nothing subscribed yet. */
  #prepareRelay(config: IrcConfig): IrcRelay {
    return IrcRelay.prepare(this.#ctx, config.relay, (command, channel, text) => this.#send(command, channel, text));
  }

  /**
   * Replaces the relay of `run` by `next` in one synchronous step (no hub message falls between
   * the two: none is delivered twice or lost); when `next` cannot subscribe, the old one stays.
   */
  #switchRelay(run: Run, next: IrcRelay): void {
    const old = run.relay;
    old?.detach();
    try {
      next.subscribe();
    } catch (error) {
      old?.subscribe();
      throw error;
    }
    run.relay = next;
  }

  #serially(change: () => Promise<void>): Promise<void> {
    const done = this.#changes.then(change);
    this.#changes = done.catch(() => undefined);
    return done;
  }

  #connection(run: Run, target: ConnectionTarget): IrcConnection {
    return new IrcConnection(
      {
        ctx: this.#ctx,
        clock: this.#clock,
        queue: run.queue,
        limiter: run.limiter,
        config: () => this.#config,
        onMessage: (message) => this.#onMessage(run, message),
        onCtcp: (request) => this.#onCtcp(run, request),
        onFatal: (error) => {
          this.#teardown(run, 'connection given up');
          this.#ctx.crashed(error);
        },
      },
      target,
    );
  }

  #onMessage(run: Run, message: IncomingMessage): void {
    if (run.closing) return;
    run.relay?.onMessage(message);
    if (run.commands === undefined) return;
    const prefix = this.#config.commandPrefix;
    run.commands.dispatch(message, this.#commandHost(run), (nick, command) => run.limiter.allow(nick, `${prefix}${command}`));
  }

  /** Answers the CTCP requests the bot knows (VERSION, PING, TIME, CLIENTINFO), within the sender's commandRate. */
  #onCtcp(run: Run, request: CtcpRequest): void {
    if (run.closing) return;
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
        return run.connection?.session?.nick ?? '';
      },
      say: (target, text) => send('PRIVMSG', target, text),
      notice: (target, text) => send('NOTICE', target, text),
    };
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
    const { log } = this.#ctx;
    const config = this.#config;
    run.closing = true;
    run.relay?.detach();
    run.connection?.close();
    const session = run.connection?.session;
    if (session?.ready === true && !signal.aborted) {
      const deadline = this.#clock.now() + config.flushTimeout;
      if (run.inflight.size > 0) await this.#within(Promise.allSettled([...run.inflight]), config.flushTimeout, signal);
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
    run.relay?.detach();
    run.connection?.destroy(why);
    run.queue.clear(why);
    if (this.#run === run && this.#stopping === undefined) this.#run = undefined;
  }

  async #within(promise: Promise<unknown>, ms: number, signal: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const both = AbortSignal.any([signal, controller.signal]);
    await Promise.race([promise, sleep(this.#clock, ms, both).catch(() => undefined)]);
    controller.abort();
  }

  /** `irc://host:port` (ircs:// with TLS) while running. */
  address(): string | undefined {
    const target = this.#run?.connection?.target;
    if (target === undefined) return undefined;
    return `${target.tls === undefined ? 'irc' : 'ircs'}://${whereOf(target)}`;
  }

  /** Whether it is connected now, in how many channels, what waits to be sent, and what it sent and reconnected. */
  figures(): readonly Figure[] {
    const run = this.#run;
    const session = run?.connection?.session;
    const ready = session?.ready === true;
    const queue = run?.queue.stats();
    return [
      { name: 'irc_connected', type: 'gauge', help: '1 while registered on the server, 0 otherwise.', value: ready ? 1 : 0 },
      { name: 'irc_channels', type: 'gauge', help: 'Channels the bot is in now.', value: ready ? session.channels.count : 0 },
      { name: 'irc_queued_lines', type: 'gauge', help: 'Outgoing lines waiting for the flood control or a connection.', value: queue?.queued ?? 0 },
      { name: 'irc_reconnects_total', type: 'counter', help: 'Successful reconnects after a lost connection (or a reload that needed a new one).', value: run?.connection?.reconnects ?? 0 },
      { name: 'irc_lines_sent_total', type: 'counter', help: 'Lines (PRIVMSG, NOTICE) sent to the server.', value: queue?.sent ?? 0 },
    ];
  }

  /** What dependents get from `ctx.peer(name)`. */
  handle(): IrcHandle {
    return this.#handle;
  }
}
