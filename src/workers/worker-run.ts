import type { Logger } from 'pino';
import { isHendrixError } from '../errors/hendrix-error.js';
import { EXIT } from '../errors/codes.js';
import { createRootLogger, flushLogger } from '../log/logger.js';
import { guardBeforeGraph } from '../runtime/fault-guard.js';
import type { Orchestrator } from '../runtime/orchestrator.js';
import { createPlan, type Plan, type PlanOptions } from '../runtime/plan.js';
import { createReloader, type Reloader, type ReloadResult } from '../runtime/reload.js';
import { guardFaults, logEarlyFaults, logWarnings, orchestrate, watchFailures } from '../runtime/up.js';
import { createWorkerChannels } from './channels.js';
import { toErrorBody, type PrimaryMessage, type WorkerIdentity, type WorkerMessage } from './ipc.js';
import { placeServices, planForRole, runsOf } from './placement.js';
import { forwardAdmin } from './worker-admin.js';
import { setPortZeroResolver } from '../net/listen.js';

/** How a worker process talks to its primary (process.send and its events, in the CLI). */
export interface WorkerIpc {
  send(message: WorkerMessage): void;
  onMessage(listener: (message: PrimaryMessage) => void): void;
  /** The primary is gone (its IPC channel closed). */
  onDisconnect(listener: () => void): void;
}

/** What a worker process runs: the same plan inputs as the primary, and who it is. */
export interface WorkerRunOptions {
  readonly files: readonly string[];
  readonly planOptions: PlanOptions;
  /** `hendrix up SERVICE...`: the services selected; empty for all. */
  readonly selected: readonly string[];
  readonly identity: WorkerIdentity;
  readonly ipc: WorkerIpc;
  readonly isTTY: boolean;
}

/**
 * Runs one worker process: plans the manifest (this process may import app code), runs the
 * services of its role with stand-ins for the others (placement.ts), reports `ready` to the
 * primary, and from then on obeys it — stop, force, reload, revert — until it stops. Signals
 * are the primary's business: a worker ignores SIGINT, SIGTERM and SIGHUP (a terminal's ^C
 * reaches the whole process group; the primary orders the stop across processes). When the
 * primary goes away, the worker stops gracefully. Resolves with the exit code.
 */
export async function runWorker(options: WorkerRunOptions): Promise<number> {
  const { identity, ipc } = options;
  const early = guardBeforeGraph();
  let plan: Plan;
  try {
    const built = await createPlan(options.files, { ...options.planOptions, preload: true });
    plan = planForRole(built, identity.role);
  } catch (error) {
    early.release();
    ipc.send({ hx: 'start-failed', error: toErrorBody(error) });
    return isHendrixError(error) ? error.exitCode : EXIT.startFailed;
  }
  const logging = plan.manifest.logging;
  const root = await createRootLogger({ level: logging.level, ...(logging.format ? { format: logging.format } : {}), isTTY: options.isTTY });
  const logger = root.child({ worker: identity.id });
  try {
    return await serve(plan, logger, options, early);
  } finally {
    await flushLogger(root);
  }
}

