import type { QueueStats } from './outgoing-queue.js';

/** What an irc service gives its dependents (`ctx.peer('<bot>')`). */
export interface IrcHandle {
  /** Queues a PRIVMSG to a channel or nick (split, flood-controlled, kept across reconnects); returns the lines queued. */
  say(target: string, text: string): number;
  /** Queues a NOTICE the same way. */
  notice(target: string, text: string): number;
  /** The bot's nick now; undefined while not connected. */
  readonly nick: string | undefined;
  /** Whether the bot is registered and in its channels now. */
  readonly connected: boolean;
  /** Outgoing counters and the reconnects since start. */
  stats(): IrcStats;
}

/** The counters of a running bot. */
export interface IrcStats extends QueueStats {
  /** Successful reconnects since start. */
  readonly reconnects: number;
}
