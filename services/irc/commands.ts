import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import type { ServiceContext } from '../../src/kinds/contract.js';
import { firstLine, ircError, type IrcErrorSite } from './errors.js';
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

/** A command name: what can follow the prefix. */
const NAME = /^[A-Za-z][\w-]*$/;

/** What loading a commands module needs: the bot's name, the manifest folder, where `commands` is written. */
export interface CommandsSite extends IrcErrorSite {
  readonly baseDir: string;
}

/**
 * Imports the commands module `file` (relative to the manifest) and returns its handlers by
 * lower-case command name: each exported function, or each function of a default-exported
 * object. A missing module, one that fails to load, or a wrong shape is HX_ERR_IRC_COMMANDS
 * at `commands`. Start and the plan's provision step both load through here.
 */
export async function loadCommandHandlers(site: CommandsSite, file: string): Promise<Map<string, IrcCommandHandler>> {
  const path = resolve(site.baseDir, file);
  const fail = (message: string, cause?: unknown): HendrixError => ircError(site, 'HX_ERR_IRC_COMMANDS', ['commands'], message, cause);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(path)) throw fail(`cannot find the commands module ${path}`, error);
    throw fail(`cannot load the commands module ${path}: ${firstLine(error)}`, error);
  }
  const handlers = new Map<string, IrcCommandHandler>();
  const add = (name: string, value: unknown, where: string): void => {
    if (typeof value !== 'function') throw fail(`${path}: ${where} is not a function (a command handler is (message, reply, ctx) => reply text or nothing)`);
    if (!NAME.test(name)) throw fail(`${path}: ${where} is not a command name (a letter, then letters, digits, _ or -)`);
    handlers.set(name.toLowerCase(), value as IrcCommandHandler);
  };
  for (const [name, value] of Object.entries(module)) {
    if (name === 'default') {
      if (typeof value === 'object' && value !== null) for (const [key, fn] of Object.entries(value)) add(key, fn, `default.${key}`);
      else add('default', value, 'the default export');
      continue;
    }
    add(name, value, `export \`${name}\``);
  }
  if (handlers.size === 0) throw fail(`${path} exports no command: export function ping(message, reply, ctx) { return 'pong'; }`);
  return handlers;
}

/**
 * The commands module of a bot, loaded once per start: each exported function (or each
 * function of a default-exported object) answers `<prefix><name>`. `help` lists them unless the
 * module has its own.
 */
export class IrcCommands {
  readonly #handlers: ReadonlyMap<string, IrcCommandHandler>;
  readonly #ctx: ServiceContext<{ commandPrefix: string }>;
  readonly #inflight = new Set<Promise<void>>();

  private constructor(handlers: Map<string, IrcCommandHandler>, ctx: ServiceContext<{ commandPrefix: string }>) {
    this.#handlers = handlers;
    this.#ctx = ctx;
  }

  /** Loads `file` (relative to the manifest); a missing module or a wrong shape is HX_ERR_IRC_COMMANDS. */
  static async load(ctx: ServiceContext<{ commands?: string | undefined; commandPrefix: string }>, file: string): Promise<IrcCommands> {
    const handlers = await loadCommandHandlers(ctx, file);
    return new IrcCommands(handlers, ctx as unknown as ServiceContext<{ commandPrefix: string }>);
  }

  /** The command names, sorted. */
  get names(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  /**
   * Runs the command `message` calls, if it is one; returns whether it was. `allow` is asked
   * only for a command the bot knows (the per-user rate limit); when it says no, the command
   * is not run.
   */
  dispatch(message: IncomingMessage, host: CommandHost, allow: (nick: string, command: string) => boolean = () => true): boolean {
    const prefix = this.#ctx.config.commandPrefix;
    if (message.action || !message.text.startsWith(prefix)) return false;
    const rest = message.text.slice(prefix.length);
    const match = /^(\S+)\s*(.*)$/s.exec(rest);
    if (match === null) return false;
    const name = (match[1] as string).toLowerCase();
    const argText = (match[2] ?? '').trim();
    const handler = this.#handlers.get(name) ?? (name === 'help' ? this.#help : undefined);
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
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
    return true;
  }

  /** Resolves once every command running now has finished. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }

  readonly #help: IrcCommandHandler = () => `commands: ${this.names.map((n) => `${this.#ctx.config.commandPrefix}${n}`).join(' ')}`;
}
