import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { HendrixError } from '../errors/hendrix-error.js';
import type { Logger } from '../log/logger.js';
import type { CrosstownConfig } from './config.js';
import { requestContext, type CrosstownHost, type RequestScope, type ScheduleRequest, type TaskPoolKind } from './context.js';
import { Journal, type JournalEntry } from './journal.js';
import type { TaskPool, TaskSpec } from './pool-types.js';
import { TaskQueue } from './queue.js';
import { resolveTask } from './resolve-task.js';
import { createStatusFilter, statusFilterFor, type StatusFilter } from './status-filter.js';
import { createProcessPool } from './process-pool.js';
import { createThreadPool } from './thread-pool.js';

/** The counts a runtime keeps: live ones (waiting, queued, running) and totals since start. */
export interface CrosstownStats {
  /** Tasks scheduled during a request whose response has not ended yet. */
  waiting: number;
  /** Thread and process tasks waiting for a free worker. */
  queued: number;
  /** Tasks running now (loop, thread and process). */
  running: number;
  /** Tasks that ended well. */
  done: number;
  /** Tasks that failed (threw, timed out, crashed their worker, or could not be run as written). */
  failed: number;
  /** Tasks refused because their queue was full. */
  dropped: number;
  /** Tasks not run because of the response's status, or because the client went away. */
  skipped: number;
  /** Journaled tasks found unfinished at start and run again. */
  replayed: number;
}

/** The stats of a runtime that has done nothing. */
export function emptyStats(): CrosstownStats {
  return { waiting: 0, queued: 0, running: 0, done: 0, failed: 0, dropped: 0, skipped: 0, replayed: 0 };
}

/** What a runtime needs. */
export interface CrosstownRuntimeOptions {
  readonly config: CrosstownConfig;
  /** The runtime's logger (the service's child `{ component: 'crosstown' }`). */
  readonly log: Logger;
  /** The manifest's folder: task paths fall back to it, the journal folder resolves against it. */
  readonly baseDir: string;
  /** The request id of a response, for log lines (the http pipeline assigns one on demand). */
  readonly requestId?: (res: ServerResponse) => string | undefined;
  /**
   * The journal's file name in its folder; default `journal.jsonl`. With workers each worker
   * slot has its own (`journal-w2.jsonl`), replayed by the worker that next takes the slot.
   */
  readonly journalFile?: string | undefined;
  /** Makes a pool; default: the real thread and process pools. */
  readonly createPool?: (kind: 'thread' | 'process', size: number, log: Logger) => TaskPool;
}

/** How a drain is bounded. */
export interface DrainOptions {
  /** Aborts the drain at once (a forced stop); what is left is reported. */
  readonly signal?: AbortSignal;
}

/** After this many starts found it unfinished, a journaled task is given up on. */
export const MAX_REPLAY_ATTEMPTS = 5;

type TaskState = 'waiting' | 'queued' | 'running' | 'settled';

