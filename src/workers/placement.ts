import { HendrixError } from '../errors/hendrix-error.js';
import type { Service, ServiceKind, WorkerPlacement } from '../kinds/contract.js';
import type { Plan, PlannedService } from '../runtime/plan.js';
import { crossingEdges, runsOf as kindRunsOf, workersGraphError } from '../runtime/plan-workers.js';

/**
 * Where each service of a plan runs when the graph has workers, and in which order the two
 * kinds of process start: `onceFirst` when a per-worker service depends on a once-service
 * (the once process starts first and stops last), else the workers start first.
 */
export interface Placement {
  readonly runs: ReadonlyMap<string, WorkerPlacement>;
  readonly onceFirst: boolean;
  /** The selected services that run in every worker, in start order. */
  readonly each: readonly string[];
  /** The selected services that run once, in start order. */
  readonly once: readonly string[];
}

/** Where one planned service runs: its kind's `workers.runs`, once by default. */
export function runsOf(service: Pick<PlannedService, 'kind' | 'config'>): WorkerPlacement {
  return kindRunsOf(service.kind, service.config);
}

/**
 * Places the services of a plan (`selected`: those `hendrix up SERVICE...` runs, all by
 * default). Throws HX_ERR_WORKERS_GRAPH when edges cross between the two kinds of process in
 * both directions: the graph could not start in two stages.
 */
export function placeServices(plan: Plan, selected: readonly string[] = plan.order): Placement {
  const runs = new Map<string, WorkerPlacement>();
  for (const [name, service] of plan.services) runs.set(name, runsOf(service));
  const chosen = new Set(selected);
  const { toEach, toOnce } = crossingEdges(
    plan.order.filter((name) => chosen.has(name)),
    (name) => plan.graph.dependencies(name),
    runs,
  );
  const error = workersGraphError({ toEach, toOnce }, (name) => plan.services.get(name)?.location);
  if (error) throw error;
  const order = plan.order.filter((name) => chosen.has(name));
  return {
    runs,
    onceFirst: toOnce.length > 0,
    each: order.filter((name) => runs.get(name) === 'each'),
    once: order.filter((name) => runs.get(name) === 'once'),
  };
}

/** A service that stands for one running in other processes: ready at once, nothing to hand out. */
function absentService(name: string, where: string): Service {
  return {
    async start() {},
    async stop() {},
    async reload() {},
    handle() {
      throw new HendrixError('HX_ERR_WORKER_PEER', {
        message: `${name} runs ${where}: its handle does not reach this process`,
        service: name,
      });
    },
  };
}

/**
 * The plan as one process of the cluster runs it: the services that run elsewhere are
 * replaced by stand-ins — the kind's `workers.remote` when it has one (in the once process
 * only), else an absent service that is ready at once (the primary starts the two kinds of
 * process in order, so it is ready when this process starts) and whose handle throws.
 */
export function planForRole(plan: Plan, role: WorkerPlacement): Plan {
  const services = new Map<string, PlannedService>();
  for (const [name, service] of plan.services) {
    const runs = runsOf(service);
    if (runs === role) {
      services.set(name, service);
      continue;
    }
    const remote = role === 'once' ? service.kind.workers?.remote : undefined;
    const where = runs === 'each' ? 'in every worker' : 'in the process of the once-services';
    const kind: ServiceKind = Object.freeze({
      ...service.kind,
      create: remote ?? (() => absentService(name, where)),
      // a stand-in takes any change in place (the real one is reloaded where it runs)
      canReload: remote ? service.kind.canReload : () => true,
      provision: undefined,
      preload: undefined,
    });
    services.set(name, Object.freeze({ ...service, kind }));
  }
  return Object.freeze({ ...plan, services });
}
