import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { EXIT } from '../errors/codes.js';
import { isHendrixError } from '../errors/hendrix-error.js';
import { createRootLogger, flushLogger } from '../log/logger.js';
import type { Plan } from '../runtime/plan.js';
import { logWarnings } from '../runtime/up.js';
import { CoordinatorHost, type CoordinatorFactory } from '../workers/coordinator-host.js';
import { WORKER_ENV, type PrimaryMessage, type WorkerIdentity } from '../workers/ipc.js';
import { placeServices } from '../workers/placement.js';
import { Primary, type WorkerProcess } from '../workers/primary.js';
import { createPrimaryReloader } from '../workers/primary-reload.js';
import { createBoard } from '../admin/board.js';
import { dashboardRoute } from '../admin/dashboard.js';
import { adminRoutes } from '../admin/routes.js';
import { openAdminListener } from '../admin/tcp.js';
import { drainDelay } from '../runtime/drain-delay.js';
import { createNotifier } from '../runtime/notify.js';
import { createPrimarySource } from '../workers/admin-source.js';
import { shareOnceStates } from '../workers/once-states.js';
import { instanceRoutes, reloadLogging } from './control.js';
import { manifestArgs, reportError, type CliIO } from './io.js';
import type { UpControl } from './up-control.js';
import type { PlanWatcher } from './watch.js';

/** What the primary's run gets from `hendrix up`. */
export interface PrimaryRun {
  readonly plan: Plan;
  readonly count: number;
  readonly positionals: readonly string[];
  readonly watch: boolean;
  readonly io: CliIO;
  readonly args: ReturnType<typeof manifestArgs>;
  readonly control: UpControl;
}

/** Forks worker processes of this CLI through node:cluster; their listening sockets are shared. */
function clusterFork(io: CliIO, live: Map<string, WorkerProcess>): (identity: WorkerIdentity) => WorkerProcess {
  const script = io.script;
  cluster.setupPrimary({ ...(script ? { exec: script.path, args: [...script.args], execArgv: [...script.execArgv] } : {}), silent: false });
  return (identity) => {
    // systemd's notify socket and watchdog are the primary's: a worker that wrote READY=1 or
    // pinged the watchdog would speak for the whole instance (an unset value is left out)
    const worker = cluster.fork({ [WORKER_ENV]: JSON.stringify(identity), NOTIFY_SOCKET: undefined, WATCHDOG_USEC: undefined, WATCHDOG_PID: undefined });
    const post = (message: PrimaryMessage): void => {
      // a worker that failed or is exiting may have closed its end already: the send fails
      // with EPIPE, which is no news (its exit follows) — without a callback it would be an
      // 'error' event nobody listens to, and the primary would crash
      if (worker.isConnected()) worker.send(message, undefined, () => undefined);
    };
    // what is sent before the worker says hello would be lost (a stop ordered during its start)
    let held: PrimaryMessage[] | undefined = [];
    worker.on('message', (message: { hx?: unknown }) => {
      if (message?.hx !== 'hello' || !held) return;
      const waiting = held;
      held = undefined;
      for (const m of waiting) post(m);
    });
    const proc: WorkerProcess = {
      pid: worker.process.pid,
      send(message) {
        if (held) held.push(message);
        else post(message);
      },
      kill(signal) {
        worker.process.kill(signal);
      },
      onMessage(listener) {
        worker.on('message', listener);
      },
      onExit(listener) {
        worker.on('exit', (code, signal) => {
          live.delete(identity.key);
          listener(code, signal);
        });
      },
    };
    live.set(identity.key, proc);
    return proc;
  };
}

async function coordinatorsOf(plan: Plan, services: readonly string[], logger: Logger, live: Map<string, WorkerProcess>): Promise<CoordinatorHost> {
  const host = new CoordinatorHost({ log: logger, send: (key, envelope) => live.get(key)?.send(envelope) });
  for (const name of services) {
    const service = plan.services.get(name)!;
    const factory = await service.kind.workers?.coordinator?.(service.config as never);
    if (factory) host.add(name, service.config, factory as CoordinatorFactory);
  }
  return host;
}

/**
 * `hendrix up` as the primary of a graph served by workers (`workers:` above 1): it planned the
 * manifest without importing app code, forks the workers (and the process of the
 * once-services), serves the control socket, and turns signals into stops and reloads across
 * the processes. Resolves with the exit code.
 */
export async function runPrimary(run: PrimaryRun): Promise<number> {
  const { plan, io } = run;
  const isTTY = Boolean(io.stdout.isTTY);
  const logging = plan.manifest.logging;
  const logger = await createRootLogger({ level: logging.level, format: logging.format ?? (isTTY ? 'pretty' : 'json'), isTTY });
  const log = logger.child({ service: 'hendrix' });
  try {
    return await supervise(run, logger, log);
  } catch (error) {
    await flushLogger(logger);
    return reportError(io, error);
  } finally {
    await flushLogger(logger);
  }
}

