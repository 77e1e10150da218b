import { Client, type IrcMessage, type MessageEvent } from 'irc-framework';
import type { Logger } from 'pino';
import { HendrixError, type PathSegment, type SourceLocation } from '../../src/errors/hendrix-error.js';
import { ircCodes } from './codes.js';

/** A code of this kind's table. */
type ErrorCode = keyof typeof ircCodes;
import type { Clock, TimerHandle } from '../../src/runtime/clock.js';
import { ircError } from './errors.js';
import { NickChooser } from './nicks.js';
import type { IrcConfig } from './schema.js';
import { ChannelJoins, type ChannelSpec } from './channel-joins.js';
import { JOIN_REFUSALS, NETWORK_CODES, describeSocketError } from './protocol.js';
import type { CtcpRequest, IncomingMessage } from './incoming.js';
import { createTransportClass, type TransportTls } from './transport.js';

export type { ChannelSpec } from './channel-joins.js';

/** What a session needs from the service. */
export interface SessionOptions {
  readonly config: IrcConfig;
  readonly host: string;
  readonly port: number;
  readonly tls: TransportTls | undefined;
  readonly channels: readonly ChannelSpec[];
  readonly service: string;
  /** Where a config path is in the manifest, for error messages. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
  readonly log: Logger;
  readonly clock: Clock;
  /** How long after a kick the bot joins the channel again (`reconnect.initial` now). */
  rejoinDelay(): number;
  /** A message arrived (only once the session is ready). */
  onMessage(message: IncomingMessage): void;
  /** A CTCP request arrived (only once the session is ready); the service answers it or not. */
  onCtcp(request: CtcpRequest): void;
  /** The connection was lost after the session was ready (not after quit() or destroy()). */
  onLost(reason: string): void;
}

/** Whether a failed attempt is worth retrying during start: only network trouble is. */
export function isRetryable(error: unknown): boolean {
  return error instanceof HendrixError && error.code === 'HX_ERR_IRC_CONNECT';
}

/** milliseconds → irc-framework's whole seconds (0 stays 0: off). */
const seconds = (ms: number): number => (ms <= 0 ? 0 : Math.max(1, Math.round(ms / 1000)));

/**
 * One connection to the server: connect, register (password, SASL, a free nick), join every
 * channel; `open()` resolves then. Afterwards it passes messages on and reports the loss of
 * the connection once. The service makes a new session for every (re)connect.
 */
export class IrcSession {
  readonly #o: SessionOptions;
  readonly #client: Client;
  readonly #nicks: NickChooser;
  readonly #joins: ChannelJoins;
  #registered = false;
  #loggedIn = false;
  #ready = false;
  #closed = false;
  #quitting = false;
  #serverError: string | undefined;
  #tlsError: NodeJS.ErrnoException | undefined;
  #socketError: NodeJS.ErrnoException | undefined;
  #timers = new Set<TimerHandle>();
  #fail: ((error: HendrixError) => void) | undefined;
  #closedWaiters: (() => void)[] = [];

