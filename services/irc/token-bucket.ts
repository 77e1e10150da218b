import type { Clock } from '../../src/runtime/clock.js';

/**
 * A token bucket: up to `burst` lines at once, then one line per `interval` ms. Tokens refill
 * continuously on the injected clock; `interval` 0 means no limit.
 */
export class TokenBucket {
  #burst: number;
  #interval: number;
  readonly #clock: Clock;
  #tokens: number;
  #last: number;

  constructor(options: { burst: number; interval: number; clock: Clock }) {
    this.#burst = options.burst;
    this.#interval = options.interval;
    this.#clock = options.clock;
    this.#tokens = options.burst;
    this.#last = options.clock.now();
  }

  /** Takes a token and returns 0, or returns how many ms until one is there (taking none). */
  take(): number {
    if (this.#interval <= 0) return 0;
    this.#refill();
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.#tokens) * this.#interval));
  }

  /** Changes the burst and the rate (a reload): the tokens earned so far are kept, up to the new burst. */
  configure(options: { burst: number; interval: number }): void {
    if (this.#interval > 0) this.#refill();
    else this.#tokens = this.#burst;
    this.#burst = options.burst;
    this.#interval = options.interval;
    this.#tokens = Math.min(this.#tokens, options.burst);
    this.#last = this.#clock.now();
  }

  /** The tokens there now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed / this.#interval);
  }
}
