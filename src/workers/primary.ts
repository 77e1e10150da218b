import type { Logger } from 'pino';
import { HendrixError } from '../errors/hendrix-error.js';
import { EXIT } from '../errors/codes.js';
import { errorFromJson } from '../errors/render.js';
import type { RestartConfig, WorkerPlacement } from '../kinds/contract.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import type { Plan } from '../runtime/plan.js';
import type { ReloadOptions } from '../runtime/reload.js';
import { createSupervisor } from '../runtime/supervisor.js';
import type { ErrorBody, PrimaryMessage, ProcessReloadResult, WorkerIdentity, WorkerMessage } from './ipc.js';
import type { Placement } from './placement.js';
import { createPortBook } from './ports.js';
import { exitWords, slotKey, type PrimaryEvent, type PrimaryOptions, type Proc, type ProcessRequest, type Slot, type SlotView } from './primary-types.js';

export { exitWords, slotKey, type ForkWorker, type PrimaryEvent, type PrimaryOptions, type ProcessRequest, type SlotView, type WorkerProcess } from './primary-types.js';

/**
 * The primary of a graph served by workers: forks the processes (workers for the per-worker
 * services, one process for the once-services), starts them in two stages in the order the
 * graph needs, replaces a process that dies under the restart policy of its services, stops
 * them in reverse, and carries reloads to them (primary-reload.ts). It runs no app code.
 * (Over 400 lines: one state machine of slots and processes, whose private state the start,
 * the crashes, the stop, the rolling reloads and the admin API's requests all share.)
 */
export class Primary {
  readonly #o: PrimaryOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #slots: Slot[] = [];
  /** The ports of listeners on port 0, one per service listener (ports.ts). */
  readonly #ports = createPortBook();
  #running = false;
  #stopping: Promise<number> | undefined;
  #forced = false;
  #replyId = 0;
  #placement: Placement;
  #plan: Plan;
  /** The addresses the graph announced it listens on (the ready line). */
  #addresses: Record<string, string> = {};
  readonly #watchers = new Set<(event: PrimaryEvent) => void>();

  constructor(options: PrimaryOptions) {
    this.#o = options;
    this.#log = options.logger.child({ service: 'hendrix' });
    this.#clock = options.clock ?? systemClock;
    this.#placement = options.placement;
    this.#plan = options.plan;
    const random = () => this.#clock.random();
    if (this.#placement.once.length) this.#slots.push(this.#newSlot(0, 'once', random));
    for (let id = 1; id <= options.count; id++) this.#slots.push(this.#newSlot(id, 'each', random));
  }

  #newSlot(id: number, role: WorkerPlacement, random: () => number): Slot {
    return { id, role, processes: 0, current: undefined, live: new Set(), supervisor: createSupervisor(this.#policy(role).restart, random), timer: undefined, failed: false, since: this.#clock.now(), restarts: 0 };
  }

  /** The restart policy of a role: that of its first service in start order (docs/workers.md). */
  #policy(role: WorkerPlacement): { restart: RestartConfig; stopOnFailed: boolean; first: string } {
    const names = role === 'each' ? this.#placement.each : this.#placement.once;
    const first = this.#plan.services.get(names[0] ?? '');
    const stopOnFailed = names.some((n) => this.#plan.services.get(n)?.config.onFailed !== 'keep');
    return { restart: (first?.config.restart ?? {}) as RestartConfig, stopOnFailed, first: names[0] ?? '' };
  }

  /** The processes in start order (stages). */
  #stages(): Slot[][] {
    const once = this.#slots.filter((s) => s.role === 'once');
    const each = this.#slots.filter((s) => s.role === 'each');
    return (this.#placement.onceFirst ? [once, each] : [each, once]).filter((stage) => stage.length);
  }

  /** The worker slots and the pid each serves from now, for logs and status. */
  processes(): SlotView[] {
    return this.#slots.map((s) => ({ id: s.id, role: s.role, pid: s.current?.child.pid, state: this.#slotState(s), since: s.since, restarts: s.restarts }));
  }

  #slotState(slot: Slot): string {
    if (slot.failed) return 'failed';
    const state = slot.current?.state;
    if (state === undefined) return this.#stopping ? 'stopped' : 'restarting';
    return state === 'exited' ? 'stopped' : state;
  }

  /** Listens to what the processes do (for the admin API's event log); returns the unsubscribe. */
  watch(listener: (event: PrimaryEvent) => void): () => void {
    this.#watchers.add(listener);
    return () => void this.#watchers.delete(listener);
  }

  #emit(event: PrimaryEvent): void {
    for (const listener of this.#watchers) listener(event);
  }

  #workerEvent(slot: Slot, proc: Proc | undefined, state: string, extra: { error?: string; was?: number | undefined } = {}): void {
    // a retired process leaving is no change of the slot, which serves from its new one
    if (state !== 'retiring' && state !== 'exited') slot.since = this.#clock.now();
    this.#emit({ type: 'worker', worker: slotKey(slot.id), pid: proc?.child.pid, state, ...extra });
  }

