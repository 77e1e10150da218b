import { HendrixError } from '../errors/hendrix-error.js';
import { errorFromJson } from '../errors/render.js';
import { edgesOf, serviceStatus, toAdminError, toFigureValues } from '../admin/status.js';
import type { AdminSource, MetricsSnapshot, ServiceStatus, StatusJson, WorkerStatus } from '../admin/types.js';
import { instanceStatus, type InstanceSourceOptions } from '../admin/local-source.js';
import type { Plan } from '../runtime/plan.js';
import type { ProcessReport, ServiceOp } from './ipc.js';
import { slotKey, type Primary, type PrimaryEvent, type SlotView } from './primary.js';
import { aggregateService, stateOfSlot, type ServiceInProcess } from './worker-status.js';

/** How long status waits for a worker's figures before it shows what it last knew of it. */
const REPORT_TIMEOUT_MS = 2_000;

/** What the admin source of a primary needs. */
export interface PrimarySourceOptions extends InstanceSourceOptions {
  readonly primary: Primary;
  /** Whether readiness is off ahead of a stop (drainDelay). */
  readonly draining: () => boolean;
}

/** A slot with what its process last said, for one status or metrics read. */
interface SlotRead {
  readonly view: SlotView;
  readonly key: string;
  readonly report: ProcessReport | undefined;
}

/**
 * The {@link AdminSource} of the primary of a graph with workers (docs/workers.md, "Watching
 * workers"): status and metrics ask every ready process for its figures and add them up per
 * service (aggregateService), with each worker's own state, figures, memory, CPU and requests
 * beside; the primary's event log gets the workers' transitions (with `worker` in the data)
 * and the `worker` events of the slots. restart, stop and start of a service go to each
 * process that runs it, one after the other (the other workers serve meanwhile); a service
 * stopped by an operator is stopped again in a worker that replaces a crashed one.
 */
