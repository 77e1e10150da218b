import type { Logger } from 'pino';
import type { ServiceContext } from '../../src/kinds/contract.js';
import { loadCommandsModule, type LoadedCommands } from './commands-load.js';
import { firstLine } from './errors.js';
import type { IncomingMessage } from './incoming.js';

/** What a command handler is told about the message that called it. */
export interface IrcCommandMessage {
  /** The command name, lower case, without the prefix: `deploy` for `!deploy web now`. */
  readonly command: string;
  /** The words after the command: `['web', 'now']`. */
  readonly args: readonly string[];
  /** Everything after the command, spacing kept: `web now`. */
  readonly argText: string;
  /** The whole message as sent. */
  readonly text: string;
  /** Who sent it. */
  readonly nick: string;
  readonly ident: string;
  readonly hostname: string;
  /** The channel it was said in; undefined in a private message. */
  readonly channel: string | undefined;
  /** Whether it came as a private message. */
  readonly private: boolean;
  /** When it arrived (ms since the epoch). */
  readonly time: number;
}

/** Sends text back where the command came from (the channel, or the sender in private); returns the lines queued. */
export type IrcReply = (text: string) => number;

/** What a command handler can reach besides the message. */
export interface IrcCommandContext {
  /** The bot service's logger, bound to `{ command }`. */
  readonly log: Logger;
  /** The bot's service name. */
  readonly service: string;
  /** The bot's current nick. */
  readonly nick: string;
  /** A declared dependency of the bot (dependsOn, or a hub its relay names), as ctx.peer() gives it. */
  peer<T = unknown>(name: string): T;
  /** Queues a PRIVMSG to any channel or nick (through flood control); returns the lines queued. */
  say(target: string, text: string): number;
  /** Queues a NOTICE. */
  notice(target: string, text: string): number;
}

/**
 * A command handler: `export function deploy(message, reply, ctx)` answers `!deploy`. What it
 * returns (or resolves to), when a string, is replied too.
 */
export type IrcCommandHandler = (message: IrcCommandMessage, reply: IrcReply, ctx: IrcCommandContext) => unknown;

/** How a dispatched command reaches the rest of the bot. */
export interface CommandHost {
  readonly nick: string;
  say(target: string, text: string): number;
  notice(target: string, text: string): number;
}

/** What a bot's commands reach: its name, logger, peers, and where its manifest is. */
export type CommandsContext = Pick<ServiceContext, 'name' | 'log' | 'peer' | 'baseDir' | 'locate'>;

/** What the service gives its commands besides the context. */
export interface CommandsOptions {
  /** The command prefix now (`commandPrefix`, which a reload may change). */
  readonly prefix: () => string;
  /**
   * The commands running now, shared by every version of the module a reload loads: stop
   * waits for those of the versions before too.
   */
  readonly inflight: Set<Promise<void>>;
}

/**
 * The commands module of a bot: each exported function (or each function of a default-exported
 * object) answers `<prefix><name>`. `help` lists them unless the module has its own. A reload
 * loads a new one when the file or its content changed; commands already running finish with
 * the handlers they started with.
 */
export class IrcCommands {
  /** The module loaded: file, content digest, handlers. */
  readonly module: LoadedCommands;
  readonly #ctx: CommandsContext;
  readonly #options: CommandsOptions;

  private constructor(module: LoadedCommands, ctx: CommandsContext, options: CommandsOptions) {
    this.module = module;
    this.#ctx = ctx;
    this.#options = options;
  }

  /**
   * Loads `file` (relative to the manifest); a missing module or a wrong shape is
   * HX_ERR_IRC_COMMANDS. Returns `current` itself when `file` is its module, unchanged.
   */
  static async load(ctx: CommandsContext, file: string, options: CommandsOptions, current?: IrcCommands): Promise<IrcCommands> {
    const module = await loadCommandsModule(ctx, file, current?.module);
    return current !== undefined && module === current.module ? current : new IrcCommands(module, ctx, options);
  }

  /** The command names, sorted. */
  get names(): string[] {
    return [...this.module.handlers.keys()].sort();
  }

  /**
   * Runs the command `message` calls, if it is one; returns whether it was. `allow` is asked
   * only for a command the bot knows (the per-user rate limit); when it says no, the command
   * is not run.
   */
  dispatch(message: IncomingMessage, host: CommandHost, allow: (nick: string, command: string) => boolean = () => true): boolean {
    const prefix = this.#options.prefix();
    if (message.action || !message.text.startsWith(prefix)) return false;
    const rest = message.text.slice(prefix.length);
    const match = /^(\S+)\s*(.*)$/s.exec(rest);
    if (match === null) return false;
    const name = (match[1] as string).toLowerCase();
    const argText = (match[2] ?? '').trim();
    const handler = this.module.handlers.get(name) ?? (name === 'help' ? this.#help : undefined);
    if (handler === undefined) return false;
    if (!allow(message.nick, name)) return true;
    const replyTo = message.channel ?? message.nick;
    const reply: IrcReply = (text) => host.say(replyTo, String(text));
    const log = this.#ctx.log.child({ command: name });
    const command: IrcCommandMessage = Object.freeze({
      command: name,
      args: Object.freeze(argText === '' ? [] : argText.split(/\s+/)),
      argText,
      text: message.text,
      nick: message.nick,
      ident: message.ident,
      hostname: message.hostname,
      channel: message.channel,
      private: message.channel === undefined,
      time: message.time,
    });
    const ctx: IrcCommandContext = Object.freeze({
      log,
      service: this.#ctx.name,
      get nick() {
        return host.nick;
      },
      peer: <T>(peerName: string): T => this.#ctx.peer<T>(peerName),
      say: (target: string, text: string) => host.say(target, text),
      notice: (target: string, text: string) => host.notice(target, text),
    });
    log.debug({ nick: message.nick, channel: message.channel, args: command.args }, 'command');
    const run = (async () => {
      try {
        const result: unknown = await handler(command, reply, ctx);
        if (typeof result === 'string' && result !== '') reply(result);
      } catch (error) {
        log.error({ code: 'HX_ERR_IRC_COMMAND_FAILED', err: error, nick: message.nick, channel: message.channel }, `command ${name} failed: ${firstLine(error)}`);
        try {
          reply(`${prefix}${name} failed`);
        } catch {
          // the bot is stopping: nobody to tell
        }
      }
    })();
    const inflight = this.#options.inflight;
    inflight.add(run);
    void run.finally(() => inflight.delete(run));
    return true;
  }

  readonly #help: IrcCommandHandler = () => `commands: ${this.names.map((n) => `${this.#options.prefix()}${n}`).join(' ')}`;
}
