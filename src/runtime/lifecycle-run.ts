import type { Clock, TimerHandle } from './clock.js';

/** How a bounded start or stop call ended. */
export interface BoundedOutcome {
  /** `ok`/`error`: the call settled; `abandoned`: it did not return within the grace after its signal aborted. */
  readonly status: 'ok' | 'error' | 'abandoned';
  /** The rejection reason when `status` is `error`. */
  readonly error?: unknown;
  /** True when the deadline passed (and the signal was aborted because of it). */
  readonly timedOut: boolean;
}

/** Options of {@link runBounded}. */
export interface BoundedOptions {
  readonly clock: Clock;
  /** The deadline in ms; 0 (or a non-finite value) sets none. */
  readonly timeout: number;
  /** How long to wait for the call to return once its signal aborted, before abandoning it. */
  readonly grace: number;
  /** The controller whose signal the call gets; others (stop, force) may abort it too. */
  readonly controller: AbortController;
  /** The abort reason used when the deadline passes. */
  readonly timeoutReason: () => unknown;
}

/**
 * Runs one lifecycle call (a service's start or stop) under a deadline: when the deadline
 * passes, the call's signal aborts; whenever the signal aborts (deadline, stop, force), the
 * call gets `grace` ms to return before it is abandoned. Never rejects.
 */
export function runBounded(task: (signal: AbortSignal) => Promise<void> | void, options: BoundedOptions): Promise<BoundedOutcome> {
  const { clock, controller } = options;
  const signal = controller.signal;
  return new Promise((resolve) => {
    let done = false;
    let timedOut = false;
    let deadline: TimerHandle | undefined;
    let grace: TimerHandle | undefined;
    const finish = (status: BoundedOutcome['status'], error?: unknown): void => {
      if (done) return;
      done = true;
      if (deadline !== undefined) clock.clearTimeout(deadline);
      if (grace !== undefined) clock.clearTimeout(grace);
      signal.removeEventListener('abort', onAbort);
      resolve(status === 'error' ? { status, error, timedOut } : { status, timedOut });
    };
    const onAbort = (): void => {
      if (!done && grace === undefined) grace = clock.setTimeout(() => finish('abandoned'), options.grace);
    };

    let call: Promise<void>;
    try {
      call = Promise.resolve(task(signal));
    } catch (error) {
      call = Promise.reject(error);
    }
    call.then(
      () => finish('ok'),
      (error: unknown) => finish('error', error),
    );

    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    if (options.timeout > 0 && Number.isFinite(options.timeout)) {
      deadline = clock.setTimeout(() => {
        deadline = undefined;
        // already aborted (stop, force): that abort's grace governs, it is not a timeout
        if (done || signal.aborted) return;
        timedOut = true;
        controller.abort(options.timeoutReason());
      }, options.timeout);
    }
  });
}
