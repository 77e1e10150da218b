import type { Logger } from 'pino';
import type { Clock } from '../../src/runtime/clock.js';
import { ThrottledWarning } from './throttled-warning.js';

/** Options of a UserRateLimiter. */
export interface UserRateOptions {
  /** Requests a user may make at once. */
  readonly burst: number;
  /** Then one request per this many ms (0: no limit). */
  readonly interval: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** How many users are tracked at most (default 4096): a server inventing nicks cannot grow it. */
  readonly maxUsers?: number;
}

/** One user's bucket. */
interface UserBucket {
  tokens: number;
  last: number;
}

const DEFAULT_MAX_USERS = 4_096;

/**
 * Per-user token buckets for what makes the bot answer someone (commands, CTCP requests), so
 * that one user cannot fill the outgoing queue. Users are nicks, case-folded, on the current
 * connection: `reset()` at each disconnect, since a nick on the next server is someone else.
 * What is over the limit is ignored (not answered), counted and logged — at most every 10 s.
 */
export class UserRateLimiter {
  #o: UserRateOptions;
  readonly #users = new Map<string, UserBucket>();
  readonly #max: number;
  readonly #warning: ThrottledWarning;

  constructor(options: UserRateOptions) {
    this.#o = options;
    this.#max = Math.max(1, options.maxUsers ?? DEFAULT_MAX_USERS);
    this.#warning = new ThrottledWarning({
      log: options.log,
      clock: options.clock,
      field: 'ignored',
      message: (n) => `commandRate: ${n} request(s) over the per-user limit ignored`,
    });
  }

  /** Requests ignored so far. */
  get limited(): number {
    return this.#warning.total;
  }

  /** How many users are tracked now. */
  get size(): number {
    return this.#users.size;
  }

  /** Whether `nick` may be answered now (taking one of its tokens); `what` says what it asked, for the log. */
  allow(nick: string, what: string): boolean {
    const { burst, interval, clock } = this.#o;
    if (interval <= 0) return true;
    const key = nick.toLowerCase();
    const now = clock.now();
    let user = this.#users.get(key);
    if (user === undefined) {
      if (this.#users.size >= this.#max) this.#prune(now);
      user = { tokens: burst, last: now };
    } else {
      this.#users.delete(key); // re-inserted below: the map stays in least-recently-used order
      user.tokens = Math.min(burst, user.tokens + Math.max(0, now - user.last) / interval);
      user.last = now;
    }
    this.#users.set(key, user);
    if (user.tokens >= 1) {
      user.tokens -= 1;
      return true;
    }
    this.#warning.add(1, { nick, what, burst, interval });
    return false;
  }

  /** Changes the limit (a reload): each user's bucket refills at the new rate, up to the new burst. */
  configure(limit: { burst: number; interval: number }): void {
    this.#o = { ...this.#o, burst: limit.burst, interval: limit.interval };
    for (const user of this.#users.values()) user.tokens = Math.min(user.tokens, limit.burst);
  }

  /** Forgets every user (a new connection). */
  reset(): void {
    this.#users.clear();
  }

  /** Forgets users whose bucket is full again (the same as never seen), then the least recently seen, down to 90 %. */
  #prune(now: number): void {
    const { burst, interval } = this.#o;
    for (const [key, user] of this.#users) if (user.tokens + (now - user.last) / interval >= burst) this.#users.delete(key);
    const keep = Math.floor(this.#max * 0.9);
    for (const key of this.#users.keys()) {
      if (this.#users.size <= keep) break;
      this.#users.delete(key);
    }
  }
}
