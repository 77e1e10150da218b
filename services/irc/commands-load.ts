import { resolve } from 'node:path';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { digestOf, formatLocation, importVersion, locateImportFailure } from './commands-import.js';
import type { IrcCommandHandler } from './commands.js';
import { firstLine, ircError, type IrcErrorSite } from './errors.js';

/** What loading a commands module needs: the bot's name, the manifest folder, where `commands` is written. */
export interface CommandsSite extends IrcErrorSite {
  readonly baseDir: string;
}

/** A commands module as loaded: its file, the digest of the content imported, its handlers by lower-case name. */
export interface LoadedCommands {
  readonly path: string;
  readonly digest: string;
  readonly handlers: ReadonlyMap<string, IrcCommandHandler>;
}

/** A command name: what can follow the prefix. */
const NAME = /^[A-Za-z][\w-]*$/;

/**
 * Imports the commands module `file` (relative to the manifest) and returns its handlers by
 * lower-case command name: each exported function, or each function of a default-exported
 * object. When `current` is that same file with the same content, it is returned as is (not
 * imported again: the module keeps its instance). A missing module, one that fails to load
 * (the place of the failure in the message: file:line:column) or a wrong shape is
 * HX_ERR_IRC_COMMANDS at `commands`. Start, reload and the plan's provision step load through here.
 */
export async function loadCommandsModule(site: CommandsSite, file: string, current?: LoadedCommands): Promise<LoadedCommands> {
  const path = resolve(site.baseDir, file);
  const fail = (message: string, cause?: unknown, related?: HendrixError['related']): HendrixError => ircError(site, 'HX_ERR_IRC_COMMANDS', ['commands'], message, cause, related);
  let digest: string;
  let module: Record<string, unknown>;
  try {
    digest = await digestOf(path);
    if (current !== undefined && current.path === path && current.digest === digest) return current;
    module = await importVersion(path, digest);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || (code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(path))) throw fail(`cannot find the commands module ${path}`, error);
    const failure = await locateImportFailure(error, path);
    if (failure === undefined) throw fail(`cannot load the commands module ${path}: ${firstLine(error)}`, error);
    const { location, message = firstLine(error) } = failure;
    throw fail(`cannot load the commands module ${path}: ${formatLocation(location)}: ${message}`, error, [{ message: 'the failure is here', location }]);
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
  return { path, digest, handlers };
}

/** The handlers of the commands module `file`, as loadCommandsModule() loads them (for the plan's checks). */
export async function loadCommandHandlers(site: CommandsSite, file: string): Promise<ReadonlyMap<string, IrcCommandHandler>> {
  return (await loadCommandsModule(site, file)).handlers;
}
