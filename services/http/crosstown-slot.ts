import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { crosstownShared, type CrosstownHost } from '../../src/crosstown/context.js';
import { CrosstownRuntime, emptyStats, type CrosstownStats } from '../../src/crosstown/runtime.js';
import type { PathSegment, SourceLocation } from '../../src/errors/hendrix-error.js';
import type { HttpConfig } from './schema.js';

type CrosstownConfig = HttpConfig['crosstown'];
type ScheduleRequest = Parameters<CrosstownHost['schedule']>[0];

/** The fields a runtime fixes when it is built: its pools, queues, drain limit and journal. */
const RUNTIME_FIELDS = ['threads', 'processes', 'maxQueue', 'drainTimeout', 'journal'] as const;

/** What a CrosstownSlot needs from its service. */
export interface CrosstownSlotOptions {
  readonly log: Logger;
  readonly baseDir: string;
  /** The service name and where its config is written, for errors. */
  readonly service: string;
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
  /** The request id of a response, for log lines. */
  requestId(res: ServerResponse): string | undefined;
  /** The responses in flight now: a retired runtime drains once they are over. */
  inflight(): ServerResponse[];
  /** The journal's file name (one per worker slot when the graph has workers). */
  readonly journalFile?: string | undefined;
}

/** A switch to a new crosstown config, prepared: `commit` makes it current (it cannot fail). */
export interface CrosstownSwitch {
  commit(): CrosstownHost;
}

/**
 * The crosstown runtime of an http service across reloads. A change of the per-task defaults
 * (skipStatus, runOnAbort, taskTimeout) keeps the runtime, its pools and its journal: a thin
 * host passes the new defaults with each call. A change of what a runtime fixes when it is
 * built (pool sizes, queue bound, drainTimeout, journal) builds a new runtime for the work
 * scheduled from then on, while the old one finishes what it holds (once the requests that were
 * running at the switch are over) and closes its pools, in the background; the service's stop
 * waits for it.
 */
export class CrosstownSlot {
  readonly #options: CrosstownSlotOptions;
  #runtime: CrosstownRuntime | undefined;
  /** The config the current runtime was built with. */
  #built: CrosstownConfig | undefined;
  #host: CrosstownHost | undefined;
  readonly #retired = new Set<Promise<void>>();
  #force = new AbortController();
  /** The runtimes whose counts still move: the current one and those a reload retired, until drained. */
  readonly #live = new Set<CrosstownRuntime>();
  /** The totals (done, failed, dropped, skipped, replayed) of the runtimes this slot has let go. */
  readonly #past: CrosstownStats = emptyStats();

  constructor(options: CrosstownSlotOptions) {
    this.#options = options;
  }

