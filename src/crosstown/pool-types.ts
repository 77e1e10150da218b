import { basename } from 'node:path';
import type { Transferable } from 'node:worker_threads';
import type { Logger } from '../log/logger.js';
import { TASK_ERROR_CODES, taskError, toError } from './task-error.js';

export type { Transferable } from 'node:worker_threads';

/** One task for a pool: an exported function of a module, called with `data`. */
export interface TaskSpec {
  /** The absolute path of the module. */
  file: string;
  /** The export to call; 'default' is allowed. */
  exportName: string;
  /** The argument, structured-cloned (threads) or v8-serialized (processes). */
  data: unknown;
  /** Objects to move rather than copy (threads only; a process pool copies them). */
  transfer?: readonly Transferable[];
}

/** Options of one run(). */
export interface PoolRunOptions {
  /** Milliseconds before the task fails with HX_TASK_TIMEOUT and its worker is stopped; 0 or absent: none. */
  timeout?: number;
}

/**
 * A fixed-size pool that runs at most `size` tasks at once. It does NOT queue: the caller keeps
 * its own queue and calls run() only while available() > 0.
 */
export interface TaskPool {
  readonly kind: 'thread' | 'process';
  readonly size: number;
  /** Free slots; a slot counts as free before its worker exists (workers start lazily); 0 once closed. */
  available(): number;
  /** Runs a task on a free slot; rejects at once when none is free (a programming error). */
  run(task: TaskSpec, options?: PoolRunOptions): Promise<unknown>;
  /** Waits for the running tasks, then ends every worker; run() rejects from now on. */
  close(): Promise<void>;
  /** Ends every worker now; running tasks reject with HX_TASK_DESTROYED. */
  destroy(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The machinery both pools share (here rather than in a file of its own, to keep crosstown/ to
// the files agreed on). A pool is `size` slots; each slot has at most one worker (a
// thread or a child, started on first use, replaced after it dies) and at most one task.

/** The message a worker receives. */
export interface TaskMessage {
  id: number;
  file: string;
  exportName: string;
  data: unknown;
}

/** What a worker sends back. */
export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: unknown } | { fatal: unknown };

/** How a worker ended: exit code or signal, and the uncaught error that ended it, if known. */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  error?: Error;
}

/** One worker thread or child process, as the shared machinery drives it. */
export interface WorkerHandle {
  /** threadId or pid, for logs and tests. */
  readonly id: number;
  /** Sends a task; throws when the data cannot be cloned or serialized. */
  send(message: TaskMessage, transfer: readonly Transferable[] | undefined): void;
  /** Ends an idle worker gracefully. */
  end(): void;
  /** Ends the worker now. */
  kill(): void;
  /** Lets the worker keep the parent alive: while it runs a task. */
  ref(): void;
  /** Lets the parent exit even though the worker is up: while it is idle. */
  unref(): void;
}

/** Starts one worker; it reports its replies and its exit through the callbacks. */
export type SpawnWorker = (onReply: (reply: WorkerReply) => void, onExit: (exit: WorkerExit) => void) => WorkerHandle;

interface Live {
  handle: WorkerHandle;
  exited: Promise<void>;
  stopping: boolean;
  fatal?: Error;
}

interface Running {
  id: number;
  name: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Live | undefined;
  task: Running | undefined;
}

const idKey = { thread: 'threadId', process: 'pid' } as const;

/** Builds a TaskPool of `size` slots over `spawn`; used by createThreadPool and createProcessPool. */
export function createPoolOf(kind: 'thread' | 'process', size: number, log: Logger, spawn: SpawnWorker): TaskPool {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`a ${kind} pool needs a whole size of at least 1, got ${size}`);
  const slots: Slot[] = Array.from({ length: size }, () => ({ worker: undefined, task: undefined }));
  const live = new Set<Live>();
  const running = new Set<Promise<unknown>>();
  const what = kind === 'thread' ? 'worker thread' : 'child process';
  let nextId = 1;
  let closed = false;
  let closing: Promise<void> | undefined;

  const settle = (slot: Slot, task: Running): void => {
    clearTimeout(task.timer);
    if (slot.task === task) slot.task = undefined;
    slot.worker?.handle.unref();
  };