interface Task {
  readonly pool: TaskPoolKind;
  readonly name: string;
  readonly reqId: string | undefined;
  readonly fn: (() => unknown) | undefined;
  readonly spec: TaskSpec | undefined;
  readonly timeout: number;
  readonly filter: StatusFilter;
  readonly runOnAbort: boolean;
  readonly journalId: string | undefined;
  state: TaskState;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface PoolLane {
  pool: TaskPool | undefined;
  readonly queue: TaskQueue<Task>;
}

const kPending = Symbol('hendrix.crosstown.pending');
type WithPending = ServerResponse & { [kPending]?: Task[] };

const noop = (): void => {};
const POOL_KINDS = ['thread', 'process'] as const;

function defaultPool(kind: 'thread' | 'process', size: number, log: Logger): TaskPool {
  return kind === 'thread' ? createThreadPool({ size, log }) : createProcessPool({ size, log });
}

/**
 * The crosstown runtime of one http service: it holds work scheduled during a request until
 * the response has ended (and runs or skips it by status), runs loop tasks on the event loop,
 * feeds thread and process tasks from its own bounded FIFO queues into lazily created pools
 * that never queue, journals durable tasks, counts everything, and at stop drains what is
 * running and queued until drainTimeout, then reports what is left by task name.
 *
 * One file over 400 lines on purpose: scheduling, the queues, the journal and the drain all
 * move the same tasks through the same states and counts; split, they would share that state
 * through an interface wider than the class itself.
 */
export class CrosstownRuntime implements CrosstownHost {
  readonly #config: CrosstownConfig;
  readonly #log: Logger;
  readonly #baseDir: string;
  readonly #requestId: ((res: ServerResponse) => string | undefined) | undefined;
  readonly #createPool: (kind: 'thread' | 'process', size: number, log: Logger) => TaskPool;
  readonly #filter: StatusFilter;
  readonly #lanes: Record<'thread' | 'process', PoolLane> = {
    thread: { pool: undefined, queue: new TaskQueue() },
    process: { pool: undefined, queue: new TaskQueue() },
  };
  /** Every task not settled yet. */
  readonly #live = new Set<Task>();
  readonly #idle = new Set<() => void>();
  readonly #stats = emptyStats();
  /** The scope loop tasks run in: no response, this runtime. */
  readonly #loopScope: RequestScope;
  readonly #onResponseClose: (this: WithPending) => void;
  readonly #journalFile: string | undefined;
  #journal: Journal | undefined;
  #state: 'open' | 'draining' | 'closed' = 'open';
  #used = false;

