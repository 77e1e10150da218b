import type { ServiceContext } from '../../src/kinds/contract.js';
import type { IrcCommands } from './commands.js';
import type { ConnectionTarget, IrcConnection } from './connection.js';
import type { OutgoingQueue } from './outgoing-queue.js';
import type { IrcRelay } from './relay.js';
import type { IrcConfig } from './schema.js';
import { CONNECTION_FIELDS, changedFields, hasChannel, queueLimits } from './settings.js';
import type { TransportTls } from './transport.js';
import type { UserRateLimiter } from './user-rate.js';
import { abortable } from './waits.js';

/** What a running bot holds that a reload changes. */
export interface ReloadRun {
  readonly queue: OutgoingQueue;
  readonly limiter: UserRateLimiter;
  /** The commands running now, of every version of the commands module. */
  readonly inflight: Set<Promise<void>>;
  relay: IrcRelay | undefined;
  commands: IrcCommands | undefined;
  /**
   * The config and commands the last reload replaced. The core rolls a reload back by calling
   * reload() with that very config object: the commands module it had comes back as it was,
   * rather than the file as it is now on disk.
   */
  previous?: { readonly config: IrcConfig; readonly commands: IrcCommands | undefined };
}

/** What the service gives a reload: its config and the means to load and switch its parts. */
export interface ReloadHost {
  readonly ctx: ServiceContext<IrcConfig>;
  /** The config in effect now. */
  readonly config: IrcConfig;
  /** Puts `next` in effect (commandPrefix, backoff, flush and quit settings read it from now on). */
  apply(next: IrcConfig): void;
  loadCommands(file: string, current: IrcCommands | undefined): Promise<IrcCommands>;
  loadTls(config: IrcConfig): Promise<TransportTls | undefined>;
  target(config: IrcConfig, tls: TransportTls | undefined): ConnectionTarget;
  prepareRelay(config: IrcConfig): IrcRelay;
  switchRelay(next: IrcRelay): void;
}

/** The PART message for a channel a reload removed. */
const PART_MESSAGE = 'hendrix: channel removed from the config';

/**
 * Applies `next` to a running bot, in three steps. Prepare — everything that can fail while
 * nothing has changed yet: the commands module (imported again only when its file or content
 * changed), the TLS CA (read again: a new content takes a new connection), every hub of the
 * relay. Connect — on the connection it has, join the added channels and wait for the
 * server's yes; or, when the server, nick, TLS or credentials changed, QUIT and connect with
 * the new settings (back to the old ones on failure). Switch — synchronous: the relay (no hub
 * message lost or doubled), the commands, the flood and rate limits, the config; then the
 * removed channels are parted. Rejecting leaves the bot on its previous config.
 */
export async function reloadIrc(host: ReloadHost, run: ReloadRun, connection: IrcConnection, next: IrcConfig, signal: AbortSignal): Promise<void> {
  const previous = host.config;
  const changed = changedFields(previous, next);
  const notes: string[] = [];

  // prepare (a module whose top level never settles must not hold the reloads after this one)
  const rollback = run.previous !== undefined && run.previous.config === next && run.previous.commands !== undefined;
  const commands = next.commands === undefined ? undefined : rollback ? run.previous?.commands : await abortable(host.loadCommands(next.commands, run.commands), signal);
  if (commands !== run.commands && !changed.includes('commands')) notes.push('commands file');
  const before = connection.target;
  const tls = await abortable(host.loadTls(next), signal);
  const reconnectFor = changed.filter((field) => (CONNECTION_FIELDS as readonly string[]).includes(field));
  if (tls?.ca !== before.tls?.ca) {
    if (!changed.includes('tls')) notes.push('tls.ca file');
    if (reconnectFor.length === 0) reconnectFor.push('tls.ca');
  }
  const relay = changed.includes('relay') ? host.prepareRelay(next) : undefined;
  signal.throwIfAborted();

  // connect
  const target = host.target(next, tls);
  const added = target.channels.filter((c) => !hasChannel(before.channels, c.name));
  const removed = before.channels.filter((c) => !hasChannel(target.channels, c.name));
  let undo: () => void;
  if (reconnectFor.length > 0) {
    await connection.replace(target, `${reconnectFor.join(', ')} changed`, signal);
    // bounded like a start (the service's startTimeout is a common field, outside IrcConfig)
    const within = (previous as { startTimeout?: number }).startTimeout ?? 30_000;
    undo = () => void connection.replace(before, 'reload rolled back', AbortSignal.timeout(within)).catch(() => undefined);
  } else {
    await connection.join(added, target.channels, signal);
    undo = () => connection.leave(added, before.channels, 'hendrix: reload rolled back');
  }

  // switch
  if (relay !== undefined) {
    try {
      host.switchRelay(relay);
    } catch (error) {
      undo();
      throw error;
    }
  }
  run.previous = { config: previous, commands: run.commands };
  run.commands = commands;
  run.queue.configure(queueLimits(next));
  run.limiter.configure(next.commandRate);
  host.apply(next);
  if (reconnectFor.length === 0) connection.leave(removed, target.channels, PART_MESSAGE);
  host.ctx.log.info(
    {
      changed: [...changed, ...notes],
      ...(reconnectFor.length > 0 ? { newConnection: true } : {}),
      ...(added.length > 0 ? { joined: added.map((c) => c.name) } : {}),
      ...(removed.length > 0 ? { parted: removed.map((c) => c.name) } : {}),
    },
    'reloaded',
  );
}
