import type { Logger } from 'pino';
import { EXIT } from '../errors/codes.js';
import { createRootLogger } from '../log/logger.js';
import { guardBeforeGraph, guardGraph, type EarlyGuard, type Fault } from './fault-guard.js';
import { codeOwners } from './fault-stack.js';
import type { ResolvedManifest } from '../manifest/types.js';
import type { ClusterLink } from '../kinds/contract.js';
import type { Graph } from './graph-types.js';
import { createOrchestrator, type Orchestrator, type ServicePlan, type TransitionEvent } from './orchestrator.js';
import { createPlan, type Plan, type PlanOptions } from './plan.js';
import { createReloader, type Reloader, type ReloadOptions, type ReloadResult } from './reload.js';

/** Options of `up()`; the CLI fills them from argv and the environment. */
export interface UpOptions extends PlanOptions {
  /** Extra manifest files overlaid on the first, in order. */
  overlays?: string[];
  /** Start only these services and their dependencies. */
  services?: string[];
  /** The root logger; default one built from the manifest's `logging`. */
  logger?: Logger;
  /** Whether stdout is a terminal (decides the default log format). */
  isTTY?: boolean;
  /** Called on every state change of every service, before start() resolves. */
  onTransition?: (event: TransitionEvent) => void;
  /**
   * Whether hendrix handles the process's uncaught exceptions and unhandled rejections while
   * the graph runs (README: "When app code fails"); default true. False leaves them to the
   * embedding app.
   */
  handleFaults?: boolean;
}

/** A running graph, as `up()` returns it. */
export interface Hendrix {
  /** The plan the graph runs. */
  readonly plan: Plan;
  /** The resolved manifest. */
  readonly resolved: ResolvedManifest;
  /** The dependency graph. */
  readonly graph: Graph;
  /** The orchestrator running the graph. */
  readonly orchestrator: Orchestrator;
  /** The root logger. */
  readonly logger: Logger;
  /** The address of each started service that has one (`http://127.0.0.1:8000`). */
  addresses(): Record<string, string>;
  /** The handle a service exposes to its dependents. */
  handle<T = unknown>(name: string): T;
  /**
   * Applies the edited manifest files to the running graph, touching only what changed
   * (README: "Changing a running graph"); `{ dryRun: true }` only diffs. Rejects with the next
   * plan's problems (HX_ERR_MANIFEST, nothing changed) or HX_ERR_RELOAD_FAILED (rolled back).
   */
  reload(options?: ReloadOptions): Promise<ReloadResult>;
  /** Stops the graph gracefully, in reverse dependency order. */
  stop(): Promise<void>;
  /** Forces a stop in progress to finish at once. */
  force(): void;
  /**
   * The service whose failure stopped the graph (`onFailed: stop`), and why; undefined while
   * none did. The graph is then stopping or stopped.
   */
  readonly failure: { readonly service: string; readonly error: unknown } | undefined;
  /**
   * The uncaught exception that stopped the graph (HX_ERR_UNCAUGHT_EXCEPTION, with the service
   * it was traced to); undefined while none did. The process is not in a safe state after one:
   * `process.exitCode` is set to 5 (EXIT.uncaughtException) unless the app had set one.
   */
  readonly fault: Fault | undefined;
}

/** Builds the orchestrator of a plan (the CLI adds its own live view before start). */
export function orchestrate(plan: Plan, logger: Logger, only?: readonly string[], cluster?: (service: string) => ClusterLink, remoteStates?: () => Readonly<Record<string, string>>): Orchestrator {
  const services: ServicePlan[] = [...plan.services.values()].map((s) => ({
    name: s.name,
    kind: s.kind,
    config: s.config,
    location: s.location,
  }));
  return createOrchestrator({
    services,
    graph: plan.graph,
    ...(only && only.length ? { only } : {}),
    logger,
    baseDir: plan.baseDir,
    locate: (path) => plan.resolved.provenance.locate(path),
    ...(cluster ? { cluster } : {}),
    ...(remoteStates ? { remoteStates } : {}),
  });
}

/** Wraps a started orchestrator (and its reloader) as the public handle. */
export function toHendrix(
  reloader: Reloader,
  orchestrator: Orchestrator,
  logger: Logger,
  failure: () => Hendrix['failure'] = () => undefined,
  fault: () => Hendrix['fault'] = () => undefined,
): Hendrix {
  return {
    get failure() {
      return failure();
    },
    get fault() {
      return fault();
    },
    get plan() {
      return reloader.plan;
    },
    get resolved() {
      return reloader.plan.resolved;
    },
    get graph() {
      return reloader.plan.graph;
    },
    orchestrator,
    logger,
    addresses() {
      const out: Record<string, string> = {};
      for (const name of reloader.plan.order) {
        const address = orchestrator.address(name);
        if (address) out[name] = address;
      }
      return out;
    },
    handle: <T>(name: string) => orchestrator.handle(name) as T,
    reload: (options) => reloader.reload(options),
    stop: () => orchestrator.stop(),
    force: () => orchestrator.force(),
  };
}

/**
 * Watches for a service that ends `failed` while the graph runs and whose `onFailed` is
 * `stop` (the default): calls `onFailed` once with its error, so that the graph is stopped and
 * the process exits non-zero (EXIT.serviceFailed) for a supervisor to restart it. Returns the
 * function that stops watching. Call it after start() resolved.
 */