  /**
   * Starts every process, stage by stage; resolves with the addresses the services listen on
   * once all are ready. A process that fails to start fails the whole start: what started is
   * stopped and its error (as the worker reported it) rejects.
   */
  async start(): Promise<Record<string, string>> {
    const addresses: Record<string, string> = {};
    for (const stage of this.#stages()) {
      const procs = stage.map((slot) => this.#spawn(slot));
      const results = await Promise.allSettled(procs.map((p) => p.ready));
      const failure = results.find((r) => r.status === 'rejected');
      if (failure) {
        await this.stop();
        throw (failure as PromiseRejectedResult).reason;
      }
      for (const r of results) Object.assign(addresses, (r as PromiseFulfilledResult<Record<string, string>>).value);
      if (this.#stopping) throw new HendrixError('HX_ERR_START_FAILED', { message: 'the start was interrupted by a stop' });
    }
    this.#running = true;
    this.#addresses = { ...addresses };
    return addresses;
  }

  #spawn(slot: Slot): Proc {
    const n = ++slot.processes;
    const key = slot.role === 'once' ? `o.${n}` : `w${slot.id}.${n}`;
    const identity: WorkerIdentity = { id: slot.id, role: slot.role, count: this.#o.count, key };
    const child = this.#o.fork(identity);
    let readyDone: (a: Record<string, string>) => void = () => {};
    let readyFail: (e: unknown) => void = () => {};
    let exitDone: (r: { code: number | null; signal: string | null }) => void = () => {};
    const ready = new Promise<Record<string, string>>((resolve, reject) => ((readyDone = resolve), (readyFail = reject)));
    ready.catch(() => undefined);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => (exitDone = resolve));
    const proc: Proc = { identity, child, ready, exited, state: 'starting', expected: false, upSince: undefined, replies: new Map() };
    const started = this.#clock.now();
    child.onMessage((message) => this.#message(slot, proc, message, readyDone, readyFail, started));
    child.onExit((code, signal) => {
      const starting = proc.state === 'starting';
      proc.state = 'exited';
      slot.live.delete(proc);
      this.#o.coordinators.processGone(key);
      const error = new HendrixError('HX_ERR_WORKER_EXIT', { message: `${this.#name(slot)} (pid ${child.pid}) ${exitWords(code, signal)}` });
      // gone before it was ready (and before it reported why): a failed start (exit 1), not a crash
      readyFail(
        starting
          ? new HendrixError('HX_ERR_START_FAILED', {
              message: `${this.#name(slot)} (pid ${child.pid}) ${exitWords(code, signal)} before it was ready`,
              hint: 'something in the process ended it during the start (app code calling process.exit, a signal); the lines logged with its worker number say what it did last',
            })
          : error,
      );
      for (const r of proc.replies.values()) r.reject(error);
      proc.replies.clear();
      exitDone({ code, signal });
      if (!proc.expected && slot.current === proc) this.#died(slot, proc, code, signal);
      else this.#workerEvent(slot, proc, 'exited', { error: exitWords(code, signal) });
    });
    slot.live.add(proc);
    slot.current ??= proc;
    this.#workerEvent(slot, proc, 'forked');
    return proc;
  }

  #message(slot: Slot, proc: Proc, message: WorkerMessage, ready: (a: Record<string, string>) => void, fail: (e: unknown) => void, started: number): void {
    switch (message.hx) {
      case 'hello':
        return; // the fork's send() held what came before (up-primary.ts)
      case 'ch':
        return this.#o.coordinators.receive(proc.identity.key, message);
      case 'port':
        return void this.#ports.resolve(message.key, message.host).then(
          (port) => proc.state !== 'exited' && proc.child.send({ hx: 'port', id: message.id, port }),
          // no free port found: the worker listens on port 0 itself, and its listen says why if it fails
          () => proc.state !== 'exited' && proc.child.send({ hx: 'port', id: message.id, port: 0 }),
        );
      case 'ready':
        proc.state = 'ready';
        proc.upSince = this.#clock.now();
        this.#log.debug({ worker: slot.id, pid: proc.child.pid, ms: Math.round(this.#clock.now() - started) }, `${this.#name(slot)} ready`);
        this.#workerEvent(slot, proc, 'ready');
        return ready({ ...message.addresses });
      case 'transition':
        return this.#emit({ type: 'transition', worker: slotKey(slot.id), pid: proc.child.pid, event: message.event });
      case 'waiting':
        return this.#emit({ type: 'waiting', worker: slotKey(slot.id), pid: proc.child.pid, service: message.service, kind: message.kind, reason: message.reason });
      case 'start-failed':
        return fail(fromBody(message.error));
      case 'failed':
        return this.#o.onFailed(message.service, fromBody(message.error));
      case 'fault':
        return void this.#log.error({ worker: slot.id, pid: proc.child.pid }, `${this.#name(slot)} had an uncaught exception: it stops and is replaced`);
      case 'reloaded':
      case 'reload-failed':
      case 'answer':
      case 'answer-failed': {
        const reply = proc.replies.get(message.id);
        proc.replies.delete(message.id);
        if (message.hx === 'reloaded') reply?.resolve(message.result as never);
        else if (message.hx === 'answer') reply?.resolve(message.value as never);
        else reply?.reject(fromBody(message.error));
      }
    }
  }

