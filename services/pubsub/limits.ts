import type { Logger } from 'pino';

/** How long a limit must not bite before it counts as released (and may warn again). */
export const QUIET_MS = 10_000;

/**
 * A client refused this many publishes without pausing for a second is closed with 1008: it
 * ignores the error frames.
 */
export const MAX_REFUSED = 100;

interface Biting {
  since: number;
  last: number;
  times: number;
}

/**
 * Logs the hub's limits when they bite, once — a warn the first time, with what bit, then
 * silence while it keeps biting, then one info with how many times once it has not bitten for
 * QUIET_MS — so that a flood of refused messages is not also a flood of log lines.
 */
export class LimitWatch {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #biting = new Map<string, Biting>();

  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  /** Records that `limit` (its manifest name, e.g. `limits.topics`) bit; warns if it was quiet. */
  bite(limit: string, value: number, detail: Record<string, unknown> = {}): void {
    const now = this.#now();
    const state = this.#biting.get(limit);
    if (state !== undefined) {
      state.times++;
      state.last = now;
      return;
    }
    this.#biting.set(limit, { since: now, last: now, times: 1 });
    this.#log.warn({ limit, value, ...detail }, 'hub limit reached');
  }

  /** Says which limits stopped biting (called by the hub's periodic sweep). */
  sweep(): void {
    if (this.#biting.size === 0) return;
    const now = this.#now();
    for (const [limit, state] of this.#biting) {
      if (now - state.last < QUIET_MS) continue;
      this.#biting.delete(limit);
      this.#log.info({ limit, times: state.times, forMs: state.last - state.since }, 'hub limit no longer reached');
    }
  }
}

/**
 * The publish rate limit of one client (`limits.publishRate` messages per second, bursts of
 * `limits.publishBurst`): a token bucket, refilled as time passes, plus the count of refusals
 * since the client last paused for a second (MAX_REFUSED of them close it).
 */
export class PublishBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number;
  #lastRefusal = Number.NEGATIVE_INFINITY;
  /** Refusals since the client last paused for a second. */
  refused = 0;

  /** `rate`: messages per second (0: no limit); `burst`: how many may come at once. */
  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#last = now;
  }

  /** Publishes per second (0: no limit). */
  get rate(): number {
    return this.#rate;
  }

  /** Publishes at once. */
  get burst(): number {
    return this.#burst;
  }

  /**
   * Applies limits a reload changed (nothing when they are the same): the next publishes are
   * counted at the new rate, and what the client saved up is cut to the new burst.
   */
  follow(rate: number, burst: number): void {
    const next = Math.max(1, burst);
    if (rate === this.#rate && next === this.#burst) return;
    this.#rate = rate;
    this.#burst = next;
    this.#tokens = Math.min(this.#tokens, next);
  }

  /** Takes one publish at `now` (ms); false when the client is over its rate. */
  take(now: number): boolean {
    if (this.rate <= 0) return true;
    const tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    if (tokens >= 1) {
      this.#tokens = tokens - 1;
      return true;
    }
    this.#tokens = tokens;
    if (now - this.#lastRefusal >= 1000) this.refused = 0;
    this.#lastRefusal = now;
    this.refused++;
    return false;
  }

  /** Whether the client kept publishing after MAX_REFUSED refusals (close it). */
  get exhausted(): boolean {
    return this.refused > MAX_REFUSED;
  }
}
