import { HendrixError } from '../errors/hendrix-error.js';
import type { Orchestrator } from '../runtime/orchestrator.js';
import type { Plan } from '../runtime/plan.js';
import type { Board } from './board.js';
import { edgesOf, serviceStatus } from './status.js';
import type { AdminSource, InstanceStatus, MetricsSnapshot, ServiceStatus, StatusJson } from './types.js';
import { hendrixVersion } from '../runtime/package-root.js';

/** What the admin source of any instance needs (one process, or the primary of workers). */
export interface InstanceSourceOptions {
  /** The plan the graph runs now (it changes with every applied reload). */
  readonly plan: () => Plan;
  readonly board: Board;
  /** The environment overlay (`--env`), if any. */
  readonly env?: string | undefined;
  /** The control socket path, once it listens. */
  readonly control: () => string | undefined;
  /** When `hendrix up` started (ms since the epoch). */
  readonly startedAt: number;
  /** Stops the whole instance the way SIGTERM does (up.ts's wake). */
  readonly stopAll: () => void;
}

/** The instance part of `GET /status`, as any instance (one process, the primary) answers it. */
export function instanceStatus(options: InstanceSourceOptions, plan: Plan, draining: boolean): InstanceStatus {
  return {
    version: hendrixVersion(),
    pid: process.pid,
    startedAt: new Date(options.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
    files: [...plan.manifestFiles],
    ...(options.env ? { env: options.env } : {}),
    fingerprint: plan.fingerprint,
    state: options.board.state,
    draining,
    control: options.control() ?? '',
    rss: process.memoryUsage.rss(),
  };
}

/** What the admin source of one process needs. */
export interface LocalSourceOptions extends InstanceSourceOptions {
  readonly orchestrator: Orchestrator;
}

/**
 * The {@link AdminSource} of a graph running in one process: status and metrics from its
 * orchestrator, plan and board; the operations through the orchestrator, each recorded as an
 * `operation` event before it runs.
 */
export function createLocalSource(options: LocalSourceOptions): AdminSource {
  const { orchestrator, board } = options;
  /**
   * Records the operation, once the service is known to run (an unknown name is no event) and
   * the instance is not stopping: during the drain delay the orchestrator still runs, but a
   * service restarted then would come up only to be stopped.
   */
  const operation = (op: 'restart' | 'stop' | 'start', name: string) => {
    if (!orchestrator.services.includes(name)) throw unknownService(name, orchestrator.services);
    if (board.state === 'stopping') throw new HendrixError('HX_ERR_SERVICE_OP', { message: `${op} ${name} refused: the instance is stopping`, service: name });
    board.operation(op, name);
  };

  const services = (): ServiceStatus[] => {
    const plan = options.plan();
    const stats = orchestrator.stats();
    const stateOf = (name: string) => stats[name]?.state;
    return orchestrator.services.flatMap((name) => {
      const s = stats[name];
      if (!s) return [];
      return [serviceStatus({ name, plan, stats: s, figures: orchestrator.figures(name), address: orchestrator.address(name), stateOf })];
    });
  };

  const status = async (): Promise<StatusJson> => {
    const plan = options.plan();
    const list = services();
    return {
      instance: instanceStatus(options, plan, orchestrator.readiness().draining),
      services: list,
      edges: edgesOf(plan, list.map((s) => s.name)),
      lastEventId: board.events.lastId,
    };
  };

  const metrics = async (): Promise<MetricsSnapshot> => {
    const plan = options.plan();
    const stats = orchestrator.stats();
    return {
      services: orchestrator.services.map((name) => ({
        name,
        kind: plan.services.get(name)?.config.kind ?? '?',
        state: stats[name]?.state ?? 'waiting',
        restarts: stats[name]?.restarts ?? 0,
        figures: orchestrator.figures(name),
      })),
      reloads: { ...board.reloads },
    };
  };

  return {
    status,
    metrics,
    async restart(name) {
      operation('restart', name);
      await orchestrator.restartService(name);
    },
    async stop(name) {
      operation('stop', name);
      await orchestrator.stopService(name);
    },
    async start(name) {
      operation('start', name);
      await orchestrator.startService(name);
    },
    stopAll() {
      board.operation('stop-graph');
      options.stopAll();
    },
  };
}

/** HX_ERR_UNKNOWN_SERVICE for an operation on a service the graph does not run. */
export function unknownService(name: string, services: readonly string[]): HendrixError {
  return new HendrixError('HX_ERR_UNKNOWN_SERVICE', { message: `no service named \`${name}\` runs in this graph`, hint: `services: ${services.join(', ')}` });
}
