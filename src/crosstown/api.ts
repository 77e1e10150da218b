import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { defaultCrosstownConfig } from './config.js';
import { crosstownShared, currentScope, firstRunningHost, type CrosstownHost, type CrosstownOptions, type CrosstownTaskOptions, type ScheduleRequest } from './context.js';
import { callerFile } from './resolve-task.js';
import { CrosstownRuntime } from './runtime.js';

export type { CrosstownOptions, CrosstownTaskOptions } from './context.js';

/**
 * Work after the response. `crosstown(fn)` runs `fn` on the event loop once the current
 * response has finished; `crosstown.thread('./tasks.mjs#resize', data)` and
 * `crosstown.process('./tasks.mjs#report', data)` run an exported function in the service's
 * worker-thread or child-process pool. Each returns a promise for the result (undefined when
 * the task was skipped by status), already marked handled: ignoring it never causes an
 * unhandled rejection, for failures are logged and counted by the service. Never await it
 * before responding: the task starts only after the response.
 */
export interface Crosstown {
  /** Runs `fn` on the event loop after the current response (at once outside a request). */
  <T>(fn: () => T, options?: CrosstownOptions): Promise<Awaited<T> | undefined>;
  /** Runs `module#export` in a worker thread after the current response; `data` is structured-cloned. */
  thread<T = unknown>(task: string, data?: unknown, options?: CrosstownTaskOptions): Promise<T | undefined>;
  /** Runs `module#export` in a child process after the current response; `data` is v8-serialized. */
  process<T = unknown>(task: string, data?: unknown, options?: CrosstownTaskOptions): Promise<T | undefined>;
}

// from now on the http pipeline gives each request the context crosstown() reads
crosstownShared.apiLoaded = true;

/** This module's own file: its frames are not the caller's. */
const OWN_FILE = (() => {
  try {
    return fileURLToPath(import.meta.url);
  } catch {
    return undefined;
  }
})();

let fallback: CrosstownRuntime | undefined;

/**
 * The runtime of calls made outside any request when no http service runs in this process
 * (a script, a test): every default, paths relative to the calling module or the working folder,
 * failures logged as JSON to stderr at warn. It is never drained: a script that must not lose
 * work awaits the promises.
 */
function defaultHost(): CrosstownHost {
  if (fallback === undefined) {
    const log = pino({ level: 'warn', base: undefined, name: 'crosstown' }, pino.destination({ dest: 2, sync: true }));
    fallback = new CrosstownRuntime({ config: defaultCrosstownConfig(), log, baseDir: process.cwd() });
    fallback.start();
    log.debug({ code: 'HX_ERR_CROSSTOWN_NO_SERVICE' }, 'crosstown called outside an http service: default runtime');
  }
  return fallback;
}

function submit(request: ScheduleRequest): Promise<unknown> {
  // outside a request: the first running http service, else the default runtime
  const host = request.scope?.host ?? firstRunningHost() ?? defaultHost();
  try {
    return host.schedule(request);
  } catch (error) {
    // a host from another copy of the package should not throw, but the caller must not see it
    const rejected = Promise.reject(error);
    rejected.catch(() => undefined);
    return rejected;
  }
}

function isRelative(task: unknown): boolean {
  return typeof task === 'string' && (task.startsWith('./') || task.startsWith('../'));
}

function onLoop<T>(fn: () => T, options: CrosstownOptions = {}): Promise<Awaited<T> | undefined> {
  return submit({ pool: 'loop', fn, options, scope: currentScope() }) as Promise<Awaited<T> | undefined>;
}

function thread<T = unknown>(task: string, data?: unknown, options: CrosstownTaskOptions = {}): Promise<T | undefined> {
  const caller = isRelative(task) ? callerFile(thread, OWN_FILE) : undefined;
  return submit({ pool: 'thread', task, callerFile: caller, data, options, scope: currentScope() }) as Promise<T | undefined>;
}

function inProcess<T = unknown>(task: string, data?: unknown, options: CrosstownTaskOptions = {}): Promise<T | undefined> {
  const caller = isRelative(task) ? callerFile(inProcess, OWN_FILE) : undefined;
  return submit({ pool: 'process', task, callerFile: caller, data, options, scope: currentScope() }) as Promise<T | undefined>;
}

/** Work after the response: see {@link Crosstown}. */
export const crosstown: Crosstown = Object.assign(onLoop, { thread, process: inProcess });
