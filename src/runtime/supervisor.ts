import type { RestartConfig } from '../kinds/contract.js';

/**
 * Supervision logic: the restart policy, the backoff schedule and the restart limit of one
 * service. Pure: it reads time from its caller and randomness from an injected function, and
 * sets no timers itself — the orchestrator executes its decisions.
 */

/** What to do after a service died (crashed, exited, or failed to start again). */
export type CrashDecision =
  /** Restart after `delay` ms; `attempt` counts restarts in the current run, from 1. */
  | { readonly action: 'restart'; readonly attempt: number; readonly delay: number }
  /** The policy does not restart a clean exit: the service is stopped for good. */
  | { readonly action: 'stop' }
  /** The policy does not restart a failure: the service is failed for good. */
  | { readonly action: 'fail' }
  /** More than `limit.burst` restarts within `limit.window`: failed for good. */
  | { readonly action: 'limit'; readonly restarts: number };

/** One death of a supervised service, as the orchestrator reports it. */
export interface CrashInput {
  /** The clock time of the death, in ms. */
  readonly now: number;
  /** When the instance became ready; undefined when it never did (a restart that failed to start). */
  readonly upSince: number | undefined;
  /** True for a failure (an error, a failed start), false for a clean exit. */
  readonly failed: boolean;
}

/** The restart state of one service. */
export interface Supervisor {
  /** Decides what follows a death, and counts it. */
  onCrash(input: CrashInput): CrashDecision;
  /** The 0-based backoff step the next restart will use. */
  readonly attempt: number;
}

/** True when `policy` restarts a service that died `failed` (or cleanly, when false). */
export function shouldRestart(policy: RestartConfig['policy'], failed: boolean): boolean {
  return policy === 'always' || (policy === 'on-failure' && failed);
}

/**
 * The delay before restart number `attempt` (0-based within the current run):
 * `base = min(max, initial * factor ** attempt)`, then jitter spreads it evenly over
 * `base * (1 ± jitter)`: `delay = round(base * (1 + jitter * (2 * random() - 1)))`, never
 * below 0. The jitter applies after the cap, so a capped delay may exceed `max` by at most
 * `jitter * max` — which keeps restarts of many capped services from lining up.
 */
export function backoffDelay(backoff: RestartConfig['backoff'], attempt: number, random: () => number): number {
  const base = Math.min(backoff.max, backoff.initial * backoff.factor ** attempt);
  const spread = backoff.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base * (1 + spread)));
}

/**
 * Builds the supervisor of one service.
 *
 * The backoff step goes back to 0 when the instance that died had stayed up longer than
 * `limit.window`. The limit is a sliding window: a death that would be restart number
 * `burst + 1` within the last `window` ms marks the service failed instead.
 */
export function createSupervisor(config: RestartConfig, random: () => number): Supervisor {
  let attempt = 0;
  let restarts: number[] = [];
  return {
    get attempt() {
      return attempt;
    },
    onCrash({ now, upSince, failed }) {
      if (!shouldRestart(config.policy, failed)) return failed ? { action: 'fail' } : { action: 'stop' };
      const { burst, window } = config.limit;
      if (upSince !== undefined && now - upSince > window) attempt = 0;
      restarts = restarts.filter((t) => now - t < window);
      if (restarts.length >= burst) return { action: 'limit', restarts: restarts.length };
      restarts.push(now);
      const delay = backoffDelay(config.backoff, attempt, random);
      attempt++;
      return { action: 'restart', attempt, delay };
    },
  };
}
