import type { QueueStats } from './outgoing-queue.js';

/** What an irc service gives its dependents (`ctx.peer('<bot>')`). */
export interface IrcHandle {
  /**
   * Queues a PRIVMSG (split, flood-controlled); returns the lines queued. To a channel it is
   * relayed content: kept across reconnects for up to `relayMaxAge`. To a nick it goes out on
   * the current connection only (dropped if that one is lost first; 0 while disconnected).
   */
  say(target: string, text: string): number;
  /** Queues a NOTICE the same way. */
  notice(target: string, text: string): number;
  /** The bot's nick now; undefined while not connected. */
  readonly nick: string | undefined;
  /** Whether the bot is registered and in its channels now. */
  readonly connected: boolean;
  /** Outgoing counters, the requests the per-user rate limit ignored and the reconnects since start. */
  stats(): IrcStats;
}

/** The counters of a running bot. */
export interface IrcStats extends QueueStats {
  /** Commands and CTCP requests ignored because their sender was over `commandRate`. */
  readonly limited: number;
  /** Successful reconnects since start. */
  readonly reconnects: number;
}