async function serve(plan: Plan, logger: Logger, options: WorkerRunOptions, early: ReturnType<typeof guardBeforeGraph>): Promise<number> {
  const { identity, ipc } = options;
  const log = logger.child({ service: 'hendrix' });
  const placement = placeServices(plan, options.selected.length ? plan.graph.closure([...options.selected]) : plan.order);
  const local = identity.role === 'each' ? placement.each : placement.once;
  if (identity.id === 1 || identity.role === 'once') logWarnings(plan, logger);
  logEarlyFaults(early, logger);
  const channels = createWorkerChannels(identity.key, identity, (envelope) => ipc.send(envelope));
  // the once-services' states as the primary last sent them: /readyz in a worker counts them
  let remote: Readonly<Record<string, string>> = {};
  const orchestrator: Orchestrator = orchestrate(plan, logger, local, (service) => channels.link(service), () => remote);
  const reloader: Reloader = createReloader({
    files: options.files,
    planOptions: { ...options.planOptions, environment: { ...options.planOptions.environment } },
    plan,
    orchestrator,
    logger,
    transform: (next) => planForRole(next, identity.role),
  });
  // the primary's admin API sees this process's services through it (stand-ins excluded)
  const admin = forwardAdmin({
    orchestrator,
    mine: (name) => {
      const service = reloader.plan.services.get(name);
      return service !== undefined && runsOf(service) === identity.role;
    },
    send: (message) => ipc.send(message),
  });
  let stopping: Promise<number> | undefined;
  let exitCode: number = EXIT.ok;
  // settles with the exit code once a stop (the primary's order, a fault, a disconnect) is over
  let settled: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (settled = resolve));
  const stop = (): Promise<number> => {
    if (stopping) return stopping;
    stopping = orchestrator.stop().then(
      () => exitCode,
      (error) => {
        log.error({ err: error }, 'stop failed');
        return exitCode === EXIT.ok ? EXIT.stopFailed : exitCode;
      },
    );
    void stopping.then(settled);
    return stopping;
  };
  const release = guardFaults(plan, orchestrator, logger, (fault) => {
    exitCode = EXIT.uncaughtException;
    ipc.send({ hx: 'fault', error: toErrorBody(fault.error) });
    void stop();
  }, reloader);
  early.release();

  const answer = (id: number, run: Promise<ReloadResult>): void => {
    run.then(
      (result) => ipc.send({ hx: 'reloaded', id, result: { applied: result.applied, fingerprint: result.fingerprint, steps: result.report?.steps ?? [] } }),
      (error) => ipc.send({ hx: 'reload-failed', id, error: toErrorBody(error) }),
    );
  };
  // port 0 is resolved by the primary: one port per service listener, shared by every worker
  const ports = new Map<number, (port: number) => void>();
  let portIds = 0;
  setPortZeroResolver((key, host) => {
    const id = ++portIds;
    return new Promise<number>((resolve) => {
      ports.set(id, resolve);
      ipc.send({ hx: 'port', id, key, host });
    });
  });
  ipc.onMessage((message) => {
    switch (message.hx) {
      case 'ch':
        return channels.receive(message);
      case 'states':
        remote = message.states;
        return;
      case 'port':
        ports.get(message.id)?.(message.port);
        return void ports.delete(message.id);
      case 'stop':
        if (message.retire) channels.retire();
        return void stop();
      case 'force':
        exitCode = EXIT.forced;
        return orchestrator.force();
      case 'reload':
        return answer(message.id, reloader.reload(message.options));
      case 'revert':
        return answer(message.id, reloader.revert());
      default:
        admin.receive(message);
    }
  });
  ipc.onDisconnect(() => {
    log.warn('the primary is gone: stopping');
    void stop();
  });

  // stopped before it started (the primary's order came while this process planned)
  const orderedEarly = stopping as Promise<number> | undefined;
  if (orderedEarly) return orderedEarly.finally(release);
  try {
    await orchestrator.start();
  } catch (error) {
    ipc.send({ hx: 'start-failed', error: toErrorBody(error) });
    release();
    return isHendrixError(error) ? error.exitCode : EXIT.startFailed;
  }
  if (stopping) return stopping.finally(release);
  const addresses: Record<string, string> = {};
  for (const name of local) {
    const address = orchestrator.address(name);
    if (address) addresses[name] = address;
  }
  const unwatch = watchFailures(() => reloader.plan, orchestrator, (service, error) => {
    ipc.send({ hx: 'failed', service, error: toErrorBody(error) });
  });
  ipc.send({ hx: 'ready', addresses });
  try {
    return await stopped;
  } finally {
    unwatch();
    admin.close();
    release();
  }
}
