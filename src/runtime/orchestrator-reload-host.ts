import type { Logger } from 'pino';
import { HendrixError } from '../errors/hendrix-error.js';
import { cancelHandovers, completeHandovers } from '../net/listen-handover.js';
import type { Clock } from './clock.js';
import { openFaultWindow, runAsService } from './fault-scope.js';
import { reloadTimeoutError, serviceReloadError, startError, startTimeoutError, stopOutcomeError, stopTimeoutError } from './lifecycle-errors.js';
import { runBounded } from './lifecycle-run.js';
import type { ServicePlan, ServiceState, TransitionEvent } from './orchestrator.js';
import type { BuiltInstance, ReloadHost } from './orchestrator-reload.js';
import { createSlot, stopDeadlineOf, type Op, type Slot } from './orchestrator-slot.js';
import { createSupervisor } from './supervisor.js';

/**
 * The orchestrator's side of a reload: the ReloadHost that applyReload (orchestrator-reload.ts)
 * drives — building and starting instances beside the running ones, bounded reload and rebind
 * calls, swapping instances, draining the replaced ones — over what the engine lends it.
 */

/** What the engine lends its reload host: its slots, clock, lifecycle calls and bookkeeping. */
export interface EngineInternals {
  /** The engine: the graph its services' code runs for (fault tags, socket hand-over). */
  readonly owner: object;
  readonly clock: Clock;
  /** How long an aborted call may take to return before it is abandoned. */
  readonly grace: number;
  readonly log: Logger;
  readonly slots: Map<string, Slot>;
  list(): Slot[];
  setList(list: Slot[]): void;
  running(): boolean;
  transition(s: Slot, to: ServiceState, extra?: Omit<TransitionEvent, 'service' | 'kind' | 'from' | 'to'>): void;
  cancelRestart(s: Slot): void;
  runStop(s: Slot, op: Op): Promise<void>;
  build(s: Slot, plan: ServicePlan, deps: readonly string[]): Promise<BuiltInstance | HendrixError>;
  crashed(s: Slot, generation: number, error: unknown): void;
  reconcile(): void;
  /** The controllers of the reload's calls: stop() and force() abort them. */
  readonly reloadCtls: Set<AbortController>;
  /** The drains of replaced instances: the graph has stopped only once they have. */
  readonly retiring: Set<Promise<void>>;
  /** Their controllers: force() aborts them. */
  readonly retiringCtl: Set<AbortController>;
}

function setPlan(e: EngineInternals, s: Slot, plan: ServicePlan): void {
  if (JSON.stringify(plan.config.restart) !== JSON.stringify(s.plan.config.restart)) s.supervisor = createSupervisor(plan.config.restart, () => e.clock.random());
  s.plan = plan;
  s.location = plan.location;
  s.kind = plan.config.kind || plan.kind.kind;
}

/** Runs one call of a reload under a deadline; a controller stop() and force() can abort. */
async function bounded(e: EngineInternals, s: Slot, timeout: number, task: (signal: AbortSignal) => Promise<void> | void, onTimeout: () => HendrixError, generation = s.generation, registry = e.reloadCtls) {
  const ctl = new AbortController();
  registry.add(ctl);
  let timeoutError: HendrixError | undefined;
  const close = openFaultWindow();
  try {
    const outcome = await runBounded((signal) => runAsService({ service: s.name, generation, owner: e.owner }, () => task(signal)), {
      clock: e.clock,
      timeout,
      grace: e.grace,
      controller: ctl,
      timeoutReason: () => (timeoutError = onTimeout()),
    });
    return { outcome, timeoutError, aborted: ctl.signal.aborted };
  } finally {
    close();
    registry.delete(ctl);
  }
}

/** Starts an instance a reload built; returns why it failed, if it did. */
async function startBuilt(e: EngineInternals, s: Slot, built: BuiltInstance, plan: ServicePlan, install: boolean): Promise<HendrixError | undefined> {
  const timeout = plan.config.startTimeout;
  const t0 = e.clock.now();
  if (install) {
    e.cancelRestart(s);
    s.terminal = false;
    s.generation = built.cell.generation;
    s.instance = built.instance;
    s.cell = built.cell;
    s.used = true;
    s.live = true;
    s.waiting = undefined;
    e.transition(s, 'created');
    e.transition(s, 'starting');
  }
  const run = await bounded(e, s, timeout, (signal) => built.instance.start(signal), () => startTimeoutError(s, timeout, install ? s.waiting : undefined), built.cell.generation);
  const { outcome } = run;
  let error: HendrixError | undefined;
  if (outcome.timedOut) error = run.timeoutError ?? startTimeoutError(s, timeout);
  else if (outcome.status === 'error') error = startError(outcome.error, s);
  else if (outcome.status === 'abandoned' || run.aborted) error = new HendrixError('HX_ERR_RELOAD_REFUSED', { message: `${s.name}: start cancelled: the graph began to stop during the reload`, service: s.name });
  const ms = e.clock.now() - t0;
  if (!install) return error;
  if (error) {
    // not `failed`: that would be a failure of the running graph (onFailed); the rollback stops it
    s.lastError = error;
    s.log.error({ err: error }, 'start failed during a reload');
    return error;
  }
  s.waiting = undefined;
  s.readyAt = e.clock.now();
  s.startMs = ms;
  e.transition(s, 'ready', { ms });
  s.log.info({ ms }, 'ready');
  return undefined;
}

