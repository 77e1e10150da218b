import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { HendrixError, type PathSegment } from '../errors/hendrix-error.js';
import type { ServiceConfig } from '../manifest/types.js';
import { systemClock, type Clock } from './clock.js';
import type { Figure, GraphView, ServiceContext } from '../kinds/contract.js';
import {
  aggregateError,
  crashError,
  createError,
  dependencyFailedError,
  peerError,
  restartLimitError,
  startError,
  startTimeoutError,
  stopOutcomeError,
  stopTimeoutError,
} from './lifecycle-errors.js';
import { runBounded } from './lifecycle-run.js';
import { applyReload, selectSpec, type BuiltInstance, type ReloadReport, type ReloadSpec } from './orchestrator-reload.js';
import { createReloadHost, type EngineInternals } from './orchestrator-reload-host.js';
import { currentFaultTag, openFaultWindow, runAsService, type FaultTag } from './fault-scope.js';
import { setListenScope } from '../net/listen-handover.js';
import type { Orchestrator, OrchestratorOptions, ServicePlan, ServiceState, ServiceStats, TransitionEvent } from './orchestrator.js';
import { startService, stopService, type OperationHost } from './orchestrator-ops.js';
import { cancelled, createSlot, deferred, forced, isService, stopDeadlineOf, type Deferred, type InstanceCell, type Op, type Slot } from './orchestrator-slot.js';

// a listening socket is handed over between two instances of one service of the same graph:
// the graph is the orchestrator whose start or reload call the listening code runs in
setListenScope(() => {
  const owner = currentFaultTag()?.owner;
  return typeof owner === 'object' && owner !== null ? owner : undefined;
});

/** The phase of the whole graph. */
type Phase = 'idle' | 'starting' | 'running' | 'rollback' | 'stopping' | 'stopped' | 'failed';

/**
 * The orchestrator behind {@link Orchestrator}: a reconciler. Each service has one lifecycle
 * call at most in flight; after any change, one pass decides per service whether it should run
 * (the graph is up, it is not failed or held for a restart, every dependency is ready) and
 * starts it, or aborts its start, or stops it once none of its dependents runs. Start order,
 * parallel branches, reverse stop, rollback, and stopping dependents around a restart all
 * follow from that one rule.
 *
 * It is one class (over the 400-line guideline) on purpose: every method reads and writes the
 * same slots under the reconciler's invariants — at most one call in flight per service, a
 * service live only while its dependencies are ready — and splitting it would mean checking
 * them again at each boundary. Slot bookkeeping, bounded calls, errors and the supervisor's
 * decisions live in their own files; so does applying a reload (orchestrator-reload.ts), which
 * works on the same slots through what `#internals()` lends it (orchestrator-reload-host.ts)
 * while it keeps them pinned, out of the reconciler's way; and so do the operations an operator
 * asks on one service (orchestrator-ops.ts: stop, start), which set a slot's flags and leave the
 * rest to the reconciler.
 */
export class OrchestratorEngine extends EventEmitter implements Orchestrator {
  readonly #slots = new Map<string, Slot>();
  #list: Slot[] = [];
  /** Instances a reload replaced, draining: the graph has stopped only once they have. */
  readonly #retiring = new Set<Promise<void>>();
  /** The controllers of the retiring instances' stops, for force(). */
  readonly #retiringCtl = new Set<AbortController>();
  #reloading = false;
  /** The controllers of a reload's calls (replacement starts, reload, rebind), for stop() and force(). */
  readonly #reloadCtls = new Set<AbortController>();
  readonly #only: readonly string[] | undefined;
  readonly #clock: Clock;
  readonly #grace: number;
  readonly #rollbackGrace: number;
  readonly #log: Logger;
  readonly #baseDir: string;
  readonly #locate: OrchestratorOptions['locate'];
  readonly #cluster: OrchestratorOptions['cluster'];
  readonly #remoteStates: OrchestratorOptions['remoteStates'];
  #phase: Phase = 'idle';
  #forced = false;
  #createsDone = false;
  readonly #startErrors: HendrixError[] = [];
  readonly #stopErrors: HendrixError[] = [];
  #started: Deferred<void> | undefined;
  #stopped: Deferred<void> | undefined;
  #reconciling = false;
  #dirty = false;
  #draining = false;
  /** Called after every reconcile: operations waiting for a service to settle. */
  readonly #afterPass = new Set<() => void>();