  constructor(options: CrosstownRuntimeOptions) {
    this.#config = options.config;
    this.#log = options.log;
    this.#baseDir = options.baseDir;
    this.#journalFile = options.journalFile;
    this.#requestId = options.requestId;
    this.#createPool = options.createPool ?? defaultPool;
    this.#filter = createStatusFilter(options.config.skipStatus);
    this.#loopScope = { res: undefined, host: this };
    const runtime = this;
    this.#onResponseClose = function onResponseClose(this: WithPending) {
      runtime.#responseEnded(this);
    };
  }

  /**
   * Opens the journal, if configured, and replays what the last run left unfinished. Opens
   * nothing else: pools start with their first task.
   */
  start(): void {
    const dir = this.#config.journal;
    if (dir === false) return;
    const journal = Journal.open(resolvePath(this.#baseDir, dir), this.#log, this.#journalFile);
    this.#journal = journal;
    const pending = journal.pending();
    if (pending.length) this.#log.info({ count: pending.length, journal: journal.file }, 'crosstown replaying unfinished tasks');
    for (const entry of pending) this.#replay(entry);
  }

  /** The counts now. */
  stats(): CrosstownStats {
    return { ...this.#stats };
  }

  /** Schedules one task (see CrosstownHost); never throws, and the promise is marked handled. */
  schedule(request: ScheduleRequest): Promise<unknown> {
    let task: Task | undefined;
    const promise = new Promise<unknown>((resolve, reject) => {
      try {
        task = this.#makeTask(request, resolve, reject);
      } catch (error) {
        const res = request.scope?.res;
        const name = request.pool === 'loop' ? request.options.name ?? request.fn?.name ?? 'anonymous' : request.task;
        this.#stats.failed++;
        reject(this.#fail(name ?? '(none)', request.pool, res === undefined ? undefined : this.#requestId?.(res), error, undefined));
      }
    });
    promise.catch(noop);
    if (task === undefined) return promise;
    this.#used = true;
    this.#live.add(task);
    const res = request.scope?.res as WithPending | undefined;
    if (res === undefined || res.closed) {
      if (res === undefined || this.#shouldRun(task, res)) this.#release(task);
      else this.#skip(task, res);
      return promise;
    }
    task.state = 'waiting';
    this.#stats.waiting++;
    const pending = res[kPending];
    if (pending === undefined) {
      res[kPending] = [task];
      res.once('close', this.#onResponseClose);
    } else pending.push(task);
    return promise;
  }

  /**
   * Waits for every task (waiting, queued and running) to end, for at most drainTimeout (or
   * until `signal` aborts); reports what is left by task name, logs the stats and
   * closes the pools and the journal. Tasks scheduled meanwhile are drained too. Rejects with
   * HX_ERR_CROSSTOWN_DRAIN_LEFT when tasks are lost (left and not journaled for replay).
   */
  async drain(options: DrainOptions = {}): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'draining';
    const limit = this.#config.drainTimeout;
    if (this.#live.size) {
      this.#log.info({ tasks: this.#live.size, timeout: limit }, 'crosstown draining');
      await this.#whenIdle(limit, options.signal);
    }
    this.#state = 'closed';
    const left = this.#abandon();
    const stats = this.stats();
    if (this.#used || stats.replayed) this.#log.info({ ...stats }, 'crosstown stats');
    else this.#log.debug({ ...stats }, 'crosstown stats');
    await this.#closePools(left.count > 0);
    this.#journal?.close();
    if (left.count === 0) return;
    const reason = options.signal?.aborted ? 'the stop was forced' : 'drainTimeout passed';
    this.#log.warn({ left: left.byName, journaled: left.journaled || undefined, reason }, 'crosstown tasks left undone');
    const lost = left.count - left.journaled;
    if (lost > 0) {
      const names = Object.entries(left.byName)
        .map(([name, n]) => `${name} ×${n}`)
        .join(', ');
      throw new HendrixError('HX_ERR_CROSSTOWN_DRAIN_LEFT', {
        message: `${left.count} crosstown task${left.count === 1 ? '' : 's'} left undone at stop (${reason}): ${names}${left.journaled ? `; ${left.journaled} journaled, replayed at the next start` : ''}`,
      });
    }
  }

  // --- scheduling -----------------------------------------------------------------------------

  #makeTask(request: ScheduleRequest, resolve: (value: unknown) => void, reject: (error: Error) => void): Task {
    if (this.#state === 'closed') throw new HendrixError('HX_ERR_CROSSTOWN_CLOSED', { message: 'crosstown is stopped: the service has drained its tasks' });
    const { options, pool } = request;
    const filter = options.skipStatus === undefined ? this.#filter : statusFilterFor(options.skipStatus);
    const runOnAbort = options.runOnAbort ?? this.#config.runOnAbort;
    const res = request.scope?.res;
    const reqId = res === undefined ? undefined : this.#requestId?.(res);
    const base = { pool, reqId, filter, runOnAbort, state: 'queued' as TaskState, resolve, reject };
    if (pool === 'loop') {
      const fn = request.fn;
      if (typeof fn !== 'function') throw new HendrixError('HX_ERR_CROSSTOWN_BAD_TASK', { message: `crosstown() takes a function, got ${fn === null ? 'null' : typeof fn}` });
      return { ...base, name: options.name ?? (fn.name || 'anonymous'), fn, spec: undefined, timeout: 0, journalId: undefined };
    }
    const found = resolveTask(request.task as string, request.callerFile, this.#baseDir);
    const spec: TaskSpec = { file: found.file, exportName: found.exportName, data: request.data, ...(options.transfer ? { transfer: options.transfer } : {}) };
    const name = options.name ?? found.name;
    let journalId: string | undefined;
    if (this.#journal !== undefined && options.durable !== false) {
      journalId = randomUUID();
      const entry: JournalEntry = { id: journalId, pool, file: spec.file, exportName: spec.exportName, data: request.data, name, at: Date.now(), attempts: 0 };
      try {
        this.#journal.append(entry);
      } catch (error) {
        throw new HendrixError('HX_ERR_CROSSTOWN_BAD_TASK', {
          message: error instanceof Error ? error.message : String(error),
          hint: 'the journal is on: give durable tasks JSON data, or pass { durable: false } for this call',
          cause: error,
        });
      }
    }
    return { ...base, name, fn: undefined, spec, timeout: options.timeout ?? this.#config.taskTimeout, journalId };
  }

  #replay(entry: JournalEntry): void {
    const journal = this.#journal as Journal;
    if (entry.attempts > MAX_REPLAY_ATTEMPTS) {
      journal.failed(entry.id);
      this.#stats.failed++;
      this.#log.error({ task: entry.name, attempts: entry.attempts, id: entry.id }, 'crosstown task given up: unfinished at every start');
      return;
    }
    const task: Task = {
      pool: entry.pool,
      name: entry.name,
      reqId: undefined,
      fn: undefined,
      spec: { file: entry.file, exportName: entry.exportName, data: entry.data },
      timeout: this.#config.taskTimeout,
      filter: this.#filter,
      runOnAbort: true,
      journalId: entry.id,
      state: 'queued',
      resolve: noop,
      reject: noop,
    };
    this.#stats.replayed++;
    this.#used = true;
    this.#live.add(task);
    this.#release(task, true);
  }

  #shouldRun(task: Task, res: ServerResponse): boolean {
    return res.writableFinished ? !task.filter.skips(res.statusCode) : task.runOnAbort;
  }

  #responseEnded(res: WithPending): void {
    const pending = res[kPending];
    res[kPending] = undefined;
    if (pending === undefined) return;
    for (const task of pending) {
      if (task.state !== 'waiting') continue; // abandoned by a drain that timed out
      this.#stats.waiting--;
      if (this.#shouldRun(task, res)) this.#release(task);
      else this.#skip(task, res);
    }
  }

  #skip(task: Task, res: ServerResponse): void {
    this.#stats.skipped++;
    const why = res.writableFinished ? { status: res.statusCode } : { aborted: true };
    this.#log.debug({ reqId: task.reqId, task: task.name, ...why }, 'crosstown task skipped');
    if (task.journalId !== undefined) this.#journal?.done(task.journalId);
    this.#settle(task);
    task.resolve(undefined);
  }

  /** The response allows it (or there is none): run a loop task, or queue a pool task. */
  #release(task: Task, replay = false): void {
    if (task.pool === 'loop') {
      task.state = 'running';
      this.#stats.running++;
      setImmediate(() => this.#runLoop(task));
      return;
    }
    const lane = this.#lanes[task.pool];
    const pool = (lane.pool ??= this.#makePool(task.pool));
    if (lane.queue.size === 0 && pool.available() > 0) {
      this.#start(task, lane);
      return;
    }
    if (!replay && lane.queue.size >= this.#config.maxQueue) {
      this.#stats.dropped++;
      const error = new HendrixError('HX_ERR_CROSSTOWN_QUEUE_FULL', {
        message: `crosstown ${task.pool} queue is full (maxQueue ${this.#config.maxQueue}, ${pool.size} ${task.pool}${pool.size === 1 ? '' : 's'} busy): ${task.name} dropped`,
      });
      this.#log.warn({ reqId: task.reqId, task: task.name, pool: task.pool, maxQueue: this.#config.maxQueue }, 'crosstown task dropped: queue full');
      if (task.journalId !== undefined) this.#journal?.failed(task.journalId);
      this.#settle(task);
      task.reject(error);
      return;
    }
    task.state = 'queued';
    this.#stats.queued++;
    lane.queue.push(task);
  }

  #makePool(kind: 'thread' | 'process'): TaskPool {
    const size = (kind === 'thread' ? this.#config.threads : this.#config.processes) ?? availableParallelism();
    this.#log.debug({ pool: kind, size }, 'crosstown pool created');
    return this.#createPool(kind, size, this.#log);
  }

  #pump(lane: PoolLane): void {
    const pool = lane.pool;
    if (pool === undefined) return;
    while (lane.queue.size > 0 && pool.available() > 0) {
      const task = lane.queue.shift() as Task;
      this.#stats.queued--;
      this.#start(task, lane);
    }
  }

  #start(task: Task, lane: PoolLane): void {
    task.state = 'running';
    this.#stats.running++;
    const pool = lane.pool as TaskPool;
    pool.run(task.spec as TaskSpec, task.timeout > 0 ? { timeout: task.timeout } : {}).then(
      (value) => {
        this.#ended(task, undefined);
        task.resolve(value);
        this.#pump(lane);
      },
      (error: unknown) => {
        const failure = this.#ended(task, error);
        if (failure) task.reject(failure);
        this.#pump(lane);
      },
    );
  }

  #runLoop(task: Task): void {
    let result: unknown;
    try {
      result = requestContext.run(this.#loopScope, task.fn as () => unknown);
    } catch (error) {
      const failure = this.#ended(task, error);
      if (failure) task.reject(failure);
      return;
    }
    Promise.resolve(result).then(
      (value) => {
        this.#ended(task, undefined);
        task.resolve(value);
      },
      (error: unknown) => {
        const failure = this.#ended(task, error);
        if (failure) task.reject(failure);
      },
    );
  }

  /**
   * Books a running task's end: counts, journal, log. Returns the error its promise rejects
   * with (undefined for a success, or for a task a drain already reported as left).
   */
  #ended(task: Task, error: unknown): HendrixError | undefined {
    if (task.state !== 'running') return undefined; // reported as left when a drain gave up
    this.#stats.running--;
    this.#settle(task);
    if (error === undefined) {
      this.#stats.done++;
      if (task.journalId !== undefined) this.#journal?.done(task.journalId);
      return undefined;
    }
    this.#stats.failed++;
    if (task.journalId !== undefined) this.#journal?.failed(task.journalId);
    return this.#fail(task.name, task.pool, task.reqId, error, task.timeout);
  }

  /** Turns a task's error into a HendrixError and logs it. */
  #fail(name: string, pool: TaskPoolKind, reqId: string | undefined, error: unknown, timeout: number | undefined): HendrixError {
    let failure: HendrixError;
    const code = (error as { code?: unknown } | null)?.code;
    if (error instanceof HendrixError) failure = error;
    else if (code === 'HX_TASK_TIMEOUT') failure = new HendrixError('HX_ERR_CROSSTOWN_TASK_TIMEOUT', { message: `crosstown task ${name} timed out after ${timeout} ms; its ${pool} worker was stopped`, cause: error });
    else if (code === 'HX_TASK_NO_EXPORT' || code === 'HX_TASK_DATA') failure = new HendrixError('HX_ERR_CROSSTOWN_BAD_TASK', { message: `crosstown task ${name}: ${(error as Error).message}`, cause: error });
    else {
      const message = error instanceof Error ? error.message : String(error);
      failure = new HendrixError('HX_ERR_CROSSTOWN_TASK_FAILED', { message: `crosstown task ${name} failed: ${message}`, cause: error });
    }
    this.#log.error({ reqId, task: name, pool, err: failure }, 'crosstown task failed');
    return failure;
  }

  #settle(task: Task): void {
    task.state = 'settled';
    this.#live.delete(task);
    if (this.#live.size === 0) for (const wake of this.#idle) wake();
  }

  // --- drain ----------------------------------------------------------------------------------

  #whenIdle(limit: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#idle.delete(done);
        resolve();
      };
      // setTimeout treats anything above 2^31-1 ms as 1 ms
      const timer = setTimeout(done, Math.min(limit, 2 ** 31 - 1));
      this.#idle.add(done);
      if (signal?.aborted) done();
      else signal?.addEventListener('abort', done, { once: true });
      if (this.#live.size === 0) done();
    });
  }

  /** Gives up on every live task: counts them by name, rejects the waiting and queued ones. */
  #abandon(): { count: number; journaled: number; byName: Record<string, number> } {
    const byName: Record<string, number> = {};
    let journaled = 0;
    const tasks = [...this.#live];
    for (const task of tasks) {
      byName[task.name] = (byName[task.name] ?? 0) + 1;
      if (task.journalId !== undefined) journaled++;
      const left = new HendrixError('HX_ERR_CROSSTOWN_DRAIN_LEFT', { message: `crosstown task ${task.name} was left undone at stop` });
      if (task.state === 'waiting') this.#stats.waiting--;
      else if (task.state === 'queued') this.#stats.queued--;
      else if (task.state === 'running') this.#stats.running--;
      this.#settle(task);
      task.reject(left);
    }
    for (const kind of POOL_KINDS) this.#lanes[kind].queue.drain();
    return { count: tasks.length, journaled, byName };
  }

  async #closePools(force: boolean): Promise<void> {
    await Promise.all(
      POOL_KINDS.map(async (kind) => {
        const pool = this.#lanes[kind].pool;
        if (pool === undefined) return;
        try {
          await (force ? pool.destroy() : pool.close());
        } catch (error) {
          this.#log.warn({ pool: kind, err: error }, 'crosstown pool did not close cleanly');
        }
      }),
    );
  }
}