  #name(slot: Slot): string {
    return slot.role === 'once' ? 'the once process' : `worker ${slot.id}`;
  }

  /** A process died on its own: replaced under its services' restart policy, or the slot fails. */
  #died(slot: Slot, proc: Proc, code: number | null, signal: string | null): void {
    slot.current = undefined;
    const pid = proc.child.pid;
    if (!this.#running || this.#stopping) return;
    const policy = this.#policy(slot.role);
    const decision = slot.supervisor.onCrash({ now: this.#clock.now(), upSince: proc.upSince, failed: code !== 0 || signal !== null });
    const why = exitWords(code, signal);
    this.#workerEvent(slot, proc, 'died', { error: why });
    if (decision.action === 'restart') {
      slot.restarts++;
      this.#log.error({ worker: slot.id, pid, code, signal, attempt: decision.attempt, delay: decision.delay }, `${this.#name(slot)} (pid ${pid}) ${why}: replacing it in ${decision.delay} ms (restart ${decision.attempt})`);
      slot.timer = this.#clock.setTimeout(() => {
        slot.timer = undefined;
        // a rolling replacement may have filled the slot meanwhile
        if (this.#stopping || slot.current) return;
        const next = this.#spawn(slot);
        next.ready.then(
          (addresses) => {
            this.#log.info({ worker: slot.id, pid: next.child.pid }, `${this.#name(slot)} is back (pid ${next.child.pid})`);
            this.#workerEvent(slot, next, 'replaced', { was: pid });
            this.#moved(addresses);
          },
          () => undefined, // its exit comes through onExit: #died again
        );
      }, decision.delay);
      return;
    }
    slot.failed = true;
    const reason = decision.action === 'limit' ? `restart limit reached (${decision.restarts} restarts within restart.limit.window of ${policy.first})` : `restart.policy of ${policy.first} does not restart it`;
    // rendered like a single process's restart limit: at the service whose policy gave up
    const error = new HendrixError('HX_ERR_WORKER_EXIT', {
      message: `${this.#name(slot)} (pid ${pid}) ${why}; ${reason}`,
      service: policy.first,
      path: ['services', policy.first, 'restart', ...(decision.action === 'limit' ? ['limit'] : ['policy'])],
      location: this.#plan.services.get(policy.first)?.location,
    });
    this.#log.error({ worker: slot.id, pid, code, signal }, error.message);
    this.#workerEvent(slot, proc, 'failed', { error: error.message });
    if (policy.stopOnFailed) this.#o.onFailed(policy.first, error);
    else this.#log.warn(`${this.#slots.filter((s) => s.role === 'each' && !s.failed).length} of ${this.#o.count} workers serve on (onFailed: keep)`);
  }

  /**
   * Says so when a replacement listens elsewhere than the graph announced: node:cluster closes
   * a listening socket once no worker holds it, so when every worker of it died at once, the
   * next one binds again — on a new port when a kind listened on port 0 itself (a listener
   * opened with listenOn keeps the port the primary gave it: ports.ts).
   */
  #moved(addresses: Readonly<Record<string, string>>): void {
    for (const [name, address] of Object.entries(addresses)) {
      const before = this.#addresses[name];
      if (before === undefined || before === address) continue;
      this.#addresses[name] = address;
      this.#log.error({ moved: name, address, was: before }, `${name} now listens on ${address}, not ${before}: every worker serving it had stopped at once, which closed the socket they shared (listen on a fixed port to keep the address)`);
    }
  }

  /**
   * Stops every process, stage by stage in reverse start order, each draining as a single
   * process would; resolves with the exit code (0, 2 forced, 3 a stop failed).
   */
  stop(): Promise<number> {
    this.#stopping ??= (async () => {
      for (const slot of this.#slots) if (slot.timer) this.#clock.clearTimeout(slot.timer);
      let code: number = EXIT.ok;
      for (const stage of this.#stages().reverse()) {
        // every process of the slot: a rolling replacement may have two
        const exits = stage.flatMap((slot) => [...slot.live].map((proc) => this.#stopProc(proc, false)));
        for (const result of await Promise.all(exits)) {
          if (result.code === EXIT.stopFailed && code === EXIT.ok) code = EXIT.stopFailed;
          if (result.signal && code === EXIT.ok) code = EXIT.stopFailed;
        }
      }
      this.#o.coordinators.close();
      return this.#forced ? EXIT.forced : code;
    })();
    return this.#stopping;
  }

  #stopProc(proc: Proc, retire: boolean): Promise<{ code: number | null; signal: string | null }> {
    proc.expected = true;
    if (proc.state !== 'exited') {
      proc.state = 'stopping';
      proc.child.send({ hx: 'stop', ...(retire ? { retire: true } : {}) });
      if (this.#forced) proc.child.send({ hx: 'force' });
    }
    return proc.exited;
  }

  /** Forces every process to finish its stop at once; a process still there 5 s later is killed. */
  force(): void {
    this.#forced = true;
    for (const proc of this.#slots.flatMap((slot) => [...slot.live])) {
      proc.child.send({ hx: 'force' });
      const timer = setTimeout(() => proc.state !== 'exited' && proc.child.kill('SIGKILL'), 5_000);
      timer.unref();
    }
    void this.stop();
  }

  /** The live processes, in start order. */
  #live(): { slot: Slot; proc: Proc }[] {
    return this.#stages()
      .flat()
      .flatMap((slot) => (slot.current && slot.current.state === 'ready' ? [{ slot, proc: slot.current }] : []));
  }

  /** Asks one process to reload (or revert) its graph; rejects with the error it reports. */
  #ask(proc: Proc, message: { hx: 'reload'; options: ReloadOptions } | { hx: 'revert' }): Promise<ProcessReloadResult>;
  /** Asks one process for its figures or to carry out an operation on a service. */
  #ask(proc: Proc, message: ProcessRequest): Promise<unknown>;
  #ask(proc: Proc, message: { hx: 'reload'; options: ReloadOptions } | { hx: 'revert' } | ProcessRequest): Promise<unknown> {
    const id = ++this.#replyId;
    return new Promise((resolve, reject) => {
      proc.replies.set(id, { resolve: resolve as (r: never) => void, reject });
      proc.child.send({ ...message, id });
    });
  }

  /**
   * Asks the ready process of a slot (`figures`, an `op` on a service); rejects with the error
   * it reports, or HX_ERR_SERVICE_OP when the slot has no ready process (it is starting,
   * restarting or failed), or when it exits before answering.
   */
  request(slotId: number, message: ProcessRequest): Promise<unknown> {
    const slot = this.#slots.find((s) => s.id === slotId);
    const proc = slot?.current;
    if (!slot || !proc || proc.state !== 'ready') {
      return Promise.reject(new HendrixError('HX_ERR_SERVICE_OP', { message: `${slot ? this.#name(slot) : `worker ${slotId}`} has no ready process (${slot ? this.#slotState(slot) : 'no such worker'})` }));
    }
    return this.#ask(proc, message);
  }

  /** Sends a message to every live process, or those of one role (`drain` ahead of a stop, the once-services' `states`). */
  broadcast(message: Extract<PrimaryMessage, { hx: 'drain' | 'states' }>, role?: WorkerPlacement): void {
    for (const slot of this.#slots) {
      if (role !== undefined && slot.role !== role) continue;
      for (const proc of slot.live) if (proc.state !== 'exited') proc.child.send(message);
    }
  }

  /** Where the services of the running plan run (a reload may change it). */
  get placement(): Placement {
    return this.#placement;
  }

  /** The addresses the services listen on, as the graph announced them (and moved since). */
  addresses(): Record<string, string> {
    return { ...this.#addresses };
  }

  /**
   * Reloads the graph in every live process, one after the other, in place (each process
   * applies the diff to its own graph). A process that fails has rolled itself back; the ones
   * before it are reverted, and the error rejects.
   */
  async reloadInPlace(options: ReloadOptions, role?: WorkerPlacement): Promise<{ worker: number; result: ProcessReloadResult }[]> {
    const done: { slot: Slot; proc: Proc; result: ProcessReloadResult }[] = [];
    for (const { slot, proc } of this.#live()) {
      if (role && slot.role !== role) continue;
      try {
        done.push({ slot, proc, result: await this.#ask(proc, { hx: 'reload', options }) });
      } catch (error) {
        for (const d of done.reverse()) {
          await this.#ask(d.proc, { hx: 'revert' }).catch((e: unknown) => this.#log.error({ err: e, worker: d.slot.id }, `${this.#name(d.slot)} could not revert`));
        }
        throw error;
      }
    }
    return done.map((d) => ({ worker: d.slot.id, result: d.result }));
  }

  /**
   * Replaces the processes of `role` one at a time (a rolling reload): a new process starts
   * from the files as they are now and is ready before the old one is retired — it stops taking
   * connections and drains, its WebSocket clients told 1012 (service restart). Resolves with how
   * long each replacement took. A new process that fails to start is stopped and the error
   * rejects; the processes not replaced yet keep serving what they ran.
   */
  async roll(role: WorkerPlacement): Promise<{ worker: number; ms: number }[]> {
    const out: { worker: number; ms: number }[] = [];
    // the graph stopping ends a roll: no new process, and its reload fails as interrupted
    const interrupted = (): HendrixError =>
      new HendrixError('HX_ERR_RELOAD_REFUSED', { message: `the graph is stopping: the reload was interrupted after ${out.length} of the workers had been replaced` });
    for (const slot of this.#slots) {
      if (slot.role !== role || slot.failed) continue;
      if (this.#stopping) throw interrupted();
      const t0 = this.#clock.now();
      const fresh = this.#spawn(slot);
      // until it is ready, its end is this reload's failure, not a crash of the slot
      fresh.expected = true;
      try {
        await fresh.ready;
      } catch (error) {
        if (fresh.state !== 'exited') await this.#stopProc(fresh, false);
        throw this.#stopping ? interrupted() : error;
      }
      if (this.#stopping) throw interrupted();
      fresh.expected = false;
      const old = slot.current;
      slot.current = fresh;
      this.#workerEvent(slot, fresh, 'replaced', { was: old?.child.pid });
      if (old) {
        this.#workerEvent(slot, old, 'retiring');
        await this.#stopProc(old, true);
      }
      out.push({ worker: slot.id, ms: this.#clock.now() - t0 });
    }
    return out;
  }

  /** Takes a reloaded plan and its placement (the restart policy of the roles may have changed). */
  setPlan(plan: Plan, placement: Placement): void {
    this.#plan = plan;
    this.#placement = placement;
  }
}

function fromBody(body: ErrorBody): HendrixError {
  return errorFromJson(body) ?? new HendrixError('HX_ERR_INTERNAL', { message: 'a worker reported an error without details' });
}
