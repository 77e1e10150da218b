import type { Figure } from '../kinds/contract.js';
import type { Orchestrator, ServiceStats, TransitionEvent, WaitingEvent } from '../runtime/orchestrator.js';
import { toErrorBody, type PrimaryMessage, type ProcessReport, type ProcessServiceReport, type ServiceOp, type WorkerMessage } from './ipc.js';

/** What {@link forwardAdmin} needs from the worker process. */
export interface WorkerAdminOptions {
  readonly orchestrator: Orchestrator;
  /** Whether this process runs the service itself (not a stand-in for one running elsewhere); asked anew after a reload. */
  readonly mine: (service: string) => boolean;
  readonly send: (message: WorkerMessage) => void;
}

/** The admin side of a worker process: what it tells the primary and what it answers. */
export interface WorkerAdmin {
  /** Handles an admin message of the primary (`figures`, `op`, `drain`); false for any other. */
  receive(message: PrimaryMessage): boolean;
  /** Stops forwarding. */
  close(): void;
}

/** The requests a process's figures count: every `http_requests_total` sample of its services. */
export function requestsOf(figures: readonly Figure[]): number {
  let sum = 0;
  for (const f of figures) if (f.name === 'http_requests_total' && f.type === 'counter') sum += f.value;
  return sum;
}

function reportOf(stats: ServiceStats, figures: readonly Figure[], address: string | undefined, errorAt: number | undefined): ProcessServiceReport {
  return {
    state: stats.state,
    since: stats.since,
    restarts: stats.restarts,
    ...(stats.waiting !== undefined ? { waiting: stats.waiting } : {}),
    ...(stats.nextRestartAt !== undefined ? { nextRestartAt: stats.nextRestartAt } : {}),
    stoppedByOperator: stats.stoppedByOperator,
    ...(address !== undefined ? { address } : {}),
    ...(stats.lastError !== undefined && stats.lastError !== null ? { lastError: toErrorBody(stats.lastError), ...(errorAt !== undefined ? { lastErrorAt: errorAt } : {}) } : {}),
    figures,
  };
}

/**
 * Connects a worker's orchestrator to the primary's admin API (docs/workers.md, "Watching
 * workers"): every transition and waiting reason of the services this process runs goes to
 * the primary as it happens — they are rare, so nothing is batched — and the primary's
 * requests are answered: `figures` with the services' state, stats and figures plus the
 * process's memory, CPU and request count; `op` by restarting, stopping or starting a service
 * in this process; `drain` by turning the graph's readiness off ahead of a stop.
 */
export function forwardAdmin(options: WorkerAdminOptions): WorkerAdmin {
  const { orchestrator, mine, send } = options;
  // when each service last carried an error: the primary shows the newest across processes
  const errorAt = new Map<string, number>();
  const onTransition = (event: TransitionEvent): void => {
    if (!mine(event.service)) return;
    if (event.error !== undefined) errorAt.set(event.service, Date.now());
    send({
      hx: 'transition',
      event: {
        service: event.service,
        kind: event.kind,
        from: event.from,
        to: event.to,
        ...(event.ms !== undefined ? { ms: event.ms } : {}),
        ...(event.error !== undefined ? { error: toErrorBody(event.error) } : {}),
        ...(event.attempt !== undefined ? { attempt: event.attempt } : {}),
        ...(event.delay !== undefined ? { delay: event.delay } : {}),
      },
    });
  };
  const onWaiting = (event: WaitingEvent): void => {
    if (mine(event.service)) send({ hx: 'waiting', service: event.service, kind: event.kind, reason: event.reason });
  };
  orchestrator.on('transition', onTransition);
  orchestrator.on('waiting', onWaiting);

  const report = (): ProcessReport => {
    const stats = orchestrator.stats();
    const services: Record<string, ProcessServiceReport> = {};
    let requests = 0;
    for (const name of orchestrator.services) {
      const s = stats[name];
      if (!s || !mine(name)) continue;
      const figures = orchestrator.figures(name);
      requests += requestsOf(figures);
      services[name] = reportOf(s, figures, s.state === 'ready' ? orchestrator.address(name) : undefined, errorAt.get(name));
    }
    const cpu = process.cpuUsage();
    return { services, rss: process.memoryUsage.rss(), cpu: { user: cpu.user, system: cpu.system }, requests };
  };
  const run = (op: ServiceOp, service: string): Promise<void> =>
    op === 'restart' ? orchestrator.restartService(service) : op === 'stop' ? orchestrator.stopService(service) : orchestrator.startService(service);
  const answer = (id: number, work: () => unknown): void => {
    Promise.resolve()
      .then(work)
      .then(
        (value) => send({ hx: 'answer', id, value: value ?? null }),
        (error: unknown) => send({ hx: 'answer-failed', id, error: toErrorBody(error) }),
      );
  };

  return {
    receive(message) {
      switch (message.hx) {
        case 'figures':
          answer(message.id, report);
          return true;
        case 'op':
          answer(message.id, () => run(message.op, message.service));
          return true;
        case 'drain':
          orchestrator.setDraining(message.on);
          return true;
        default:
          return false;
      }
    },
    close() {
      orchestrator.off('transition', onTransition);
      orchestrator.off('waiting', onWaiting);
    },
  };
}
