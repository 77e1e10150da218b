import { HendrixError, isHendrixError, type SourceLocation } from '../errors/hendrix-error.js';
import { currentFaultTag, type FaultTag } from './fault-scope.js';
import { projectFrames } from './fault-stack.js';

/**
 * The process's `uncaughtException` and `unhandledRejection` handling while graphs run: whoever
 * runs a graph (`up()`, the CLI) guards it for as long as it runs. The listeners are installed
 * with the first guarded graph and removed with the last, once each however many graphs run.
 *
 * A fault is attributed to a service by the stack (the first project frame in a file only one
 * service runs) and by the async context (fault-scope.ts): a tag of the same service adds which
 * instance; a stack that names no single service leaves the tag to decide. Then:
 * - an uncaught exception stops every guarded graph gracefully: Node documents that the process
 *   is not in a safe state after one, so the graph drains and the process exits for its
 *   supervisor (systemd, Docker, Kubernetes) to start a clean one;
 * - an attributed unhandled rejection is a crash of its service: the restart policy applies,
 *   the other services keep running;
 * - an unattributed one is logged as the process's and nothing is stopped — a stray promise of
 *   a library is not worth every service (Node's own default since v15 is to exit).
 */

/** One fault, as the guard attributed it. */
export interface Fault {
  /** What raised it. */
  readonly origin: 'uncaughtException' | 'unhandledRejection';
  /** The service it was attributed to; undefined when neither the stack nor the context said. */
  readonly service: string | undefined;
  /** The error as reported: HX_ERR_UNCAUGHT_EXCEPTION or HX_ERR_UNHANDLED_REJECTION, the thrown value as cause. */
  readonly error: HendrixError;
}

/** A graph under guard. */
export interface GuardedGraph {
  /** The orchestrator running it (tags name it as their owner). */
  readonly owner: object;
  /** Which services run each project file (codeOwners()). */
  readonly owners: ReadonlyMap<string, readonly string[]>;
  /** Logs a fault as the service's (or as the process's, for undefined), at error level. */
  report(service: string | undefined, error: HendrixError, message: string): void;
  /** Where the services are declared, for a fault without a project frame. */
  locate(service: string): SourceLocation | undefined;
  /** Crashes a service of this graph (an attributed rejection); false when it was not running that instance. */
  crash(service: string, error: unknown, generation: number | undefined): boolean;
  /** An uncaught exception: stop the graph gracefully (and exit, for the CLI). */
  stop(fault: Fault): void;
}

interface GuardState {
  readonly graphs: Set<GuardedGraph>;
  installed: boolean;
}

const KEY = Symbol.for('hendrix.faults.guard');
type GlobalWithGuard = typeof globalThis & { [KEY]?: GuardState };
const state: GuardState = ((globalThis as GlobalWithGuard)[KEY] ??= { graphs: new Set(), installed: false });

/**
 * Puts a graph under guard; returns the function that releases it (idempotent). The process
 * listeners are installed with the first graph and removed with the last.
 */
export function guardGraph(graph: GuardedGraph): () => void {
  state.graphs.add(graph);
  if (!state.installed) {
    state.installed = true;
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onRejection);
  }
  return () => {
    if (!state.graphs.delete(graph) || state.graphs.size > 0 || !state.installed) return;
    state.installed = false;
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  };
}

/** A fault reported while no graph ran yet, kept until there is a logger for it. */
export interface EarlyReport {
  readonly service: string | undefined;
  readonly error: HendrixError;
  readonly message: string;
}

/** The guard of the time before a graph runs, from {@link guardBeforeGraph}. */
export interface EarlyGuard {
  /** What was reported so far, in order (to log once a logger exists). */
  readonly reports: readonly EarlyReport[];
  /** The first uncaught exception, if any: the run must not start. */
  readonly uncaught: Fault | undefined;
  /** Stops guarding (idempotent); call once the graph is under its own guard. */
  release(): void;
}

/**
 * Guards the time before a graph runs: the plan imports app modules, whose top-level code may
 * already set a timer that throws. Nothing runs yet that could be blamed or stopped, so the
 * faults are kept for the caller to log once its logger exists; an uncaught exception means
 * the graph must not start.
 */
