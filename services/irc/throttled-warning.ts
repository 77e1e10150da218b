import type { Logger } from 'pino';
import type { Clock } from '../../src/runtime/clock.js';

/** How often a run of the same warning is logged again (the first one is logged at once). */
export const WARN_EVERY_MS = 10_000;

/** What a ThrottledWarning logs each time. */
export interface ThrottledWarningOptions {
  readonly log: Logger;
  readonly clock: Clock;
  /** The error code in the log line, when the warning has one. */
  readonly code?: string;
  /** The message for `count` events since the last line. */
  readonly message: (count: number) => string;
  /** The name of the count in the log line (default `dropped`; the running total is `<field>Total`). */
  readonly field?: string;
}

/**
 * A warning for something that can happen thousands of times a second when someone hostile
 * drives it (a full queue, expired lines, rate-limited users): the first event is logged at
 * once, then at most one line every 10 s with the count since — a flood of input never
 * becomes a flood of log lines.
 */
export class ThrottledWarning {
  readonly #o: ThrottledWarningOptions;
  #unlogged = 0;
  #total = 0;
  #last = -Infinity;

  constructor(options: ThrottledWarningOptions) {
    this.#o = options;
  }

  /** Every event counted so far. */
  get total(): number {
    return this.#total;
  }

  /** Counts `count` events; logs them (with `fields`) unless a line went out less than 10 s ago. */
  add(count: number, fields: Record<string, unknown> = {}): void {
    if (count <= 0) return;
    this.#total += count;
    this.#unlogged += count;
    const now = this.#o.clock.now();
    if (now - this.#last < WARN_EVERY_MS) return;
    this.#last = now;
    this.#write(fields);
  }

  /** Logs what was counted and not logged yet (at stop), and starts afresh. */
  flush(fields: Record<string, unknown> = {}): void {
    if (this.#unlogged > 0) this.#write(fields);
    this.#last = -Infinity;
  }

  #write(fields: Record<string, unknown>): void {
    const count = this.#unlogged;
    this.#unlogged = 0;
    const code = this.#o.code === undefined ? {} : { code: this.#o.code };
    const field = this.#o.field ?? 'dropped';
    this.#o.log.warn({ ...code, ...fields, [field]: count, [`${field}Total`]: this.#total }, this.#o.message(count));
  }
}
