import { HendrixError } from '../errors/hendrix-error.js';
import { createRootLogger, flushLogger } from '../log/logger.js';
import { formatDuration } from '../kinds/units.js';
import { createPlan } from '../runtime/plan.js';
import { guardFaults, logEarlyFaults, logWarnings, orchestrate, watchFailures } from '../runtime/up.js';
import { guardBeforeGraph, type EarlyGuard, type Fault } from '../runtime/fault-guard.js';
import type { Plan } from '../runtime/plan.js';
import { isHendrixError } from '../errors/hendrix-error.js';
import { EXIT } from '../errors/codes.js';
import { MANIFEST_OPTIONS, parseCommandArgs } from './args.js';
import { HELP } from './help.js';
import { manifestArgs, reportError, type CliIO } from './io.js';
import { LiveView, type TransitionEvent } from './live-view.js';
import type { ControlServer } from '../runtime/control-socket.js';
import { createReloader } from '../runtime/reload.js';
import { createNotifier } from '../runtime/notify.js';
import { drainDelay } from '../runtime/drain-delay.js';
import { instanceRoutes, reloadLogging } from './control.js';
import { openUpControl, type UpControl } from './up-control.js';
import { createInstanceAdmin } from '../admin/instance.js';
import type { PlanWatcher } from './watch.js';
import type { Manifest } from '../manifest/types.js';
import { workerIdentityOf } from '../workers/ipc.js';
import { parseWorkersFlag, workerCount } from '../workers/count.js';

const UP_OPTIONS = { ...MANIFEST_OPTIONS, control: { type: 'string' }, watch: { type: 'boolean' }, workers: { type: 'string' } } as const;

/**
 * `hendrix up [SERVICE...]`: plan, start in dependency order, run until SIGINT/SIGTERM, stop in
 * reverse order. A second signal forces the stop (exit 2). An uncaught exception of app code
 * stops the graph the same graceful way and exits 5; an unhandled rejection traced to a service
 * crashes only that service (fault-guard.ts). SIGHUP, `hendrix reload` (through the control
 * socket) and, with `--watch`, a saved file reload the edited manifest into the running graph.
 */
export async function upCommand(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommandArgs('up', argv, UP_OPTIONS, true);
  if (values.help) return io.stdout.write(`${HELP.up}\n`), 0;
  // a worker process forked by the primary of a graph with workers
  const identity = workerIdentityOf(io.env);
  if (identity) return (await import('./up-worker.js')).upWorker(values, positionals, io, identity);
  const workersFlag = parseWorkersFlag(values.workers);
  // the plan imports app modules: their top-level code may fail before the graph is guarded
  const early = guardBeforeGraph();
  try {
    return await up(values, positionals, io, early, workersFlag);
  } finally {
    early.release();
  }
}

type UpValues = Parameters<typeof manifestArgs>[1] & { control?: string | undefined; watch?: boolean | undefined };
type WorkersFlag = ReturnType<typeof parseWorkersFlag>;

async function up(values: UpValues, positionals: string[], io: CliIO, early: EarlyGuard, workersFlag: WorkersFlag): Promise<number> {
  const args = manifestArgs(io, values);
  // the control socket binds while the plan is made; it is closed however up() ends
  const control = openUpControl({ files: args.files, flag: values.control, cwd: io.cwd, env: io.env });
  try {
    return await run(values, positionals, io, early, args, control, workersFlag);
  } finally {
    await control.close();
  }
}

