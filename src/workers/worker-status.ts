import { errorFromJson } from '../errors/render.js';
import type { Figure } from '../kinds/contract.js';
import type { ServiceState, ServiceStats } from '../runtime/orchestrator.js';
import type { ProcessServiceReport } from './ipc.js';
import { sumFigures } from './figures-sum.js';

/** One service in one process, as the primary knows it: reported, or inferred from the process's own state. */
export interface ServiceInProcess {
  /** The slot id (`1`, `once`). */
  readonly worker: string;
  /** The process's report, when it answered; undefined for one not ready (starting, restarting, failed). */
  readonly report: ProcessServiceReport | undefined;
  /** Its state when there is no report: from the last transitions it sent, else from its process's state. */
  readonly state: string;
  readonly since: number;
  /** Replacements of this slot's process after a crash: each restarted the service too. */
  readonly replacements: number;
}

/**
 * How bad a state is, for "the worst over the processes": failed > restarting > starting (and
 * created, waiting) > stopping > stopped; ready is the best — a service is ready only when it
 * is ready in every process that runs it.
 */
const RANK: Readonly<Record<string, number>> = { ready: 0, stopped: 1, stopping: 2, waiting: 3, created: 3, starting: 3, restarting: 4, failed: 5 };

/** The state a slot of the primary means for the services of its process (a process with no report). */
export function stateOfSlot(slotState: string): ServiceState {
  switch (slotState) {
    case 'failed':
    case 'restarting':
    case 'starting':
    case 'stopping':
    case 'stopped':
      return slotState;
    default:
      return 'starting';
  }
}

/**
 * The stats of one service over the processes that run it, as one process's orchestrator
 * would give them (src/admin/status.ts renders them): the state ready only when ready in all,
 * else the worst, since when the process in that state got there (the latest such change);
 * restarts summed (the services' own and their processes' replacements); the newest last
 * error; what a starting one waits for, and when a restarting one restarts, from the process
 * whose state it shows; and the figures summed over the processes.
 */
export function aggregateService(processes: readonly ServiceInProcess[]): { stats: ServiceStats; figures: Figure[] } {
  const stateOf = (p: ServiceInProcess): string => p.report?.state ?? p.state;
  const sinceOf = (p: ServiceInProcess): number => p.report?.since ?? p.since;
  let worst: ServiceInProcess | undefined;
  for (const p of processes) {
    const rank = RANK[stateOf(p)] ?? 3;
    const bestSoFar = worst === undefined ? -1 : (RANK[stateOf(worst)] ?? 3);
    if (rank > bestSoFar || (rank === bestSoFar && worst !== undefined && sinceOf(p) > sinceOf(worst))) worst = p;
  }
  let newest: ProcessServiceReport | undefined;
  for (const p of processes) {
    const r = p.report;
    if (r?.lastError && (newest === undefined || (r.lastErrorAt ?? 0) > (newest.lastErrorAt ?? 0))) newest = r;
  }
  const restarts = processes.reduce((n, p) => n + (p.report?.restarts ?? 0) + p.replacements, 0);
  const shown = worst?.report;
  const stats: ServiceStats = {
    state: (worst ? stateOf(worst) : 'waiting') as ServiceState,
    startedAt: undefined,
    startMs: undefined,
    restarts,
    lastError: newest?.lastError ? errorFromJson(newest.lastError) : undefined,
    waiting: shown?.waiting,
    since: worst ? sinceOf(worst) : Date.now(),
    nextRestartAt: shown?.nextRestartAt,
    stoppedByOperator: processes.some((p) => p.report?.stoppedByOperator === true),
  };
  return { stats, figures: sumFigures(processes.map((p) => p.report?.figures ?? [])) };
}