  /** Builds and starts a fresh runtime (a start of the service: the last one was drained by stop). */
  start(config: CrosstownConfig): CrosstownHost {
    this.#force = new AbortController();
    const runtime = this.#build(config);
    runtime.start();
    if (this.#runtime !== undefined) this.#letGo(this.#runtime);
    this.#live.add(runtime);
    this.#runtime = runtime;
    this.#built = config;
    this.#host = runtime;
    // work scheduled outside any request (a timer, app start-up) goes to the first running service
    crosstownShared.runtimes.add(runtime);
    return runtime;
  }

  /** The counts of the current runtime. */
  stats(): CrosstownStats {
    return this.#runtime?.stats() ?? emptyStats();
  }

  /**
   * The counts of every runtime this slot has had, for the service's figures: what is queued
   * and running now in the current and the retired ones, and the totals since the service was
   * built — a reload that builds a new runtime, or a start after a stop, does not reset them.
   */
  totals(): CrosstownStats {
    const sum = { ...this.#past };
    for (const runtime of this.#live) {
      const stats = runtime.stats();
      for (const key of Object.keys(sum) as (keyof CrosstownStats)[]) sum[key] += stats[key];
    }
    return sum;
  }

  /** Moves the totals of a runtime that will count no more (drained, replaced) into the past. */
  #letGo(runtime: CrosstownRuntime): void {
    if (!this.#live.delete(runtime)) return;
    const stats = runtime.stats();
    for (const key of ['done', 'failed', 'dropped', 'skipped', 'replayed'] as const) this.#past[key] += stats[key];
  }

  /**
   * Prepares the switch to `next`: a new runtime is built and started now (a journal opens,
   * what it holds is replayed) when one is needed, so the caller prepares it last, after
   * everything else that may fail. A new runtime on the current one's journal folder shares its
   * open journal (src/crosstown/journal.ts): it replays nothing the current one is running.
   */
  prepare(next: CrosstownConfig): CrosstownSwitch {
    const runtime = this.#runtime;
    const built = this.#built;
    if (runtime === undefined || built === undefined) throw new Error('crosstown: reload before start');
    const changed = RUNTIME_FIELDS.filter((field) => JSON.stringify(built[field]) !== JSON.stringify(next[field]));
    if (changed.length === 0) {
      const host = sameDefaults(built, next) ? runtime : withDefaults(runtime, next);
      return { commit: () => this.#setHost(host) };
    }
    const fresh = this.#build(next);
    fresh.start();
    return {
      commit: () => {
        this.#retire(runtime);
        this.#live.add(fresh);
        this.#runtime = fresh;
        this.#built = next;
        return this.#setHost(fresh);
      },
    };
  }

  /**
   * Drains the current runtime and waits for those a reload retired (all forced when `signal`
   * aborts); rejects with the current runtime's drain error.
   */
  async drain(signal: AbortSignal): Promise<void> {
    const force = (): void => this.#force.abort(signal.reason);
    if (signal.aborted) force();
    else signal.addEventListener('abort', force, { once: true });
    const runtime = this.#runtime;
    const host = this.#host;
    try {
      await Promise.all([runtime?.drain({ signal }), ...this.#retired]);
    } finally {
      signal.removeEventListener('abort', force);
      if (runtime !== undefined) crosstownShared.runtimes.delete(runtime);
      if (host !== undefined) crosstownShared.runtimes.delete(host);
    }
  }

  #build(config: CrosstownConfig): CrosstownRuntime {
    const { log, baseDir, requestId, journalFile } = this.#options;
    return new CrosstownRuntime({ config, log: log.child({ component: 'crosstown' }), baseDir, requestId, journalFile });
  }

  #setHost(host: CrosstownHost): CrosstownHost {
    const previous = this.#host;
    if (previous !== host) {
      if (previous !== undefined) crosstownShared.runtimes.delete(previous);
      crosstownShared.runtimes.add(host);
    }
    this.#host = host;
    return host;
  }

  /** The old runtime drains once the requests running now (which may still schedule work on it) are over. */
  #retire(runtime: CrosstownRuntime): void {
    const running = this.#options.inflight().map((res) => (res.closed ? undefined : new Promise((done) => res.once('close', done))));
    const signal = this.#force.signal;
    const drained = Promise.all(running)
      .then(() => runtime.drain({ signal }))
      .catch((error: unknown) => this.#options.log.warn({ err: error }, 'crosstown runtime retired by a reload did not drain cleanly'))
      .finally(() => {
        this.#letGo(runtime);
        crosstownShared.runtimes.delete(runtime);
        this.#retired.delete(drained);
      });
    this.#retired.add(drained);
  }
}

function sameDefaults(a: CrosstownConfig, b: CrosstownConfig): boolean {
  return a.runOnAbort === b.runOnAbort && a.taskTimeout === b.taskTimeout && JSON.stringify(a.skipStatus) === JSON.stringify(b.skipStatus);
}

/** A host that gives each call the defaults of `config` it does not set itself, then schedules it on `runtime`. */
function withDefaults(runtime: CrosstownHost, config: CrosstownConfig): CrosstownHost {
  return {
    schedule(request: ScheduleRequest): Promise<unknown> {
      const { options } = request;
      return runtime.schedule({
        ...request,
        options: {
          ...options,
          skipStatus: options.skipStatus ?? config.skipStatus,
          runOnAbort: options.runOnAbort ?? config.runOnAbort,
          timeout: options.timeout ?? config.taskTimeout,
        },
      });
    },
  };
}
