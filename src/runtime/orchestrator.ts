import type { Logger } from 'pino';
import type { PathSegment, SourceLocation } from '../errors/hendrix-error.js';
import type { ServiceConfig } from '../manifest/types.js';
import type { Clock } from './clock.js';
import type { ClusterLink, Figure, GraphView, ServiceKind } from '../kinds/contract.js';
import type { Graph } from './graph-types.js';
import { OrchestratorEngine } from './orchestrator-engine.js';
import type { ReloadReport, ReloadSpec } from './orchestrator-reload.js';

/**
 * The state of one service, as the orchestrator owns it:
 * - `waiting`: declared, no instance built yet;
 * - `created`: an instance is built and waits for its dependencies to be ready;
 * - `starting` → `ready`: its start() is running / has resolved;
 * - `stopping` → `stopped`: its stop() is running / has returned (also: stopped because a
 *   dependency went down, to start again once it is back; or exited cleanly for good);
 * - `failed`: it failed to start or to stop, crashed without a restart, or hit the restart limit;
 * - `restarting`: it died and waits (dependents stopping, backoff) for a new instance.
 */
export type ServiceState = 'waiting' | 'created' | 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed' | 'restarting';

/** One service to run: what the validated manifest says about it. */
export interface ServicePlan {
  /** The instance name (its key under `services:`). */
  readonly name: string;
  /** The kind descriptor that builds it. */
  readonly kind: ServiceKind;
  /** The validated config, defaults applied (startTimeout, stopTimeout, restart...). */
  readonly config: ServiceConfig;
  /** Where the service is declared. */
  readonly location?: SourceLocation | undefined;
}

/** What {@link createOrchestrator} needs. */
export interface OrchestratorOptions {
  /** Every service of the manifest, in manifest order. */
  readonly services: readonly ServicePlan[];
  /** The dependency graph of those services. */
  readonly graph: Graph;
  /** Run only these services and their (transitive) dependencies. */
  readonly only?: readonly string[] | undefined;
  /** The root logger; each service gets one `child({ service, kind })`. */
  readonly logger: Logger;
  /** The folder of the base manifest, for `ctx.baseDir`. */
  readonly baseDir: string;
  /** Finds where a manifest path is written, for `ctx.locate`. */
  readonly locate?: ((path: readonly PathSegment[]) => SourceLocation | undefined) | undefined;
  /** Time, timers and randomness; default the real ones. */
  readonly clock?: Clock | undefined;
  /** In a worker process: the `ctx.cluster` link of each service (src/workers/channels.ts). */
  readonly cluster?: ((service: string) => ClusterLink) | undefined;
  /**
   * The states of services that run in another process of the graph (a worker sees the
   * once-services' states through the primary): counted by readiness() like its own.
   */
  readonly remoteStates?: (() => Readonly<Record<string, string>>) | undefined;
  /**
   * How long a start or stop whose signal aborted (deadline, stop, force) may take to return
   * before it is abandoned; default 2000 ms.
   */
  readonly abortGrace?: number | undefined;
  /**
   * When one start fails, how long the other starts in flight (whose dependencies are fine)
   * may go on, so that their own failures are reported too, before they are cancelled;
   * default 1000 ms.
   */
  readonly rollbackGrace?: number | undefined;
}

/** What a starting service said it waits for (`ctx.waiting()`). */
export interface WaitingEvent {
  readonly service: string;
  readonly kind: string;
  /** E.g. `connecting to 127.0.0.1:6667`. */
  readonly reason: string;
  /** The last error on the way (`ECONNREFUSED`), if any. */
  readonly cause?: unknown;
}

/** One state change of one service, for live views and tests. */
export interface TransitionEvent {
  readonly service: string;
  /** The kind as written in the manifest. */
  readonly kind: string;
  readonly from: ServiceState;
  readonly to: ServiceState;
  /** How long the start (`ready`) or the stop (`stopped`, `failed` after stopping) took. */
  readonly ms?: number;
  /** Why: the start, stop or crash error (on `failed`, `restarting`). */
  readonly error?: unknown;
  /** On `restarting`: the restart number within the current run, from 1. */
  readonly attempt?: number;
  /** On `restarting`: the backoff delay before the new instance starts, in ms. */
  readonly delay?: number;
}

/** What the orchestrator knows about one service. */
export interface ServiceStats {
  readonly state: ServiceState;
  /** The clock time the current instance became ready. */
  readonly startedAt: number | undefined;
  /** How long its last successful start took, in ms. */
  readonly startMs: number | undefined;
  /** How many times it was restarted after dying (not counting restarts for a dependency). */
  readonly restarts: number;
  /** The last error it had (start, crash, stop). */
  readonly lastError: unknown;
  /** What its start waits for, while it is starting and said so. */
  readonly waiting: string | undefined;
  /** The clock time of its last state change (or of the orchestrator's creation). */
  readonly since: number;
  /** While `restarting`: the clock time its new instance is due to start. */
  readonly nextRestartAt: number | undefined;
  /** Stopped through stopService() and kept stopped until startService(). */
  readonly stoppedByOperator: boolean;
}