export function guardBeforeGraph(): EarlyGuard {
  const reports: EarlyReport[] = [];
  let uncaught: Fault | undefined;
  const release = guardGraph({
    owner: {},
    owners: new Map(),
    locate: () => undefined,
    crash: () => false,
    report: (service, error, message) => void reports.push({ service, error, message }),
    stop: (fault) => void (uncaught ??= fault),
  });
  return {
    reports,
    get uncaught() {
      return uncaught;
    },
    release,
  };
}

/** Whether any graph is under guard now. */
export function guarded(): boolean {
  return state.installed;
}

function onUncaught(error: unknown, origin: NodeJS.UncaughtExceptionOrigin): void {
  // an exception in here would end the process at once (exit 7): nothing may escape
  try {
    for (const graph of [...state.graphs]) {
      const blame = attribute(error, graph);
      const fault = toFault('uncaughtException', error, blame, graph, origin);
      graph.report(blame?.service, fault.error, 'uncaught exception: stopping the graph');
      graph.stop(fault);
    }
  } catch (failure) {
    process.stderr.write(`hendrix: the uncaught exception handler failed: ${String(failure)}\n`);
  }
}

function onRejection(reason: unknown): void {
  try {
    const graphs = [...state.graphs];
    for (const graph of graphs) {
      const blame = attribute(reason, graph);
      if (blame === undefined) continue;
      const fault = toFault('unhandledRejection', reason, blame, graph);
      // the orchestrator logs the crash (and what the restart policy does) on the service's logger
      if (!graph.crash(blame.service, fault.error, blame.generation)) {
        graph.report(blame.service, fault.error, 'unhandled rejection, not a crash: that instance is not running now (stopping, restarting or replaced)');
      }
      return;
    }
    const first = graphs[0];
    if (first === undefined) return;
    const fault = toFault('unhandledRejection', reason, undefined, first);
    first.report(undefined, fault.error, 'unhandled rejection (no service to blame): the graph keeps running');
  } catch (failure) {
    process.stderr.write(`hendrix: the unhandled rejection handler failed: ${String(failure)}\n`);
  }
}

/** Whose fault, in one graph: a service (and which instance, when the context knows). */
function attribute(error: unknown, graph: GuardedGraph): { service: string; generation: number | undefined; at: SourceLocation | undefined } | undefined {
  const frames = projectFrames(error);
  const tag: FaultTag | undefined = currentFaultTag();
  const own = tag?.owner === graph.owner ? tag : undefined;
  for (const frame of frames) {
    const services = graph.owners.get(frame.file);
    if (services?.length !== 1) continue;
    const service = services[0]!;
    return { service, generation: own?.service === service ? own.generation : undefined, at: frame };
  }
  if (own !== undefined) return { service: own.service, generation: own.generation, at: frames[0] };
  return undefined;
}

const what = (value: unknown): string => (value instanceof Error ? value.message : typeof value === 'string' ? value : String(value));

function toFault(
  origin: Fault['origin'],
  thrown: unknown,
  blame: ReturnType<typeof attribute>,
  graph: GuardedGraph,
  nodeOrigin?: NodeJS.UncaughtExceptionOrigin,
): Fault {
  const service = blame?.service;
  const at = blame?.at ?? projectFrames(thrown)[0];
  const subject = service ?? 'the process';
  const kind = origin === 'uncaughtException' ? (nodeOrigin === 'unhandledRejection' ? 'unhandled rejection (strict mode)' : 'uncaught exception') : 'unhandled rejection';
  const error = new HendrixError(origin === 'uncaughtException' ? 'HX_ERR_UNCAUGHT_EXCEPTION' : 'HX_ERR_UNHANDLED_REJECTION', {
    message: `${subject}: ${kind}: ${isHendrixError(thrown) ? `[${thrown.code}] ` : ''}${what(thrown)}`,
    ...(service === undefined ? {} : { service }),
    ...(at ? { location: at } : service === undefined ? {} : withLocation(graph.locate(service))),
    cause: thrown,
  });
  return { origin, service, error };
}

const withLocation = (location: SourceLocation | undefined): { location?: SourceLocation } => (location ? { location } : {});