  constructor(options: SessionOptions) {
    const session = this;
    this.#o = options;
    this.#nicks = new NickChooser(options.config.nick, options.config.altNicks);
    this.#client = new Client();
    this.#joins = new ChannelJoins(
      {
        raw: (line) => this.#client.raw(line),
        get ready() {
          return session.ready;
        },
        setTimer: (fn, ms) => void this.#setTimer(fn, ms),
        refusal: (channel, why) => this.#error('HX_ERR_IRC_JOIN', `cannot join ${channel.name}: ${why}`, ['channels', channel.index]),
        lost: (channel) => this.#error('HX_ERR_IRC_CONNECT', `the connection closed before ${channel.name} was joined`, ['server']),
        rejoinDelay: () => options.rejoinDelay(),
        log: options.log,
      },
      options.channels,
    );
  }

  /** The channels of this connection: joined at registration, changed by a reload. */
  get channels(): ChannelJoins {
    return this.#joins;
  }

  /** The bot's nick on this connection. */
  get nick(): string {
    return this.#registered ? this.#client.user.nick : this.#nicks.current.nick;
  }

  /** Whether registered and joined to every channel, and not closed since. */
  get ready(): boolean {
    return this.#ready && !this.#closed;
  }

  /** Connects, registers and joins; resolves when ready, rejects with a HendrixError (and closes). */
  open(signal: AbortSignal): Promise<void> {
    const { config, host, port, log } = this.#o;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error: HendrixError | undefined): void => {
        if (settled) return;
        settled = true;
        this.#fail = undefined;
        this.#clearTimer(deadline);
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) {
          this.#ready = true;
          resolve();
        } else {
          this.destroy();
          reject(error);
        }
      };
      this.#fail = (error) => settle(error);
      this.#succeed = () => settle(undefined);
      const onAbort = (): void => settle(this.#error('HX_ERR_IRC_CONNECT', `gave up connecting to ${host}:${port}: ${reasonOf(signal)}`, ['server']));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      // a server that accepts the connection but never finishes registration or the joins
      const deadline =
        config.pingTimeout > 0
          ? this.#setTimer(() => settle(this.#error('HX_ERR_IRC_CONNECT', `${host}:${port} did not finish registration and joins within ${config.pingTimeout} ms`, ['server'])), config.pingTimeout)
          : undefined;
      this.#wire();
      log.debug({ server: `${host}:${port}`, tls: this.#o.tls !== undefined, nick: this.#nicks.current.nick }, 'connecting');
      this.#client.connect({
        host,
        port,
        nick: this.#nicks.current.nick,
        username: config.username ?? config.nick,
        gecos: config.realname,
        ...(config.password === undefined ? {} : { password: config.password }),
        // an account object without credentials keeps irc-framework from sending the server password as SASL
        account: config.sasl === undefined ? {} : { account: config.sasl.account, password: config.sasl.password },
        sasl_disconnect_on_fail: false,
        auto_reconnect: false,
        ping_interval: seconds(config.pingInterval),
        ping_timeout: seconds(config.pingTimeout),
        // no automatic VERSION answer: it would go straight to the socket, past flood control
        // and the per-user rate limit; every CTCP request comes as 'ctcp request' instead
        version: null,
        encoding: 'utf8',
        transport: createTransportClass({
          tls: this.#o.tls,
          idleTimeout: config.pingTimeout > 0 ? config.pingInterval + config.pingTimeout : 0,
          log,
          clock: this.#o.clock,
          onSocketError: (error, duringHandshake) => {
            if (duringHandshake && !NETWORK_CODES.has(error.code ?? '')) this.#tlsError = error;
            else this.#socketError = error;
            log.debug({ code: error.code, reason: error.message }, 'socket error');
          },
        }),
      });
    });
  }

  #succeed: () => void = () => undefined;

  /** Writes one raw line; false when the connection is not up. */
  write(line: string): boolean {
    if (!this.ready) return false;
    return this.#client.connection.write(line) === true;
  }

  /** Sends QUIT and waits up to `ms` for the server to close; forces the close after that or on abort. */
  async quit(message: string, ms: number, signal: AbortSignal): Promise<void> {
    if (this.#closed) return;
    this.#quitting = true;
    const closed = new Promise<void>((resolve) => this.#closedWaiters.push(resolve));
    if (signal.aborted || !this.#client.connection.connected) {
      // forced: the QUIT goes out with the socket's last write, nothing is waited for
      this.#client.connection.transport?.writeLine(`QUIT :${message}`);
      this.destroy();
      return;
    }
    this.#o.log.debug({ message }, 'quitting');
    this.#client.quit(message);
    let timer: TimerHandle | undefined;
    const late = new Promise<void>((resolve) => {
      timer = this.#setTimer(resolve, ms);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([closed, late]);
    this.#clearTimer(timer);
    this.destroy();
  }

  /** Closes the connection at once and lets go of every timer and listener. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) this.#o.clock.clearTimeout(timer);
    this.#timers.clear();
    const connection = this.#client.connection;
    connection.clearTimers();
    connection.transport?.disposeSocket();
    connection.clearTimers();
    this.#client.removeAllListeners();
    this.#joins.abandon();
    for (const resolve of this.#closedWaiters.splice(0)) resolve();
  }

  #wire(): void {
    const client = this.#client;
    const log = this.#o.log;
    client.connection.on('message', (message: IrcMessage) => this.#onLine(message));
    client.on('sasl failed', (event: { reason?: string; message?: string }) => {
      const why = event.reason === 'capability_missing' ? 'the server offers no SASL' : `${event.reason ?? 'refused'}${event.message ? `: ${event.message}` : ''}`;
      this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', `SASL login as ${this.#o.config.sasl?.account ?? '?'} failed: ${why}`, ['sasl']));
    });
    client.on('loggedin', () => (this.#loggedIn = true));
    client.on('privmsg', (event: MessageEvent) => this.#onMessage(event, false));
    client.on('action', (event: MessageEvent) => this.#onMessage(event, true));
    client.on('ctcp request', (event: { nick?: unknown; target?: unknown; message?: unknown }) => this.#onCtcp(event));
    client.on('debug', (text: string) => log.trace({ text }, 'irc-framework'));
    client.on('socket close', () => this.#onSocketClose());
  }

  #onLine(message: IrcMessage): void {
    const { command, params } = message;
    if (command === 'ERROR') {
      this.#serverError = params[params.length - 1] ?? 'closing';
      return;
    }
    if (!this.#registered) return this.#onRegistrationLine(message);
    if (command === 'JOIN' && this.#isMe(message.nick)) return this.#joins.joined(params[0] ?? '');
    const refusal = JOIN_REFUSALS[command];
    if (refusal !== undefined) return this.#joins.refused(params[1] ?? '', `${refusal}${params[2] ? ` (${params[params.length - 1]})` : ''}`);
    if (command === 'KICK' && this.#isMe(params[1])) this.#joins.kicked(params[0] ?? '', message.nick, params[2] ?? '');
  }

  #onRegistrationLine(message: IrcMessage): void {
    const { command, params } = message;
    const log = this.#o.log;
    const reason = params[params.length - 1] ?? '';
    switch (command) {
      case '001':
        return this.#welcomed();
      case '433':
      case '437': {
        const taken = this.#nicks.current.nick;
        const next = this.#nicks.next();
        if (next === undefined) {
          this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', `every nick is taken: ${this.#nicks.tried.join(', ')}`, ['nick']));
          return;
        }
        log.info({ taken, trying: next.nick }, 'nick taken, trying another');
        this.#client.changeNick(next.nick);
        this.#client.user.nick = next.nick;
        return;
      }
      case '432': {
        const refused = this.#nicks.current;
        const next = this.#nicks.refused();
        if (next === undefined) {
          this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', `the server refused the nick ${refused.nick}: ${reason}`, refused.path ?? ['nick']));
          return;
        }
        log.info({ refused: refused.nick, trying: next.nick }, 'nick refused, trying a shorter one');
        this.#client.changeNick(next.nick);
        this.#client.user.nick = next.nick;
        return;
      }
      case '464':
        this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', `the server refused the password: ${reason}`, ['password']));
        return;
      case '465':
        this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', `the server bans this bot: ${reason}`, ['server']));
        return;
      default:
    }
  }

  #welcomed(): void {
    const { config, log } = this.#o;
    this.#registered = true;
    if (config.sasl !== undefined && !this.#loggedIn) {
      this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', `not logged in as ${config.sasl.account}: the server finished registration without SASL`, ['sasl']));
      return;
    }
    log.debug({ nick: this.#client.user.nick }, 'registered');
    // ready once in every channel; a refusal fails the start (a closed connection fails it first)
    this.#joins.join(this.#joins.wanted).then(
      () => this.#succeed(),
      (error: HendrixError) => this.#fail?.(error),
    );
  }

  #onMessage(event: MessageEvent, action: boolean): void {
    if (!this.ready || typeof event.message !== 'string' || typeof event.nick !== 'string' || event.nick === '') return;
    const isPrivate = !/^[#&!+]/.test(event.target ?? '');
    this.#o.onMessage({
      nick: event.nick,
      ident: event.ident ?? '',
      hostname: event.hostname ?? '',
      target: event.target,
      channel: isPrivate ? undefined : event.target,
      text: event.message,
      action,
      time: this.#o.clock.now(),
    });
  }

  #onCtcp(event: { nick?: unknown; target?: unknown; message?: unknown }): void {
    if (!this.ready || typeof event.nick !== 'string' || event.nick === '' || typeof event.message !== 'string') return;
    this.#o.onCtcp({ nick: event.nick, target: typeof event.target === 'string' ? event.target : '', message: event.message });
  }

  #onSocketClose(): void {
    if (this.#closed) return;
    const wasReady = this.#ready;
    const quitting = this.#quitting;
    const reason = this.#closeReason();
    this.destroy();
    if (quitting) return;
    if (wasReady) {
      this.#o.onLost(reason);
      return;
    }
    const { host, port } = this.#o;
    if (this.#tlsError !== undefined) {
      const tls = this.#tlsError;
      this.#fail?.(this.#error('HX_ERR_IRC_TLS', `TLS handshake with ${host}:${port} failed: ${tls.code ?? ''}${tls.code ? ' ' : ''}(${tls.message})`, this.#o.config.tls === false ? ['server'] : ['tls'], tls));
      return;
    }
    if (this.#serverError !== undefined && !this.#registered) {
      const password = /password/i.test(this.#serverError);
      const message = password ? `the server refused the password: ${this.#serverError}` : `the server closed the connection during registration: ${this.#serverError}`;
      this.#fail?.(this.#error('HX_ERR_IRC_REGISTER', message, password ? ['password'] : ['server']));
      return;
    }
    this.#fail?.(this.#error('HX_ERR_IRC_CONNECT', `cannot connect to ${host}:${port}: ${reason}`, ['server'], this.#socketError));
  }

  #closeReason(): string {
    if (this.#socketError !== undefined) return describeSocketError(this.#socketError);
    if (this.#serverError !== undefined) return `the server said: ${this.#serverError}`;
    return 'the server closed the connection';
  }

  #isMe(nick: string | undefined): boolean {
    return nick !== undefined && nick.toLowerCase() === this.#client.user.nick.toLowerCase();
  }

  #error(code: ErrorCode, message: string, path: readonly PathSegment[], cause?: unknown): HendrixError {
    return ircError({ name: this.#o.service, locate: this.#o.locate }, code, path, message, cause);
  }

  #setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = this.#o.clock.setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  #clearTimer(timer: TimerHandle | undefined): void {
    if (timer === undefined) return;
    this.#o.clock.clearTimeout(timer);
    this.#timers.delete(timer);
  }
}

function reasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  return typeof reason === 'string' ? reason : 'aborted';
}