async function run(values: UpValues, positionals: string[], io: CliIO, early: EarlyGuard, args: ReturnType<typeof manifestArgs>, control: UpControl, workersFlag: WorkersFlag): Promise<number> {
  let plan: Plan;
  // the primary of a graph with workers imports no app code (its workers do)
  const single = (manifest: Manifest): boolean => workerCount(manifest, workersFlag) <= 1;
  try {
    plan = await createPlan(args.files, { ...args.options, preload: single, importModules: single });
  } catch (error) {
    for (const r of early.reports) reportError(io, r.error);
    throw error;
  }
  const { resolved, graph } = plan;

  for (const name of positionals) {
    if (!graph.nodes.includes(name)) {
      throw new HendrixError('HX_ERR_UNKNOWN_SERVICE', {
        message: `no service named \`${name}\` in the manifest`,
        hint: `services: ${graph.nodes.join(', ')}`,
      });
    }
  }

  const count = workerCount(plan.manifest, workersFlag);
  if (count > 1) {
    early.release();
    const { runPrimary } = await import('./up-primary.js');
    return runPrimary({ plan, count, positionals, watch: Boolean(values.watch), io, args, control });
  }
  const isTTY = Boolean(io.stdout.isTTY);
  const logging = resolved.manifest.logging;
  const format = logging.format ?? (isTTY ? 'pretty' : 'json');
  const view = isTTY && format === 'pretty' ? new LiveView(io.stdout) : undefined;
  const logger = await createRootLogger({
    level: logging.level,
    format,
    isTTY,
    ...(view ? { output: view.logSink } : {}),
  });
  const log = logger.child({ service: 'hendrix' });
  logWarnings(plan, logger);
  logEarlyFaults(early, logger);
  if (early.uncaught) {
    await flushLogger(logger);
    return reportError(io, early.uncaught.error);
  }
  const orchestrator = orchestrate(plan, logger, positionals);
  // the admin API (status, events, metrics, operations); its event log hears the start too
  const admin = createInstanceAdmin({ orchestrator, plan: () => reloader.plan, env: args.options.env });
  admin.board.watch(orchestrator, () => reloader.plan.baseDir);
  let stopRequestedFlag = false;
  // systemd's notify socket (docs/deploy.md); READY=1's status line, once the graph is ready
  const notifier = createNotifier({ env: io.env, log });
  let readyStatus: (() => string) | undefined;
  const reloads = admin.board.reloadOutcomes(reloadLogging(log, io));
  const reloader = createReloader({
    files: args.files,
    // the process environment is the one it started with; .env files are read again
    planOptions: { ...args.options, environment: { ...args.options.environment } },
    plan,
    orchestrator,
    logger,
    onResult: reloads.onResult,
    onError: reloads.onError,
    onReloading: (on) => {
      admin.board.reloading(on);
      if (readyStatus === undefined) return;
      if (on) notifier.reloading('reloading');
      else notifier.ready(readyStatus());
    },
  });
  const routes = instanceRoutes(reloader, () => stopRequestedFlag, reloads, admin.routes);
  control.serve(routes);
  let controlServer: ControlServer;
  try {
    // a second instance for this manifest is refused here, before anything starts
    controlServer = await control.ready(plan, logger);
    await admin.listen({ control: controlServer.path, routes, plan, log });
  } catch (error) {
    await flushLogger(logger);
    return reportError(io, error);
  }
  const selected = positionals.length ? graph.closure(positionals) : [...graph.order];
  const kindOf = (name: string) => resolved.manifest.services[name]?.kind ?? '?';
  const startTimes: { service: string; ms: number }[] = [];
  if (view) orchestrator.on('waiting', (event) => view.waiting(event));
  orchestrator.on('transition', (event: TransitionEvent) => {
    view?.update(event);
    if (event.to === 'ready' && event.ms !== undefined) startTimes.push({ service: event.service, ms: Math.round(event.ms) });
  });

  let signals = 0;
  let forced = false;
  let failed: { service: string; error: unknown } | undefined;
  let faulted: Fault | undefined;
  let stopping: Promise<number> | undefined;
  // a stop asked from outside (a signal, POST /stop) of a ready graph waits drainDelay with readiness off
  let stopAsked = false;
  const skipDelay = new AbortController();
  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      notifier.stopping('stopping');
      admin.board.setState('stopping');
      await drainDelay(orchestrator, stopAsked && readyStatus !== undefined ? resolved.manifest.drainDelay : 0, log, skipDelay.signal);
      const rows = selected.map((name) => ({ name, kind: kindOf(name), waitsOn: graph.dependents(name) })).reverse();
      view?.begin(rows, 'stopping', 'ready');
      try {
        await orchestrator.stop();
        view?.end();
        log.info('stopped');
        if (forced) return EXIT.forced;
        if (faulted) return reportError(io, faulted.error), EXIT.uncaughtException;
        if (failed) {
          if (isHendrixError(failed.error)) reportError(io, failed.error);
          return EXIT.serviceFailed;
        }
        return EXIT.ok;
      } catch (error) {
        view?.end();
        if (forced) return EXIT.forced;
        log.error({ err: error }, 'stop failed');
        // the supervisor must restart a process that had an uncaught exception, however it stopped
        if (faulted) return reportError(io, faulted.error), EXIT.uncaughtException;
        return reportError(io, error);
      }
    })();
    return stopping;
  };
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => (wake = resolve)).then(() => void (stopRequestedFlag = true));
  let ready = false;
  let hangupWhileStarting = false;
  const unhangup = io.onHangup(() => {
    if (stopRequestedFlag) return void log.warn('SIGHUP ignored: the graph is stopping');
    log.info({ signal: 'SIGHUP' }, 'reloading');
    if (ready) reloader.request();
    else hangupWhileStarting = true;
  });
  let watcher: PlanWatcher | undefined;
  const unsubscribe = io.onSignal((signal) => {
    signals++;
    if (signals === 1) {
      log.info({ signal }, 'stopping');
      stopAsked = true;
      wake();
    } else {
      forced = true;
      log.warn({ signal }, 'forced quit');
      skipDelay.abort();
      orchestrator.force();
    }
  });
  // POST /stop: the first signal's stop (drainDelay included); a signal after it forces
  admin.onStop(() => {
    if (signals++ > 0) return;
    log.info({ by: 'POST /stop' }, 'stopping');
    stopAsked = true;
    wake();
  });

  const releaseFaults = guardFaults(
    plan,
    orchestrator,
    logger,
    (fault) => {
      if (faulted) return;
      faulted = fault;
      log.info({ exit: EXIT.uncaughtException }, `stopping after an uncaught exception (exit ${EXIT.uncaughtException})`);
      wake();
    },
    reloader,
  );
  early.release();

  try {
    view?.begin(selected.map((name) => ({ name, kind: kindOf(name), waitsOn: graph.dependencies(name) })), 'starting');
    const started = Date.now();
    const starting = orchestrator.start();
    starting.catch(() => {}); // a signal during start wins the race below; stop() settles start
    try {
      await Promise.race([starting, stopRequested]);
    } catch (error) {
      view?.end();
      if (signals > 0 || faulted) return await stop();
      // the rendered diagnostic below says it all; the log keeps the code (the stack at debug)
      log.error(isHendrixError(error) && error.code !== 'HX_ERR_INTERNAL' ? { code: error.code } : { err: error }, 'start failed');
      log.debug({ err: error }, 'start failed: details');
      return reportError(io, error);
    }
    view?.end();
    if (signals > 0 || faulted) return await stop();
    if (values.watch) {
      const { changedNames, watchPlan } = await import('./watch.js');
      const env = args.options.env;
      watcher = watchPlan(reloader.plan, env, (files) => {
        log.info({ files }, `changed: ${changedNames(files)}`);
        reloader.request();
      });
      reloader.onPlan((next) => watcher?.update(next));
      log.info('watching the manifest and app files for changes');
    }
    const order = startTimes.map((s) => `${s.service} ${formatDuration(s.ms)}`).join(', ');
    log.info({ order: startTimes, ms: Date.now() - started }, `started: ${order}`);
    const addresses: Record<string, string> = {};
    for (const name of selected) addresses[name] = orchestrator.address(name) ?? kindOf(name);
    log.info({ services: addresses, control: controlServer.path }, `ready: ${Object.entries(addresses).map(([n, a]) => `${n} ${a}`).join(', ')}`);
    readyStatus = () => `ready: ${selected.map((n) => `${n} ${orchestrator.address(n) ?? kindOf(n)}`).join(', ')}`;
    notifier.ready(readyStatus());
    admin.board.setState('running');
    const unwatch = watchFailures(() => reloader.plan, orchestrator, (service, error) => {
      failed = { service, error };
      log.error({ failed: service }, `${service} failed: stopping the graph (onFailed: stop; exit ${EXIT.serviceFailed})`);
      wake();
    });
    ready = true;
    if (hangupWhileStarting) reloader.request();
    await stopRequested;
    unwatch();
    return await stop();
  } finally {
    watcher?.close();
    unhangup();
    unsubscribe();
    releaseFaults();
    await notifier.close();
    await admin.close();
    await flushLogger(logger);
  }
}