export function watchFailures(plan: Plan | (() => Plan), orchestrator: Orchestrator, onFailed: (service: string, error: unknown) => void): () => void {
  let fired = false;
  const current = typeof plan === 'function' ? plan : () => plan;
  const listener = (event: TransitionEvent): void => {
    if (fired || event.to !== 'failed') return;
    if (current().services.get(event.service)?.config.onFailed === 'keep') return;
    fired = true;
    onFailed(event.service, event.error);
  };
  orchestrator.on('transition', listener);
  return () => void orchestrator.off('transition', listener);
}

/**
 * Puts a graph under the process's fault handling while it runs (fault-guard.ts): an unhandled
 * rejection traced to a service crashes it (its restart policy applies), an uncaught exception
 * calls `onUncaught`, which is to stop the graph. The process listeners are installed once
 * however many graphs run, and removed with the last one: when the orchestrator reports that
 * the graph stopped, or when the returned function is called.
 */
export function guardFaults(plan: Plan, orchestrator: Orchestrator, logger: Logger, onUncaught: (fault: Fault) => void, reloader?: Reloader): () => void {
  const owners = codeOwners(plan);
  // a reload changes which files belong to which service
  reloader?.onPlan((next) => {
    owners.clear();
    for (const [file, services] of codeOwners(next)) owners.set(file, services);
    plan = next;
  });
  const release = guardGraph({
    owner: orchestrator,
    owners,
    report: (service, error, message) => {
      const kind = service === undefined ? undefined : plan.services.get(service)?.config.kind;
      logger.child(service === undefined ? { service: 'hendrix' } : { service, ...(kind === undefined ? {} : { kind }) }).error({ err: error }, message);
    },
    locate: (service) => plan.services.get(service)?.location,
    crash: (service, error, generation) => orchestrator.crash(service, error, generation),
    stop: onUncaught,
  });
  const done = (): void => {
    orchestrator.off('stopped', done);
    release();
  };
  orchestrator.on('stopped', done);
  return done;
}

/** Logs the faults kept while no graph ran yet (guardBeforeGraph), in order, once a logger exists. */
export function logEarlyFaults(early: EarlyGuard, logger: Logger): void {
  for (const r of early.reports) logger.child({ service: r.service ?? 'hendrix' }).error({ err: r.error }, r.message);
}

/** Logs the plan's warnings (an expired certificate, an open hub beyond loopback), once each. */
export function logWarnings(plan: Plan, logger: Logger): void {
  for (const w of plan.warnings) {
    logger.child({ service: w.service ?? 'hendrix' }).warn({ code: w.code, path: w.path, location: w.location, hint: w.hint }, w.message);
  }
}

/**
 * Plans a manifest and starts its graph, resolving once every service is ready — the same
 * launch the CLI's `hendrix up` does, for tests and for apps that embed Hendrix.
 */
export async function upWith(manifestPath: string | readonly string[], options: UpOptions): Promise<Hendrix> {
  const files = [...(typeof manifestPath === 'string' ? [manifestPath] : manifestPath), ...(options.overlays ?? [])];
  const handleFaults = options.handleFaults ?? true;
  // the plan imports app modules: their top-level code may fail before the graph is guarded
  const early = handleFaults ? guardBeforeGraph() : undefined;
  let plan: Plan;
  let logger: Logger;
  try {
    plan = await createPlan(files, { ...options, preload: true });
    const logging = plan.manifest.logging;
    logger =
      options.logger ??
      (await createRootLogger({ level: logging.level, ...(logging.format ? { format: logging.format } : {}), isTTY: options.isTTY ?? false }));
  } catch (error) {
    early?.release();
    throw error;
  }
  logWarnings(plan, logger);
  // forking workers is the CLI's: an embedding app owns its process (docs/workers.md)
  if (plan.manifest.workers !== 1) logger.child({ service: 'hendrix' }).warn({ workers: plan.manifest.workers }, 'up() runs the graph in this one process: `workers` applies to `hendrix up`');
  if (early) logEarlyFaults(early, logger);
  if (early?.uncaught) {
    early.release();
    process.exitCode ??= EXIT.uncaughtException;
    throw early.uncaught.error;
  }
  const orchestrator = orchestrate(plan, logger, options.services);
  if (options.onTransition) orchestrator.on('transition', options.onTransition);
  let fault: Fault | undefined;
  const reloader = createReloader({ files, planOptions: { ...options, environment: { ...(options.environment ?? process.env) } }, plan, orchestrator, logger });
  // from before the start: a timer a starting service set may throw too; released when the graph stops
  const release = handleFaults
    ? guardFaults(
        plan,
        orchestrator,
        logger,
        (f) => {
          if (fault) return;
          fault = f;
          process.exitCode ??= EXIT.uncaughtException;
          orchestrator.stop().catch(() => undefined);
        },
        reloader,
      )
    : () => undefined;
  early?.release();
  try {
    await orchestrator.start();
  } catch (error) {
    release();
    throw error;
  }
  let failure: Hendrix['failure'];
  watchFailures(() => reloader.plan, orchestrator, (service, error) => {
    failure = { service, error };
    logger.child({ service: 'hendrix' }).error({ failed: service, err: error }, 'a service failed: stopping the graph (onFailed: stop)');
    orchestrator.stop().catch(() => undefined);
  });
  return toHendrix(reloader, orchestrator, logger, () => failure, () => fault);
}