export function createPrimarySource(options: PrimarySourceOptions): AdminSource & { close(): void } {
  const { primary, board } = options;
  // per slot: what its process last reported (kept for one that does not answer in time); per
  // process (pid: a slot has two during a rolling reload): each service's state from its transitions
  const lastReports = new Map<string, { pid: number | undefined; report: ProcessReport }>();
  const known = new Map<number | undefined, Map<string, { state: string; since: number }>>();
  const operatorStopped = new Set<string>();

  const unwatch = primary.watch((event: PrimaryEvent) => {
    const baseDir = options.plan().baseDir;
    if (event.type === 'worker') {
      if (event.state === 'exited' || event.state === 'died') known.delete(event.pid);
      if (event.state === 'replaced') restopIn(event.worker);
      const { type: _type, ...data } = event;
      return void board.events.push('worker', data);
    }
    if (event.type === 'waiting') return void board.events.push('waiting', { service: event.service, kind: event.kind, reason: event.reason, worker: event.worker });
    const t = event.event;
    const states = known.get(event.pid) ?? new Map<string, { state: string; since: number }>();
    known.set(event.pid, states);
    states.set(t.service, { state: t.to, since: Date.now() });
    const error = t.error ? toAdminError(errorFromJson(t.error), baseDir) : undefined;
    board.events.push('transition', {
      service: t.service,
      kind: t.kind,
      from: t.from,
      to: t.to,
      ...(t.ms !== undefined ? { ms: Math.round(t.ms) } : {}),
      ...(error ? { error } : {}),
      ...(t.attempt !== undefined ? { attempt: t.attempt } : {}),
      ...(t.delay !== undefined ? { delay: Math.round(t.delay) } : {}),
      worker: event.worker,
      pid: event.pid,
    });
  });

  /** A process that replaced a crashed one starts every service: one an operator stopped is stopped again. */
  const restopIn = (worker: string): void => {
    const slot = primary.processes().find((s) => slotKey(s.id) === worker);
    for (const service of operatorStopped) {
      if (!slot || primary.placement.runs.get(service) !== slot.role) continue;
      primary.request(slot.id, { hx: 'op', op: 'stop', service }).catch(() => undefined);
    }
  };

  const readSlots = async (): Promise<SlotRead[]> => {
    const views = primary.processes();
    return Promise.all(
      views.map(async (view): Promise<SlotRead> => {
        const key = slotKey(view.id);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, REPORT_TIMEOUT_MS, undefined)));
        const asked = view.state === 'ready' ? (primary.request(view.id, { hx: 'figures' }) as Promise<ProcessReport>).catch(() => undefined) : Promise.resolve(undefined);
        const fresh = await Promise.race([asked, late]);
        clearTimeout(timer);
        if (fresh) lastReports.set(key, { pid: view.pid, report: fresh });
        const kept = lastReports.get(key);
        const report = fresh ?? (kept && kept.pid === view.pid && view.state === 'ready' ? kept.report : undefined);
        return { view, key, report };
      }),
    );
  };

  /** Every selected service in start order, with its state in each process that runs it. */
  const perService = (plan: Plan, slots: readonly SlotRead[]): { name: string; role: 'each' | 'once'; processes: ServiceInProcess[] }[] => {
    const { placement } = primary;
    const selected = new Set([...placement.each, ...placement.once]);
    return plan.order
      .filter((name) => selected.has(name))
      .map((name) => {
        const role = placement.runs.get(name) ?? 'once';
        const processes = slots
          .filter((s) => s.view.role === role)
          .map((s): ServiceInProcess => {
            const said = known.get(s.view.pid)?.get(name);
            const alive = s.view.state === 'ready' || s.view.state === 'starting';
            return {
              worker: s.key,
              report: s.report?.services[name],
              state: alive && said ? said.state : stateOfSlot(s.view.state),
              since: alive && said ? said.since : s.view.since,
              replacements: s.view.restarts,
            };
          });
        return { name, role, processes };
      });
  };

  const workersOf = (slots: readonly SlotRead[]): WorkerStatus[] =>
    slots.map(({ view, key, report }) => ({
      id: key,
      role: view.role,
      pid: view.pid,
      state: view.state,
      since: new Date(view.since).toISOString(),
      restarts: view.restarts,
      rss: report?.rss,
      cpuSeconds: report ? (report.cpu.user + report.cpu.system) / 1e6 : undefined,
      requests: report?.requests ?? 0,
    }));

  const status = async (): Promise<StatusJson> => {
    const plan = options.plan();
    const slots = await readSlots();
    const rows = perService(plan, slots).map((row) => ({ ...row, ...aggregateService(row.processes) }));
    const states = new Map(rows.map((r) => [r.name, r.stats.state]));
    const addresses = primary.addresses();
    const services: ServiceStatus[] = rows.map((row) => ({
      ...serviceStatus({ name: row.name, plan, stats: row.stats, figures: row.figures, address: row.processes.find((p) => p.report?.address)?.report?.address ?? (row.stats.state === 'ready' ? addresses[row.name] : undefined), stateOf: (n) => states.get(n) }),
      placement: row.role,
      workers: Object.fromEntries(row.processes.map((p) => [p.worker, { state: p.report?.state ?? p.state, figures: toFigureValues(p.report?.figures ?? []) }])),
    }));
    return {
      instance: { ...instanceStatus(options, plan, options.draining()), workers: workersOf(slots) },
      services,
      edges: edgesOf(plan, services.map((s) => s.name)),
      lastEventId: board.events.lastId,
    };
  };

  const metrics = async (): Promise<MetricsSnapshot> => {
    const plan = options.plan();
    const slots = await readSlots();
    return {
      services: perService(plan, slots).map((row) => {
        const { stats, figures } = aggregateService(row.processes);
        return { name: row.name, kind: plan.services.get(row.name)?.config.kind ?? '?', state: stats.state, restarts: stats.restarts, figures };
      }),
      workers: workersOf(slots),
      reloads: { ...board.reloads },
    };
  };

  /** An operation on a service in every process that runs it, one after the other; the first error ends it. */
  const operate = async (op: ServiceOp, service: string): Promise<void> => {
    const role = primary.placement.runs.get(service);
    const { each, once } = primary.placement;
    if (!role || !(role === 'each' ? each : once).includes(service)) {
      throw new HendrixError('HX_ERR_UNKNOWN_SERVICE', { message: `no service named \`${service}\` runs in this instance`, hint: `services: ${[...each, ...once].join(', ')}` });
    }
    // as in one process: not while the graph starts, reloads or stops
    if (board.state !== 'running') throw new HendrixError('HX_ERR_SERVICE_OP', { message: `cannot ${op} ${service}: the graph is ${board.state}`, service });
    // a process being replaced meanwhile starts afresh (and stops again what an operator stopped)
    const slots = primary.processes().filter((slot) => slot.role === role && slot.state === 'ready');
    if (slots.length === 0) throw new HendrixError('HX_ERR_SERVICE_OP', { message: `cannot ${op} ${service}: no process that runs it is ready`, service });
    board.operation(op, service);
    if (op === 'stop') operatorStopped.add(service);
    else operatorStopped.delete(service);
    for (const slot of slots) await primary.request(slot.id, { hx: 'op', op, service });
  };

  return {
    status,
    metrics,
    restart: (service) => operate('restart', service),
    stop: (service) => operate('stop', service),
    start: (service) => operate('start', service),
    stopAll() {
      board.operation('stop-graph');
      options.stopAll();
    },
    close: unwatch,
  };
}
