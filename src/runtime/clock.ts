/**
 * The clock the orchestrator and the supervisor read time and set timers through, so that
 * timing-sensitive logic (timeouts, backoff, restart windows) can run on fake time in tests.
 */

/** An opaque timer handle, as returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/** Time, timers and randomness, injected so tests can control all three. */
export interface Clock {
  /** The current time in milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer set by {@link Clock.setTimeout}; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle): void;
  /** A number in [0, 1), used for backoff jitter. */
  random(): number;
}

/** The longest delay Node's timers accept; longer ones would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock. It looks up the global timer functions on every call (rather than binding
 * them once) so that `vi.useFakeTimers()` also fakes time for code using this clock.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle => globalThis.setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clearTimeout: (handle: TimerHandle): void => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  random: () => Math.random(),
});