/** Stops an instance that is not (or no longer) the slot's running one; logs failures. */
async function stopBuilt(e: EngineInternals, s: Slot, built: BuiltInstance, plan: ServicePlan, what: string, registry = e.reloadCtls): Promise<void> {
  const timeout = stopDeadlineOf(plan);
  const t0 = e.clock.now();
  // a drain goes on through a graceful stop of the graph; force() cuts it
  const run = await bounded(e, s, timeout, (signal) => built.instance.stop(signal), () => stopTimeoutError(s, timeout, false, undefined), built.cell.generation, registry);
  const { outcome } = run;
  const error = stopOutcomeError(s, timeout, outcome);
  if (error) s.log.error({ err: error }, `${what}: stop failed`);
  else s.log.info({ ms: e.clock.now() - t0 }, what);
}

/** The ReloadHost of an engine: what applyReload may do to its slots. */
export function createReloadHost(e: EngineInternals): ReloadHost {
  const log = e.log.child({ service: 'hendrix' });
  const call = (s: Slot, what: 'reload' | 'rebind', timeout: number, task: (signal: AbortSignal) => Promise<void>) =>
    bounded(e, s, timeout, task, () => reloadTimeoutError(s, what, timeout)).then((run) => {
      const { outcome } = run;
      if (outcome.timedOut || outcome.status === 'abandoned') throw run.timeoutError ?? reloadTimeoutError(s, what, timeout);
      if (outcome.status === 'error') throw serviceReloadError(outcome.error, s, what);
      if (run.aborted) throw new HendrixError('HX_ERR_RELOAD_REFUSED', { message: `${s.name}: ${what} cancelled: the graph began to stop`, service: s.name });
    });
  return {
    log,
    now: () => e.clock.now(),
    running: () => e.running(),
    slot: (name) => e.slots.get(name),
    addSlot: (plan, deps) => {
      const kind = plan.config.kind || plan.kind.kind;
      const s = createSlot(plan, kind, { deps, dependents: [] }, e.log.child({ service: plan.name, kind }), () => e.clock.random());
      s.since = e.clock.now();
      e.slots.set(plan.name, s);
      e.setList([...e.list(), s]);
      return s;
    },
    dropSlot: (s) => {
      e.slots.delete(s.name);
      e.setList(e.list().filter((x) => x !== s));
    },
    build: async (s, plan, deps) => {
      const built = await e.build(s, plan, deps);
      if (built instanceof HendrixError) throw built;
      return built;
    },
    start: async (s, built, plan, install) => {
      const error = await startBuilt(e, s, built, plan, install);
      if (error) throw error;
    },
    call,
    stopAside: (s, built, plan) => {
      // a replacement that does not stay never takes the running instance's sockets
      cancelHandovers(e.owner, s.name);
      return stopBuilt(e, s, built, plan, 'replacement stopped');
    },
    stopInstalled: async (s) => {
      if (!s.live || !s.instance) return;
      const op: Op = { kind: 'stop', ctl: new AbortController(), returned: false };
      s.op = op;
      try {
        await e.runStop(s, op);
      } finally {
        s.op = undefined;
      }
    },
    swap: (s, built, plan) => {
      const old: BuiltInstance = { instance: s.instance!, cell: s.cell! };
      s.instance = built.instance;
      s.cell = built.cell;
      s.generation = built.cell.generation;
      s.used = true;
      s.live = true;
      s.readyAt = e.clock.now();
      setPlan(e, s, plan);
      return old;
    },
    setPlan: (s, plan) => setPlan(e, s, plan),
    retire: (s, old, plan) => {
      // the reload committed: the new instance takes the listening sockets, the old one drains
      completeHandovers(e.owner, s.name);
      const draining: Promise<void> = stopBuilt(e, s, old, plan, 'previous instance drained', e.retiringCtl).finally(() => {
        e.retiring.delete(draining);
        e.reconcile();
      });
      e.retiring.add(draining);
    },
    commit: (spec) => {
      const present = new Set(spec.order);
      for (const s of e.list()) {
        s.deps = spec.graph.dependencies(s.name).filter((d) => present.has(d));
        s.dependents = spec.graph.dependents(s.name).filter((d) => present.has(d));
        if (s.cell) s.cell.deps = s.deps;
      }
      const rank = new Map(spec.order.map((n, i) => [n, i]));
      e.setList([...e.list()].sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity)));
    },
    unpin: (s) => {
      s.pinned = false;
      const pending = s.pendingCrash;
      if (pending && s.state === 'ready') {
        s.pendingCrash = undefined;
        e.crashed(s, s.generation, pending.error);
      }
    },
  };
}
