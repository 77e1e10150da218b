import type { Clock, TimerHandle } from '../../src/runtime/clock.js';

/**
 * When the periodic frame after the one due at `due` is due: on the schedule set at start (no
 * drift from late timers); after a stall of more than an interval, the missed frames are
 * skipped rather than sent in a burst.
 */
export function nextDue(due: number, now: number, every: number): number {
  const next = due + every;
  return next > now ? next : next + Math.ceil((now - next + 1) / every) * every;
}

/**
 * The periodic frames of a raw service (`every`): one at start, then one per interval on a
 * fixed grid. A reload that changes the interval keeps the phase of the last frame: the next
 * one comes one new interval after it (at once when that time has passed), so a change makes
 * neither a gap longer than the new interval nor a burst.
 */
export class PeriodicSchedule {
  readonly #clock: Clock;
  readonly #fire: () => void;
  #every: number | undefined;
  #timer: TimerHandle | undefined;
  /** When the last frame was due (what the next one is measured from). */
  #due = 0;
  /** When the pending frame is due. */
  #next = 0;

  constructor(clock: Clock, fire: () => void) {
    this.#clock = clock;
    this.#fire = fire;
  }

  /** The interval in force; undefined when there are no periodic frames. */
  get every(): number | undefined {
    return this.#every;
  }

  /** Sends the first frame now and schedules the next ones; `every` undefined: none at all. */
  start(every: number | undefined): void {
    this.stop();
    this.#every = every;
    if (every === undefined) return;
    this.#next = this.#clock.now();
    this.#tick();
  }

  /**
   * Changes the interval of a running schedule. Unchanged: nothing moves. Removed: no more
   * frames. Added: a frame now, as at start. Changed: the next frame is due one new interval
   * after the last one.
   */
  retime(every: number | undefined): void {
    if (every === this.#every) return;
    if (every === undefined || this.#every === undefined) return this.start(every);
    this.#cancel();
    this.#every = every;
    const now = this.#clock.now();
    this.#next = this.#due + every;
    if (this.#next <= now) {
      // overdue under the new interval: one frame now (not the missed ones), the grid restarts here
      this.#next = now;
      this.#tick();
    } else this.#arm(now);
  }

  /** No more periodic frames. */
  stop(): void {
    this.#cancel();
    this.#every = undefined;
  }

  #tick(): void {
    this.#timer = undefined;
    this.#due = this.#next;
    this.#fire();
    const now = this.#clock.now();
    // the fire may have stopped or retimed the schedule
    if (this.#every === undefined || this.#timer !== undefined) return;
    this.#next = nextDue(this.#due, now, this.#every);
    this.#arm(now);
  }

  #arm(now: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#next - now);
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