  /** What every service sees of the graph (`ctx.graph`). */
  readonly #graphView: GraphView = Object.freeze({ readiness: (services?: readonly string[]) => this.readiness(services) });

  constructor(options: OrchestratorOptions) {
    super();
    this.#clock = options.clock ?? systemClock;
    this.#grace = options.abortGrace ?? 2000;
    this.#rollbackGrace = options.rollbackGrace ?? 1000;
    this.#log = options.logger;
    this.#baseDir = options.baseDir;
    this.#locate = options.locate;
    this.#cluster = options.cluster;
    this.#remoteStates = options.remoteStates;
    const { graph } = options;
    for (const name of options.only ?? []) {
      if (!graph.nodes.includes(name)) {
        throw new HendrixError('HX_ERR_UNKNOWN_SERVICE', { message: `no service named \`${name}\``, hint: `services: ${graph.nodes.join(', ')}` });
      }
    }
    const selected = options.only?.length ? graph.closure(options.only) : [...graph.order];
    const chosen = new Set(selected);
    const plans = new Map(options.services.map((p) => [p.name, p]));
    for (const name of selected) {
      const plan = plans.get(name);
      if (!plan) throw new HendrixError('HX_ERR_INTERNAL', { message: `the graph names ${name}, but no service plan has that name` });
      const kind = plan.config.kind || plan.kind.kind;
      const slot = createSlot(
        plan,
        kind,
        { deps: graph.dependencies(name).filter((d) => chosen.has(d)), dependents: graph.dependents(name).filter((d) => chosen.has(d)) },
        options.logger.child({ service: name, kind }),
        () => this.#clock.random(),
      );
      slot.since = this.#clock.now();
      this.#slots.set(name, slot);
      this.#list.push(slot);
    }
    this.#only = options.only?.length ? [...options.only] : undefined;
  }

  get services(): readonly string[] {
    return this.#list.map((s) => s.name);
  }

  // --- public API -------------------------------------------------------------------------