async function supervise(run: PrimaryRun, logger: Logger, log: Logger): Promise<number> {
  const { plan, io, control } = run;
  const startedAt = Date.now();
  logWarnings(plan, logger);
  const selected = run.positionals.length ? plan.graph.closure([...run.positionals]) : [...plan.order];
  const placement = placeServices(plan, selected);
  const live = new Map<string, WorkerProcess>();
  const coordinators = await coordinatorsOf(plan, selected, logger, live);
  let failed: { service: string; error: unknown } | undefined;
  let wake: () => void = () => {};
  let stopRequestedFlag = false;
  const stopRequested = new Promise<void>((resolve) => (wake = resolve)).then(() => void (stopRequestedFlag = true));
  const primary = new Primary({
    plan,
    placement,
    count: run.count,
    logger,
    fork: clusterFork(io, live),
    coordinators,
    onFailed(service, error) {
      if (failed) return;
      failed = { service, error };
      log.error({ failed: service }, `${service} failed: stopping the graph (onFailed: stop; exit ${EXIT.serviceFailed})`);
      wake();
    },
  });
  // a worker's /readyz counts the once-services as the once process reports them
  shareOnceStates(primary);
  // systemd's notify socket is the primary's alone (the workers' environment leaves it out)
  const notifier = createNotifier({ env: io.env, log });
  let readyStatus: (() => string) | undefined;
  // the admin API's event log hears the workers from their fork on
  const board = createBoard({ baseDir: () => reloader.plan.baseDir });
  const reloads = board.reloadOutcomes(reloadLogging(log, io));
  const reloader = createPrimaryReloader({
    files: run.args.files,
    planOptions: { ...run.args.options, environment: { ...run.args.options.environment } },
    plan,
    selected: run.positionals,
    primary,
    coordinators,
    logger,
    onResult: reloads.onResult,
    onError: reloads.onError,
    onReloading(on) {
      board.reloading(on);
      if (readyStatus === undefined) return;
      if (on) notifier.reloading('reloading');
      else notifier.ready(readyStatus());
    },
  });
  // readiness off in every process ahead of a stop asked from outside (drainDelay)
  let draining = false;
  const drainable = {
    setDraining(on: boolean): void {
      draining = on;
      primary.broadcast({ hx: 'drain', on });
      board.events.push('instance', { state: on ? 'draining' : board.state });
    },
  };
  const skipDelay = new AbortController();
  let stopAsked = false;
  let controlPath: string | undefined;
  const source = createPrimarySource({
    primary,
    plan: () => reloader.plan,
    board,
    env: run.args.options.env,
    control: () => controlPath,
    startedAt,
    draining: () => draining,
    stopAll: () => {
      log.info({ by: 'POST /stop' }, 'stopping');
      stopAsked = true;
      wake();
    },
  });
  const routes = instanceRoutes(reloader, () => stopRequestedFlag, reloads, {
    'GET /workers': () => ({ body: { pid: process.pid, workers: primary.processes() } }),
    ...adminRoutes(source, board.events),
    'GET /dashboard': dashboardRoute(),
  });
  control.serve(routes);
  const controlServer = await control.ready(plan, logger);
  controlPath = controlServer.path;
  // admin.listen: the same routes over TCP, with the token (HX_ERR_ADMIN_LISTEN: nothing started yet)
  const tcp = await openAdminListener({ plan, routes, log });

  let signals = 0;
  let ready = false;
  const unsignal = io.onSignal((signal) => {
    signals++;
    if (signals === 1) {
      log.info({ signal }, 'stopping');
      stopAsked = true;
      wake();
    } else {
      log.warn({ signal }, 'forced quit');
      skipDelay.abort();
      primary.force();
    }
  });
  const unhangup = io.onHangup(() => {
    if (stopRequestedFlag) return void log.warn('SIGHUP ignored: the graph is stopping');
    log.info({ signal: 'SIGHUP' }, 'reloading');
    if (ready) reloader.request();
  });
  let watcher: PlanWatcher | undefined;
  const stop = async (): Promise<number> => {
    notifier.stopping('stopping');
    board.setState('stopping');
    // a load balancer stops sending before any worker drains (docs/workers.md, "Stop")
    if (ready) await drainDelay(drainable, stopAsked ? reloader.plan.manifest.drainDelay : 0, log, skipDelay.signal);
    const code = await primary.stop();
    log.info('stopped');
    if (code !== EXIT.ok) return code;
    if (failed) {
      if (isHendrixError(failed.error)) reportError(io, failed.error);
      return EXIT.serviceFailed;
    }
    return code;
  };
  try {
    const started = Date.now();
    log.info({ workers: run.count, pid: process.pid }, `starting ${run.count} workers${placement.once.length ? ` and the process of ${placement.once.join(', ')}` : ''}`);
    const starting = primary.start();
    starting.catch(() => undefined);
    let addresses: Record<string, string>;
    try {
      const first = await Promise.race([starting, stopRequested]);
      if (first === undefined) return await stop();
      addresses = first;
    } catch (error) {
      if (signals > 0) return await stop();
      log.error(isHendrixError(error) ? { code: error.code } : { err: error }, 'start failed');
      return reportError(io, error);
    }
    if (run.watch) {
      const { changedNames, watchPlan } = await import('./watch.js');
      watcher = watchPlan(reloader.plan, run.args.options.env, (files) => {
        log.info({ files }, `changed: ${changedNames(files)}`);
        reloader.request();
      });
      reloader.onPlan((next) => watcher?.update(next));
      log.info('watching the manifest and app files for changes');
    }
    const pids = primary.processes().flatMap((p) => (p.role === 'each' ? [p.pid] : []));
    const once = primary.processes().find((p) => p.role === 'once');
    log.info(
      { services: addresses, control: controlServer.path, workers: primary.processes(), ms: Date.now() - started },
      `ready: ${Object.entries(addresses).map(([n, a]) => `${n} ${a}`).join(', ')} (${run.count} workers, pids ${pids.join(' ')}${once ? `; once process pid ${once.pid}` : ''})`,
    );
    ready = true;
    board.setState('running');
    readyStatus = () => `ready: ${Object.entries(primary.addresses()).map(([n, a]) => `${n} ${a}`).join(', ')} (${run.count} workers)`;
    notifier.ready(readyStatus());
    await stopRequested;
    return await stop();
  } finally {
    watcher?.close();
    unhangup();
    unsignal();
    source.close();
    board.events.close();
    await tcp?.close();
    await notifier.close();
  }
}
