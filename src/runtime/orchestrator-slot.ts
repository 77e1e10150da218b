import type { Logger } from 'pino';
import type { SourceLocation } from '../errors/hendrix-error.js';
import type { ServiceConfig } from '../manifest/types.js';
import type { TimerHandle } from './clock.js';
import type { Service } from '../kinds/contract.js';
import type { ServicePlan, ServiceState } from './orchestrator.js';
import { createSupervisor, type Supervisor } from './supervisor.js';

/** The bookkeeping of the orchestrator: one slot per service, its call in flight, deferreds. */

/** The one lifecycle call in progress on a service. */
export interface Op {
  readonly kind: 'create' | 'start' | 'stop';
  readonly ctl: AbortController;
  /** The service's own call has returned: its signal must not abort any more. */
  returned: boolean;
  /** A start left to finish during a rollback, aborted when this timer fires. */
  lateAbort?: TimerHandle | undefined;
}

/**
 * What one instance of a service was built with: its context reads the config and the
 * dependencies it may reach from here, so that an in-place reload changes what `ctx.config`
 * says, and an instance built by a reload reaches the dependencies of the next plan.
 */
export interface InstanceCell {
  /** Bumped per instance, so that `crashed()` of a replaced instance is ignored. */
  readonly generation: number;
  config: ServiceConfig;
  deps: readonly string[];
}

/** Everything the orchestrator tracks about one service. */
export interface Slot {
  readonly name: string;
  kind: string;
  location: SourceLocation | undefined;
  /** The plan of the running instance; a reload changes it. */
  plan: ServicePlan;
  deps: readonly string[];
  dependents: readonly string[];
  readonly log: Logger;
  supervisor: Supervisor;
  state: ServiceState;
  instance: Service | undefined;
  /** What the current instance was built with. */
  cell: InstanceCell | undefined;
  /** A reload is working on it: the reconciler leaves it alone until the reload is done. */
  pinned: boolean;

  /** start() was called on `instance`: the next start needs a new one. */
  used: boolean;
  /** `instance` was started and not stopped yet: it needs a stop() call. */
  live: boolean;
  /** Bumped per instance, so that `crashed()` of a replaced instance is ignored. */
  generation: number;
  /** The highest generation ever built (a reload's replacement may not take its slot). */
  issued: number;
  op: Op | undefined;
  /** Failed or exited for good: never started again in this run. */
  terminal: boolean;
  /** Died and waits for its restart: until `timer` (armed once it is stopped) fires. */
  held: boolean;
  pendingDelay: number | undefined;
  timer: TimerHandle | undefined;
  /** What the current start waits for, as the service last said through ctx.waiting(). */
  waiting: { reason: string; cause: unknown; since: number } | undefined;
  /** crashed() called while start() was still running. */
  pendingCrash: { error: unknown } | undefined;
  readyAt: number | undefined;
  startMs: number | undefined;
  restarts: number;
  lastError: unknown;
  /** The clock time of its last state change (set by the engine at creation and each transition). */
  since: number;
  /** While held for a restart: the clock time its timer fires. */
  restartAt: number | undefined;
  /** Stopped by the operator (stopService): kept down until startService. */
  parked: boolean;
}

/** A promise with its settle functions, and whether it settled. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  readonly settled: boolean;
}

/** Builds a {@link Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return {
    promise,
    resolve: (v) => ((settled = true), resolve(v)),
    reject: (e) => ((settled = true), reject(e)),
    get settled() {
      return settled;
    },
  };
}

/** The abort reason of a start cancelled because the service must stop. */
export const cancelled = (): DOMException => new DOMException('start cancelled: the service must stop', 'AbortError');
/** The abort reason of force(). */
export const forced = (): DOMException => new DOMException('forced', 'AbortError');

/** How long a stop() of a service of `plan` may run before it is forced: its kind's phases, else `stopTimeout`. */
export function stopDeadlineOf(plan: ServicePlan): number {
  return plan.kind.stopDeadline?.(plan.config) ?? plan.config.stopTimeout;
}

/** True when create() returned something with start() and stop(). */
export function isService(value: unknown): value is Service {
  const v = value as Partial<Service> | null | undefined;
  return typeof v === 'object' && v !== null && typeof v.start === 'function' && typeof v.stop === 'function';
}

/** A fresh slot for a service not created yet. */
export function createSlot(
  plan: ServicePlan,
  kind: string,
  links: { deps: readonly string[]; dependents: readonly string[] },
  log: Logger,
  random: () => number,
): Slot {
  return {
    name: plan.name,
    kind,
    location: plan.location,
    plan,
    deps: links.deps,
    dependents: links.dependents,
    log,
    supervisor: createSupervisor(plan.config.restart, random),
    state: 'waiting',
    waiting: undefined,
    instance: undefined,
    cell: undefined,
    pinned: false,

    used: false,
    live: false,
    generation: 0,
    issued: 0,
    op: undefined,
    terminal: false,
    held: false,
    pendingDelay: undefined,
    timer: undefined,
    pendingCrash: undefined,
    readyAt: undefined,
    startMs: undefined,
    restarts: 0,
    lastError: undefined,
    since: 0,
    restartAt: undefined,
    parked: false,
  };
}