  start(): Promise<void> {
    if (this.#phase !== 'idle') {
      return Promise.reject(
        new HendrixError('HX_ERR_USAGE', {
          message: this.#started ? 'the graph was already started' : 'the graph was stopped before it started',
          hint: 'an orchestrator runs its graph once; build a new one to start again',
        }),
      );
    }
    this.#phase = 'starting';
    this.#started = deferred<void>();
    void this.#createAll().catch((cause: unknown) => {
      this.#log.error({ err: cause }, 'internal error');
      this.#started?.reject(new HendrixError('HX_ERR_INTERNAL', { message: 'internal error while creating services', cause }));
    });
    return this.#started.promise;
  }

  stop(): Promise<void> {
    if (this.#stopped) return this.#stopped.promise;
    const stopped = (this.#stopped = deferred<void>());
    if (this.#phase === 'idle') this.#phase = 'stopped';
    if (this.#phase === 'stopped' || this.#phase === 'failed') stopped.resolve();
    else if (this.#phase !== 'rollback') {
      // a rollback in progress settles this promise when it is done; its errors belong to start()
      this.#phase = 'stopping';
      // a reload in progress is cut short and rolled back; its services stop once it is
      for (const ctl of this.#reloadCtls) if (!ctl.signal.aborted) ctl.abort(cancelled());
      this.#reconcile();
    }
    return stopped.promise;
  }

  force(): void {
    if (this.#phase === 'idle' || this.#phase === 'stopped' || this.#phase === 'failed') return;
    this.#forced = true;
    if (this.#phase === 'starting' || this.#phase === 'running') this.stop().catch(() => undefined);
    for (const s of this.#list) if (s.op && !s.op.returned && !s.op.ctl.signal.aborted) s.op.ctl.abort(forced());
    for (const ctl of [...this.#retiringCtl, ...this.#reloadCtls]) if (!ctl.signal.aborted) ctl.abort(forced());
  }

  state(name: string): ServiceState {
    return this.#slot(name).state;
  }

  states(): Record<string, ServiceState> {
    return Object.fromEntries(this.#list.map((s) => [s.name, s.state]));
  }

  handle(name: string): unknown {
    const s = this.#slots.get(name);
    return s?.state === 'ready' ? s.instance?.handle?.() : undefined;
  }

  address(name: string): string | undefined {
    const s = this.#slots.get(name);
    return s?.state === 'ready' ? s.instance?.address?.() : undefined;
  }

  crash(name: string, error: unknown, generation?: number): boolean {
    const s = this.#slots.get(name);
    if (s === undefined || (generation !== undefined && generation !== s.generation)) return false;
    const live = (s.state === 'ready' && s.op?.kind !== 'stop') || (s.state === 'starting' && s.op?.kind === 'start');
    if (!live || (this.#phase !== 'running' && this.#phase !== 'starting')) return false;
    this.#crashed(s, s.generation, error);
    return true;
  }

  stats(): Record<string, ServiceStats> {
    return Object.fromEntries(
      this.#list.map((s) => [
        s.name,
        {
          state: s.state,
          startedAt: s.readyAt,
          startMs: s.startMs,
          restarts: s.restarts,
          lastError: s.lastError,
          waiting: s.waiting?.reason,
          since: s.since,
          nextRestartAt: s.state === 'restarting' ? s.restartAt : undefined,
          stoppedByOperator: s.parked,
        } satisfies ServiceStats,
      ]),
    );
  }

  figures(name: string): readonly Figure[] {
    const s = this.#slot(name);
    if (!s.live || !s.instance?.figures) return [];
    try {
      return s.instance.figures();
    } catch (err) {
      s.log.warn({ err }, 'figures() threw: reported as none');
      return [];
    }
  }

  // --- operations on one service (the admin API) -----------------------------------------

  stopService(name: string): Promise<void> {
    return stopService(this.#operations, name);
  }

  startService(name: string): Promise<void> {
    return startService(this.#operations, name);
  }

  async restartService(name: string): Promise<void> {
    await this.stopService(name);
    await this.startService(name);
  }

  setDraining(on: boolean): void {
    this.#draining = on;
  }

  readiness(services?: readonly string[]): ReturnType<GraphView['readiness']> {
    const remote = this.#remoteStates?.() ?? {};
    const names = services?.length ? services : [...this.#list.map((s) => s.name), ...Object.keys(remote).filter((n) => !this.#slots.has(n))];
    const waiting: Record<string, string> = {};
    for (const name of names) {
      // a service this process does not run and knows nothing of (not selected by `hendrix up
      // web`) is not this process's to answer for; one run by another process of the graph is
      // counted as that process reports it (a stand-in here is not the real service)
      const state = remote[name] ?? this.#slots.get(name)?.state;
      if (state !== undefined && state !== 'ready') waiting[name] = state;
    }
    const ready = !this.#draining && this.#phase === 'running' && Object.keys(waiting).length === 0;
    return { ready, draining: this.#draining, waiting };
  }

  /** What the operations on one service (orchestrator-ops.ts) work through. */
  readonly #operations: OperationHost = {
    random: () => this.#clock.random(),
    slot: (name) => this.#slot(name),
    list: () => this.#list,
    busy: () => {
      if (this.#reloading) return 'a reload is in progress';
      if (this.#phase === 'running') return undefined;
      return this.#phase === 'starting' || this.#phase === 'idle' ? 'the graph is still starting' : 'the graph is stopping';
    },
    live: () => this.#phase === 'running' || this.#phase === 'starting',
    transition: (s, to) => this.#transition(s, to),
    cancelRestart: (s) => this.#cancelRestart(s),
    reconcile: () => this.#reconcile(),
    dependsOn: (s, target) => this.#dependsOn(s, target),
    onChange: (listener) => {
      const afterPass = () => listener();
      this.on('transition', listener);
      this.#afterPass.add(afterPass);
      return () => {
        this.off('transition', listener);
        this.#afterPass.delete(afterPass);
      };
    },
  };

  // --- reconciling ------------------------------------------------------------------------

  #slot(name: string): Slot {
    const s = this.#slots.get(name);
    if (!s) throw new HendrixError('HX_ERR_UNKNOWN_SERVICE', { message: `no service named \`${name}\` is run here`, hint: `services: ${this.services.join(', ')}` });
    return s;
  }

  #reconcile(): void {
    if (this.#reconciling) {
      this.#dirty = true;
      return;
    }
    this.#reconciling = true;
    try {
      do {
        this.#dirty = false;
        this.#pass();
      } while (this.#dirty);
    } finally {
      this.#reconciling = false;
    }
    this.#checkPhase();
    for (const waiter of [...this.#afterPass]) waiter();
  }

  #pass(): void {
    const active = this.#phase === 'starting' || this.#phase === 'running';
    const down = new Set<string>();
    for (const s of this.#list) {
      // #list is in start order: a service's dependencies are decided before it
      if (!active || s.terminal || s.held || s.parked || s.deps.some((d) => down.has(d) || this.#slot(d).state !== 'ready')) down.add(s.name);
    }
    for (const s of this.#list) {
      // a reload is working on it: it decides, and reconciles once it is done
      if (s.pinned) continue;
      if (!active) this.#cancelRestart(s);
      if (!down.has(s.name)) {
        if (active && this.#createsDone && !s.op && !s.live) this.#launch(s, 'start');
      } else if (s.op) {
        if (s.op.kind === 'start' && !s.op.returned && !s.op.ctl.signal.aborted) {
          // in a rollback, a start whose dependencies are fine may finish (or fail: reported too)
          if (this.#phase === 'rollback' && this.#rollbackGrace > 0 && !this.#forced && s.deps.every((d) => this.#slot(d).state === 'ready')) this.#abortLater(s.op);
          else s.op.ctl.abort(cancelled());
        }
      } else if (s.live) {
        const dependentsDown = s.dependents.every((name) => {
          const d = this.#slot(name);
          return !d.live && !d.op;
        });
        if (dependentsDown) this.#launch(s, 'stop');
      } else if (s.held && s.timer === undefined && s.pendingDelay !== undefined) {
        this.#armRestart(s, s.pendingDelay);
      }
    }
  }

  #checkPhase(): void {
    if (this.#phase === 'starting') {
      if (this.#createsDone && this.#list.every((s) => s.state === 'ready')) {
        this.#phase = 'running';
        this.#started?.resolve();
      }
      return;
    }
    if (this.#phase !== 'rollback' && this.#phase !== 'stopping') return;
    if (this.#started && !this.#createsDone) return;
    if (this.#list.some((s) => s.op !== undefined || s.live || s.timer !== undefined) || this.#retiring.size || this.#reloading) return;
    const rollback = this.#phase === 'rollback';
    this.#phase = rollback ? 'failed' : 'stopped';
    for (const s of this.#list) if (s.state !== 'failed' && s.state !== 'stopped') this.#transition(s, 'stopped');
    try {
      this.emit('stopped');
    } catch (err) {
      this.#log.error({ err }, 'stopped listener failed');
    }
    if (rollback) {
      this.#started?.reject(aggregateError('HX_ERR_START_FAILED', this.#startErrors));
      this.#stopped?.resolve();
      return;
    }
    if (this.#started && !this.#started.settled) {
      this.#started.reject(aggregateError('HX_ERR_START_FAILED', this.#startErrors, 'start cancelled: the graph was stopped'));
    }
    if (this.#forced) this.#stopped?.reject(aggregateError('HX_ERR_FORCED', this.#stopErrors));
    else if (this.#stopErrors.length) this.#stopped?.reject(aggregateError('HX_ERR_STOP_FAILED', this.#stopErrors));
    else this.#stopped?.resolve();
  }

  #launch(s: Slot, kind: 'start' | 'stop'): void {
    const op: Op = { kind, ctl: new AbortController(), returned: false };
    s.op = op;
    const run = kind === 'start' ? this.#runStart(s, op) : this.#runStop(s, op);
    void run
      .catch((cause: unknown) => {
        const error = new HendrixError('HX_ERR_INTERNAL', { message: `internal error while running ${s.name}`, service: s.name, cause });
        s.log.error({ err: error }, 'internal error');
        this.#record(error);
      })
      .finally(() => {
        if (op.lateAbort !== undefined) this.#clock.clearTimeout(op.lateAbort);
        if (s.op === op) s.op = undefined;
        this.#reconcile();
      });
  }

  /** Cancels a start in flight after the rollback grace, unless it returns first. */
  #abortLater(op: Op): void {
    if (op.lateAbort !== undefined) return;
    op.lateAbort = this.#clock.setTimeout(() => {
      if (!op.returned && !op.ctl.signal.aborted) op.ctl.abort(cancelled());
    }, this.#rollbackGrace);
  }

  #armRestart(s: Slot, delay: number): void {
    s.restartAt = this.#clock.now() + delay;
    s.timer = this.#clock.setTimeout(() => {
      s.timer = undefined;
      s.held = false;
      s.pendingDelay = undefined;
      this.#reconcile();
    }, delay);
  }

  #cancelRestart(s: Slot): void {
    if (s.timer !== undefined) this.#clock.clearTimeout(s.timer);
    s.timer = undefined;
    s.held = false;
    s.pendingDelay = undefined;
  }

  /** Where an error goes: the start or stop report, or (while running) only the log. */
  #record(error: HendrixError): void {
    if (this.#phase === 'stopping') this.#stopErrors.push(error);
    else if (this.#phase === 'starting' || this.#phase === 'rollback') this.#startErrors.push(error);
  }

  #transition(s: Slot, to: ServiceState, extra: Omit<TransitionEvent, 'service' | 'kind' | 'from' | 'to'> = {}): void {
    const from = s.state;
    if (from === to) return;
    s.state = to;
    s.since = this.#clock.now();
    try {
      this.emit('transition', { service: s.name, kind: s.kind, from, to, ...extra } satisfies TransitionEvent);
    } catch (err) {
      s.log.error({ err }, 'transition listener failed');
    }
  }

  // --- reload -----------------------------------------------------------------------------

  /**
   * Applies a reload to the running graph (orchestrator-reload.ts): one at a time, only while
   * the graph runs. Rejects with HX_ERR_RELOAD_REFUSED when it is starting or stopping, and
   * with HX_ERR_RELOAD_FAILED (after rolling back every step) when a step failed.
   */
  async reload(spec: ReloadSpec): Promise<ReloadReport> {
    if (this.#phase !== 'running' || this.#reloading) {
      const why = this.#reloading ? 'another reload is in progress' : this.#phase === 'starting' || this.#phase === 'idle' ? 'the graph is still starting' : 'the graph is stopping';
      throw new HendrixError('HX_ERR_RELOAD_REFUSED', { message: `reload refused: ${why}; nothing was changed` });
    }
    this.#reloading = true;
    try {
      return await applyReload(createReloadHost(this.#internals()), selectSpec(spec, this.#only, this.services));
    } finally {
      this.#reloading = false;
      this.#reconcile();
    }
  }

  /** What the reload host (orchestrator-reload-host.ts) may use of this engine. */
  #internals(): EngineInternals {
    return {
      owner: this,
      clock: this.#clock,
      grace: this.#grace,
      log: this.#log,
      slots: this.#slots,
      list: () => this.#list,
      setList: (list) => void (this.#list = list),
      running: () => this.#phase === 'running',
      transition: (s, to, extra) => this.#transition(s, to, extra),
      cancelRestart: (s) => this.#cancelRestart(s),
      runStop: (s, op) => this.#runStop(s, op),
      build: (s, plan, deps) => this.#build(s, plan, deps),
      crashed: (s, generation, error) => this.#crashed(s, generation, error),
      reconcile: () => this.#reconcile(),
      reloadCtls: this.#reloadCtls,
      retiring: this.#retiring,
      retiringCtl: this.#retiringCtl,
    };
  }

  // --- lifecycle calls --------------------------------------------------------------------

  async #createAll(): Promise<void> {
    const failures = await Promise.all(
      this.#list.map(async (s) => {
        s.op = { kind: 'create', ctl: new AbortController(), returned: false };
        const error = await this.#createInstance(s);
        s.op = undefined;
        return error && { s, error };
      }),
    );
    for (const failure of failures) {
      if (!failure) continue;
      const { s, error } = failure;
      s.terminal = true;
      s.lastError = error;
      this.#startErrors.push(error);
      this.#transition(s, 'failed', { error });
      s.log.error({ err: error }, 'create failed');
    }
    if (this.#startErrors.length && this.#phase === 'starting') {
      this.#phase = 'rollback';
      for (const failure of failures) if (failure) this.#markBlocked(failure.s);
    }
    this.#createsDone = true;
    this.#reconcile();
  }

  /** Builds a new instance (pure: it opens nothing) and its context. */
  async #createInstance(s: Slot): Promise<HendrixError | undefined> {
    const built = await this.#build(s, s.plan, s.deps);
    if (built instanceof HendrixError) return built;
    s.generation = built.cell.generation;
    s.instance = built.instance;
    s.cell = built.cell;
    s.used = false;
    this.#transition(s, 'created');
    return undefined;
  }

  /**
   * Builds an instance of a service from `plan` (pure: it opens nothing), with the context of
   * `generation` — the next instance of its slot, or a reload's replacement of the running one.
   */
  async #build(s: Slot, plan: ServicePlan, deps: readonly string[]): Promise<BuiltInstance | HendrixError> {
    const cell: InstanceCell = { generation: ++s.issued, config: plan.config, deps };
    const { generation } = cell;
    const close = openFaultWindow();
    try {
      const ctx = this.#context(s, cell);
      const instance: unknown = await runAsService({ service: s.name, generation, owner: this }, () => plan.kind.create(ctx));
      if (!isService(instance)) throw new TypeError('create() must return an object with start(signal) and stop(signal)');
      return { instance, cell };
    } catch (error) {
      return createError(error, s);
    } finally {
      close();
    }
  }

  /**
   * The fault tag of a service's current instance: its create and start run under it, so that
   * the timers, sockets and promises they make are blamed on it if they throw or reject later.
   */
  #tag(s: Slot): FaultTag {
    return { service: s.name, generation: s.generation, owner: this };
  }

  #context(s: Slot, cell: InstanceCell): ServiceContext<ServiceConfig> {
    const { generation } = cell;
    return Object.freeze({
      name: s.name,
      kind: s.kind,
      get config() {
        return cell.config;
      },
      log: s.log,
      baseDir: this.#baseDir,
      location: s.location,
      locate: (path: readonly PathSegment[]) => this.#locate?.(['services', s.name, ...path]),
      peer: <T = unknown>(target: string): T => this.#peer(s, cell.deps, target) as T,
      crashed: (error?: unknown) => this.#crashed(s, generation, error),
      graph: this.#graphView,
      waiting: (reason: string, cause?: unknown) => this.#waiting(s, generation, reason, cause),
      ...(this.#cluster ? { cluster: this.#cluster(s.name) } : {}),
    });
  }

  /** `ctx.waiting()`: what the current start of `generation` waits for. */
  #waiting(s: Slot, generation: number, reason: string, cause: unknown): void {
    if (generation !== s.generation || s.state !== 'starting') return;
    const text = String(reason);
    s.waiting = { reason: text, cause, since: this.#clock.now() };
    s.log.debug({ waiting: text, ...(cause instanceof Error ? { cause: cause.message } : {}) }, 'waiting');
    try {
      this.emit('waiting', { service: s.name, kind: s.kind, reason: text, ...(cause === undefined ? {} : { cause }) });
    } catch (err) {
      s.log.error({ err }, 'waiting listener failed');
    }
  }

  #peer(s: Slot, deps: readonly string[], target: string): unknown {
    if (!deps.includes(target)) throw peerError(s, target, false);
    const t = this.#slots.get(target);
    if (t?.state !== 'ready' || !t.instance) throw peerError(s, target, true);
    return t.instance.handle?.();
  }

  async #runStart(s: Slot, op: Op): Promise<void> {
    if (!s.instance || s.used) {
      const error = await this.#createInstance(s);
      if (error) return this.#startFailed(s, error);
      if (op.ctl.signal.aborted) return;
    }
    const instance = s.instance;
    if (!instance) return;
    s.used = true;
    s.live = true;
    s.pendingCrash = undefined;
    s.waiting = undefined;
    const timeout = s.plan.config.startTimeout;
    const t0 = this.#clock.now();
    this.#transition(s, 'starting');
    s.log.debug('starting');
    let timeoutError: HendrixError | undefined;
    const tag = this.#tag(s);
    const close = openFaultWindow();
    const outcome = await runBounded((signal) => runAsService(tag, () => instance.start(signal)), {
      clock: this.#clock,
      timeout,
      grace: this.#grace,
      controller: op.ctl,
      timeoutReason: () => (timeoutError = startTimeoutError(s, timeout, s.waiting)),
    }).finally(close);
    op.returned = true;
    const ms = this.#clock.now() - t0;
    if (outcome.timedOut) return this.#startFailed(s, timeoutError ?? startTimeoutError(s, timeout, s.waiting));
    if (op.ctl.signal.aborted) {
      s.pendingCrash = undefined;
      s.log.debug({ ms }, 'start cancelled');
      return;
    }
    if (outcome.status !== 'ok') return this.#startFailed(s, startError(outcome.error, s));
    s.waiting = undefined;
    s.readyAt = this.#clock.now();
    s.startMs = ms;
    this.#transition(s, 'ready', { ms });
    s.log.info({ ms }, 'ready');
    const pending = s.pendingCrash as Slot['pendingCrash']; // set by crashed() during start()
    s.pendingCrash = undefined;
    if (pending) this.#crashed(s, s.generation, pending.error);
  }

  async #runStop(s: Slot, op: Op): Promise<void> {
    const instance = s.instance;
    if (!instance) return void (s.live = false);
    // a failed, exited or restarting service keeps showing why while its instance is cleaned up
    const visible = s.state === 'ready' || s.state === 'starting';
    const timeout = stopDeadlineOf(s.plan);
    const t0 = this.#clock.now();
    if (visible) this.#transition(s, 'stopping');
    s.log.debug('stopping');
    if (this.#forced) op.ctl.abort(forced());
    const outcome = await runBounded((signal) => instance.stop(signal), {
      clock: this.#clock,
      timeout,
      grace: this.#grace,
      controller: op.ctl,
      timeoutReason: () => {
        s.log.warn({ timeout }, 'stop timed out, forcing');
        return stopTimeoutError(s, timeout, false, undefined);
      },
    });
    op.returned = true;
    s.live = false;
    s.readyAt = undefined;
    const ms = this.#clock.now() - t0;
    const error = stopOutcomeError(s, timeout, outcome);
    if (error) {
      s.lastError = error;
      this.#record(error);
      s.log.error({ err: error }, 'stop failed');
    } else if (visible) s.log.info({ ms }, 'stopped');
    if (visible) this.#transition(s, error && outcome.status !== 'ok' ? 'failed' : 'stopped', { ms, ...(error ? { error } : {}) });
  }

  // --- failures and supervision -----------------------------------------------------------

  #startFailed(s: Slot, error: HendrixError): void {
    s.lastError = error;
    if (this.#phase === 'running') return this.#died(s, error, undefined, true);
    s.terminal = true;
    this.#record(error);
    this.#transition(s, 'failed', { error });
    s.log.error({ err: error }, 'start failed');
    if (this.#phase === 'starting') this.#phase = 'rollback';
    if (this.#phase === 'rollback') this.#markBlocked(s);
  }

  /** Marks every not-yet-started service that (transitively) depends on `failed`, once each. */
  #markBlocked(failed: Slot): void {
    for (const t of this.#list) {
      if (t.state !== 'created' || t.live || t.op || !this.#dependsOn(t, failed.name)) continue;
      const error = dependencyFailedError(t, failed.name);
      t.terminal = true;
      t.lastError = error;
      this.#startErrors.push(error);
      this.#transition(t, 'failed', { error });
      t.log.warn({ dependency: failed.name }, 'not started: a dependency failed');
    }
  }

  #dependsOn(s: Slot, target: string, seen = new Set<string>()): boolean {
    for (const d of s.deps) {
      if (d === target) return true;
      if (seen.has(d)) continue;
      seen.add(d);
      if (this.#dependsOn(this.#slot(d), target, seen)) return true;
    }
    return false;
  }

  /** `ctx.crashed()`: the instance of `generation` died (`error` undefined: a clean exit). */
  #crashed(s: Slot, generation: number, error: unknown): void {
    if (generation !== s.generation) return void s.log.debug('crash of a replaced instance ignored');
    if (s.pinned && s.state === 'ready') {
      // a reload is changing it: its crash is handled once the reload is done (or rolled back)
      s.pendingCrash = { error };
      return;
    }
    if (s.state === 'starting' && s.op?.kind === 'start') {
      s.pendingCrash = { error };
      return;
    }
    if (s.state !== 'ready' || s.op?.kind === 'stop') return void s.log.debug({ state: s.state }, 'crash ignored');
    if (this.#phase === 'running') this.#died(s, error, s.readyAt, false);
    else if (this.#phase === 'starting') this.#startFailed(s, crashError(error, s));
    else return void s.log.debug({ err: error }, 'crash during stop ignored');
    this.#reconcile();
  }

  /** Applies the restart policy to a service that died while the graph was running. */
  #died(s: Slot, error: unknown, upSince: number | undefined, startFailure: boolean): void {
    const err = error === undefined ? undefined : startFailure ? error : crashError(error, s);
    if (err !== undefined) s.lastError = err;
    s.readyAt = undefined;
    const decision = s.supervisor.onCrash({ now: this.#clock.now(), upSince, failed: startFailure || error !== undefined });
    switch (decision.action) {
      case 'restart': {
        const { attempt, delay } = decision;
        s.restarts++;
        s.held = true;
        s.pendingDelay = delay;
        // when it is due once its dependents have stopped; #armRestart sets the exact time
        s.restartAt = this.#clock.now() + delay;
        this.#transition(s, 'restarting', { ...(err === undefined ? {} : { error: err }), attempt, delay });
        if (err === undefined) s.log.warn({ attempt, delay }, 'exited, restarting');
        else s.log.error({ err, attempt, delay }, startFailure ? 'start failed, restarting' : 'crashed, restarting');
        return;
      }
      case 'limit': {
        const limit = restartLimitError(s, decision.restarts, s.plan.config.restart.limit.window, err);
        s.terminal = true;
        s.lastError = limit;
        this.#transition(s, 'failed', { error: limit });
        s.log.error({ err: limit, attempts: decision.restarts + 1 }, 'restart limit reached, giving up');
        return;
      }
      case 'fail':
        s.terminal = true;
        this.#transition(s, 'failed', { error: err });
        s.log.error({ err }, startFailure ? 'start failed' : 'crashed');
        return;
      case 'stop':
        s.terminal = true;
        this.#transition(s, 'stopped');
        s.log.info('exited');
        return;
    }
  }
}