/**
 * A running service graph: starts it in dependency order, supervises it, stops it in reverse.
 * Built by {@link createOrchestrator}.
 *
 * Invariant: a service runs only while all its dependencies are ready. So when a service dies
 * after the graph is up (`ctx.crashed()`), its dependents are stopped first (dependents of
 * dependents before them), then the dead instance; if the restart policy restarts it, a new
 * instance starts after the backoff delay and the dependents start again (new instances) once
 * it is ready. If it is done for good (policy, restart limit) its dependents stay stopped and
 * the rest of the graph keeps running. A death before the whole graph was ready is a start
 * failure; one during stop() is ignored.
 */
export interface Orchestrator {
  /** The services it runs (after `only`), in start order; a reload changes them. */
  readonly services: readonly string[];
  /**
   * Applies an edited plan to the running graph (orchestrator-reload.ts): added services
   * start, changed ones are reloaded in place or replaced (dependents rebind), removed ones
   * stop; any failure rolls every step back. One at a time; HX_ERR_RELOAD_REFUSED unless the
   * graph runs; HX_ERR_RELOAD_FAILED after a rollback.
   */
  reload(spec: ReloadSpec): Promise<ReloadReport>;
  /**
   * Creates every instance, then starts each as soon as all its dependencies are ready.
   * Resolves once all are ready. On failure it stops what started, in reverse, and rejects
   * with HX_ERR_START_FAILED listing every error; a stop() during start also rejects it.
   * A second call rejects with HX_ERR_USAGE.
   */
  start(): Promise<void>;
  /**
   * Stops every service after its dependents, independent branches in parallel, each within
   * its `stopTimeout`. Rejects with HX_ERR_STOP_FAILED listing every error (HX_ERR_FORCED
   * after force()). Further calls return the same promise.
   */
  stop(): Promise<void>;
  /** Aborts every start and stop in progress at once (and stops, when not stopping yet). */
  force(): void;
  /** The state of one service; HX_ERR_UNKNOWN_SERVICE for a name it does not run. */
  state(name: string): ServiceState;
  /** The state of every service it runs. */
  states(): Record<string, ServiceState>;
  /** The handle of a ready service (what its dependents get from `ctx.peer`). */
  handle(name: string): unknown;
  /** The address of a ready service, when its kind has one. */
  address(name: string): string | undefined;
  /** State, start time, restart count and last error of every service. */
  stats(): Record<string, ServiceStats>;
  /** The figures its live instance reports (Service.figures); [] when it has none or is not live. */
  figures(name: string): readonly Figure[];
  /**
   * Stops one service, its dependents first (they wait, `stopped`, for it to start again); it
   * stays stopped until startService() — a reload leaves it stopped too. Resolves once it has
   * stopped. HX_ERR_UNKNOWN_SERVICE for a name it does not run; HX_ERR_SERVICE_OP unless the
   * graph runs.
   */
  stopService(name: string): Promise<void>;
  /**
   * Starts a service stopped by stopService(), or failed for good (restart limit, a failed
   * start: its restart policy starts afresh), and then the dependents waiting for it. Resolves
   * once it is ready; rejects with its error when its start fails (its restart policy applies).
   */
  startService(name: string): Promise<void>;
  /** Stops a service (its dependents first) and starts a new instance, then its dependents; resolves once it is ready. */
  restartService(name: string): Promise<void>;
  /** Turns the graph's readiness off (a stop is coming: drainDelay) or on again. */
  setDraining(on: boolean): void;
  /**
   * Whether the graph is ready (every service, or those named, ready; not draining): what
   * `ctx.graph.readiness()` answers. A named service it does not run is not counted.
   */
  readiness(services?: readonly string[]): ReturnType<GraphView['readiness']>;
  /**
   * Reports that a service's code failed outside any call of the orchestrator (an unhandled
   * rejection attributed to it): a crash, as if it had called `ctx.crashed(error)` — the
   * restart policy applies. `generation` names the instance the fault came from (a fault tag
   * carries it); a fault of a replaced instance, of a service not running, or while the graph
   * stops is refused: returns false.
   */
  crash(name: string, error: unknown, generation?: number): boolean;
  /** Listens to every state change. */
  on(event: 'transition', listener: (event: TransitionEvent) => void): this;
  /** Listens to what starting services say they wait for. */
  on(event: 'waiting', listener: (event: WaitingEvent) => void): this;
  /** Listens for the end of the run: the graph stopped, or its start failed and was rolled back. */
  on(event: 'stopped', listener: () => void): this;
  /** Stops listening. */
  off(event: 'transition', listener: (event: TransitionEvent) => void): this;
  /** Stops listening. */
  off(event: 'waiting', listener: (event: WaitingEvent) => void): this;
  /** Stops listening. */
  off(event: 'stopped', listener: () => void): this;
}

/**
 * Builds the orchestrator of a service graph; nothing is created or started until `start()`.
 * Throws HX_ERR_UNKNOWN_SERVICE when `only` names a service the graph does not have.
 */
export function createOrchestrator(options: OrchestratorOptions): Orchestrator {
  return new OrchestratorEngine(options);
}
