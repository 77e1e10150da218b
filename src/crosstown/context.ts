import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';
import type { Transferable } from 'node:worker_threads';
import type { StatusPattern } from './status-filter.js';

/**
 * The request context crosstown reads: which response is current, and which runtime owns it.
 *
 * The http pipeline runs the app inside `requestContext.run(scope, ...)`, once per request
 * (once the public API is loaded), so a handler — Node listener, fetch handler or
 * factory-made app alike — can call `crosstown(fn)` without passing `res` around. The storage
 * lives on `globalThis` under a registered symbol: an app importing the bundled package and a
 * service loaded from source (tests), or two copies of the package, still meet in one context.
 */

/** Where a task runs. */
export type TaskPoolKind = 'loop' | 'thread' | 'process';

/** The options every crosstown call takes. */
export interface CrosstownOptions {
  /** Response statuses after which this task does not run; default: the service's `skipStatus`. */
  skipStatus?: readonly StatusPattern[];
  /** Whether this task also runs when the client went away; default: the service's `runOnAbort`. */
  runOnAbort?: boolean;
  /** The task's name in logs and stats; default: the function's name (loop) or `module#export`. */
  name?: string;
}

/** The options of crosstown.thread() and crosstown.process(). */
export interface CrosstownTaskOptions extends CrosstownOptions {
  /** Objects moved to the thread rather than copied (ArrayBuffers, MessagePorts); processes copy. */
  transfer?: readonly Transferable[];
  /** Milliseconds before the task fails and its worker is replaced; default: the service's `taskTimeout`. */
  timeout?: number;
  /** Whether the task is journaled when the service has a journal; default true. */
  durable?: boolean;
}

/** One call of the API, as handed to the runtime that will run it. */
export interface ScheduleRequest {
  readonly pool: TaskPoolKind;
  /** The function of a loop task. */
  readonly fn?: () => unknown;
  /** The `module#export` text of a thread or process task. */
  readonly task?: string;
  /** The file of the module that called the API, when it could be found. */
  readonly callerFile?: string | undefined;
  readonly data?: unknown;
  readonly options: CrosstownTaskOptions;
  /** The request scope the call was made in; undefined outside any request. */
  readonly scope: RequestScope | undefined;
}

/**
 * What runs the work: the crosstown runtime of an http service, or the default one. Kept to
 * one method so that copies of the package at different versions can still talk.
 */
export interface CrosstownHost {
  /** Schedules one task; the promise is already marked handled. */
  schedule(request: ScheduleRequest): Promise<unknown>;
}

/**
 * The store of one request: its response and the host to schedule work with. Created once
 * per request by the http pipeline (two fields: cheap), or once per loop task with no response.
 */
export interface RequestScope {
  /** The response of the request; undefined inside a loop task or while an app loads. */
  readonly res: ServerResponse | undefined;
  readonly host: CrosstownHost;
  /**
   * Whose code the request runs: the fault tag of the http service instance (an opaque value
   * for crosstown), so that an exception or a rejection in work the request started is blamed
   * on that service.
   */
  readonly fault?: unknown;
}

/** What every copy of the package in the process shares, kept on `globalThis`. */
export interface CrosstownShared {
  /** The one AsyncLocalStorage that carries the current RequestScope. */
  readonly context: AsyncLocalStorage<RequestScope>;
  /**
   * Whether the public API has been loaded. Until it is, nobody can call crosstown(), and the
   * http pipeline skips the per-request context: on Node 20 the first AsyncLocalStorage.run()
   * turns on async hooks for the whole process, which costs a few percent of requests/s.
   */
  apiLoaded: boolean;
  /** The runtimes of the http services running now, in start order. */
  readonly runtimes: Set<CrosstownHost>;
}

const KEY = Symbol.for('hendrix.crosstown.shared');

type GlobalWithShared = typeof globalThis & { [KEY]?: CrosstownShared };

/** The state shared by every copy of the package in this process. */
export const crosstownShared: CrosstownShared = ((globalThis as GlobalWithShared)[KEY] ??= {
  context: new AsyncLocalStorage<RequestScope>(),
  apiLoaded: false,
  runtimes: new Set(),
});

/** The AsyncLocalStorage that carries the current RequestScope. */
export const requestContext: AsyncLocalStorage<RequestScope> = crosstownShared.context;

/** The scope of the current request, if any. */
export function currentScope(): RequestScope | undefined {
  return crosstownShared.apiLoaded ? requestContext.getStore() : undefined;
}

/** The runtime of the first http service running in this process, if any. */
export function firstRunningHost(): CrosstownHost | undefined {
  for (const host of crosstownShared.runtimes) return host;
  return undefined;
}