  const start = (slot: Slot): Live => {
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const onReply = (reply: WorkerReply): void => {
      if ('fatal' in reply) {
        worker.fatal = toError(reply.fatal);
        return;
      }
      const task = slot.task;
      if (slot.worker !== worker || !task || task.id !== reply.id) return; // a task that already timed out
      settle(slot, task);
      if (reply.ok) task.resolve(reply.value);
      else task.reject(toError(reply.error));
    };
    const onExit = (exit: WorkerExit): void => {
      live.delete(worker);
      markExited();
      const ids = { pool: kind, [idKey[kind]]: worker.handle.id };
      const cause = exit.error ?? worker.fatal;
      if (worker.stopping) log.debug(ids, 'worker stopped');
      else log.warn({ ...ids, code: exit.code, signal: exit.signal, err: cause }, 'worker exited');
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      const task = slot.task;
      if (!task) return;
      settle(slot, task);
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
      const reason = cause ? `: ${cause.message}` : '';
      const message = `${what} ${worker.handle.id} ${how} while running ${task.name}${reason}`;
      task.reject(taskError(TASK_ERROR_CODES.crashed, message, { exitCode: exit.code, signal: exit.signal }, cause));
    };
    // the callbacks only fire from later events, by which time `worker` is set
    const worker: Live = { handle: spawn(onReply, onExit), exited, stopping: false };
    live.add(worker);
    log.debug({ pool: kind, [idKey[kind]]: worker.handle.id }, 'worker started');
    return worker;
  };

  const stop = (worker: Live, now: boolean): Promise<void> => {
    worker.stopping = true;
    if (now) worker.handle.kill();
    else worker.handle.end();
    return worker.exited;
  };

  const runOn = (slot: Slot, spec: TaskSpec, options: PoolRunOptions): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const name = `${basename(spec.file)}#${spec.exportName}`;
      const task: Running = { id: nextId++, name, resolve, reject };
      slot.task = task;
      let started = false;
      try {
        const worker = (slot.worker ??= start(slot));
        started = true;
        worker.handle.ref();
        worker.handle.send({ id: task.id, file: spec.file, exportName: spec.exportName, data: spec.data }, spec.transfer);
      } catch (error) {
        settle(slot, task);
        const message = `the data of ${name} cannot be sent to a ${what}: ${(error as Error).message}`;
        reject(started ? Object.assign(new TypeError(message, { cause: error }), { code: TASK_ERROR_CODES.data }) : (error as Error));
        return;
      }
      const timeout = options.timeout ?? 0;
      if (timeout > 0) {
        task.timer = setTimeout(() => {
          if (slot.task !== task) return;
          const worker = slot.worker;
          settle(slot, task);
          slot.worker = undefined; // the slot is free again; its next task starts a new worker
          if (worker) void stop(worker, true);
          reject(taskError(TASK_ERROR_CODES.timeout, `${name} timed out after ${timeout} ms; its ${what} was stopped`, { timeout }));
        }, timeout);
      }
    });

  return {
    kind,
    size,
    available: () => (closed ? 0 : slots.filter((s) => !s.task).length),
    run(spec, options = {}) {
      if (closed) return Promise.reject(taskError(TASK_ERROR_CODES.closed, `the ${kind} pool is closed`));
      // prefer a slot whose worker is already up
      const slot = slots.find((s) => !s.task && s.worker) ?? slots.find((s) => !s.task);
      if (!slot) return Promise.reject(taskError(TASK_ERROR_CODES.full, `the ${kind} pool has no free slot (size ${size}); queue the task and wait for available() > 0`));
      const promise = runOn(slot, spec, options);
      const tracked: Promise<unknown> = promise.then(
        () => running.delete(tracked),
        () => running.delete(tracked),
      );
      running.add(tracked);
      return promise;
    },
    close() {
      closed = true;
      closing ??= (async () => {
        while (running.size) await Promise.all(running);
        await Promise.all([...live].map((w) => stop(w, false)));
      })();
      return closing;
    },
    async destroy() {
      closed = true;
      for (const slot of slots) {
        const task = slot.task;
        if (!task) continue;
        settle(slot, task);
        task.reject(taskError(TASK_ERROR_CODES.destroyed, `the ${kind} pool was destroyed while ${task.name} was running`));
      }
      await Promise.all([...live].map((w) => stop(w, true)));
    },
  };
}
