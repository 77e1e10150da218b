/**
 * The shapes of the admin API (docs/admin-api.md): what `GET /status`, `GET /events` and the
 * operations answer, on the control socket and on the optional TCP admin listener. One process
 * and the primary of a graph with workers answer the same shapes through an {@link AdminSource}.
 */

/** An error as the admin API shows it: the code, message, hint and manifest location. */
export interface AdminError {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  /** `hendrix.yaml:12:5`: file:line:column of the manifest place the error is about. */
  readonly at?: string;
  /** The manifest path (`services.web.restart.limit`). */
  readonly path?: string;
}

/**
 * A figure as status shows it, by name (`http_requests_total`): a number; or, for a figure with
 * labels, the value per label values joined by `,` (`{ "2xx": 10, "5xx": 1 }`); or a histogram.
 */
export type FigureValue = number | Readonly<Record<string, number>> | HistogramValue;

/** A histogram in status: buckets and counts as the kind reported them, with the count and sum. */
export interface HistogramValue {
  readonly buckets: readonly number[];
  /** Per bucket, not cumulative; the last entry is +Inf. */
  readonly counts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/** One service in `GET /status`. */
export interface ServiceStatus {
  readonly name: string;
  readonly kind: string;
  /** The orchestrator's state: waiting, created, starting, ready, stopping, stopped, failed, restarting. */
  readonly state: string;
  /** ISO time of the last state change. */
  readonly since: string;
  /** Why it is in this state, in words: what a start waits for, the error that failed it, `stopped by hendrix stop web`. */
  readonly why?: string;
  /** What its start waits for (ctx.waiting), while starting. */
  readonly waiting?: string;
  /** The last error it had (start, crash, stop), kept after it recovered. */
  readonly lastError?: AdminError;
  /** Restarts after dying, since `hendrix up`. */
  readonly restarts: number;
  /** ISO time of the next restart, while `restarting`. */
  readonly nextRestartAt?: string;
  /** Its address when it has one (`http://127.0.0.1:8000`). */
  readonly address?: string;
  /** Where it is declared (`hendrix.yaml:7:3`). */
  readonly at?: string;
  readonly dependsOn: readonly string[];
  readonly dependents: readonly string[];
  /** The kind's own figures (Service.figures), summed over workers. */
  readonly figures: Readonly<Record<string, FigureValue>>;
  /** With workers: where it runs (`each` worker or `once`) and its state and figures per worker id. */
  readonly placement?: 'each' | 'once';
  readonly workers?: Readonly<Record<string, { readonly state: string; readonly figures: Readonly<Record<string, FigureValue>> }>>;
}

/** One worker process in `GET /status` (graphs with `workers:` above 1). */
export interface WorkerStatus {
  /** The slot id: 1..N for the per-worker processes; `once` for the process of the once services. */
  readonly id: string;
  readonly role: 'each' | 'once';
  readonly pid: number | undefined;
  /** starting, ready, stopping, restarting, stopped, failed (a retiring worker shows as a `worker` event). */
  readonly state: string;
  readonly since: string;
  readonly restarts: number;
  /** Resident memory in bytes, as the worker last reported it. */
  readonly rss: number | undefined;
  /** CPU seconds (user + system) the worker has used. */
  readonly cpuSeconds: number | undefined;
  /** HTTP requests the worker answered (every http service of the worker). */
  readonly requests: number;
}

/** The instance in `GET /status`. */
export interface InstanceStatus {
  readonly version: string;
  readonly pid: number;
  /** ISO time `hendrix up` started. */
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  /** The manifest files (layers in order), absolute. */
  readonly files: readonly string[];
  /** The environment overlay (`--env production`), if any. */
  readonly env?: string;
  /** The plan's fingerprint (changes with every applied reload). */
  readonly fingerprint: string;
  /** starting, running, reloading, stopping. */
  readonly state: string;
  /** Readiness turned off ahead of a stop (drainDelay). */
  readonly draining: boolean;
  /** The control socket path. */
  readonly control: string;
  /** Resident memory of this process, bytes. */
  readonly rss: number;
  /** Worker processes, when the graph runs in workers. */
  readonly workers?: readonly WorkerStatus[];
}

/** `GET /status`. */
export interface StatusJson {
  readonly instance: InstanceStatus;
  /** In start order. */
  readonly services: readonly ServiceStatus[];
  /** The edges of the graph: `from` depends on `to`, `via` the field that made it. */
  readonly edges: readonly { readonly from: string; readonly to: string; readonly via: string }[];
  /** The id of the newest event: `GET /events` with `Last-Event-ID` of it misses nothing after this status. */
  readonly lastEventId: number;
}

/** The types of event `GET /events` sends (the SSE `event:` field). */
export type AdminEventType =
  /** A service changed state: `{ service, kind, from, to, ms?, error?, attempt?, delay? }`. */
  | 'transition'
  /** A starting service said what it waits for: `{ service, reason }`. */
  | 'waiting'
  /** A reload began, was applied, or failed: `{ phase: 'begin'|'applied'|'failed', steps?, ms?, error? }`. */
  | 'reload'
  /** An operation asked through the admin API: `{ op: 'restart'|'stop'|'start'|'stop-graph', service? }`. */
  | 'operation'
  /** A worker process changed: `{ worker, pid, state, error? }`. */
  | 'worker'
  /** The instance began draining or stopping: `{ state }`. */
  | 'instance';

/** One event of `GET /events`, with the id a client resumes from. */
export interface AdminEvent {
  readonly id: number;
  /** ISO time. */
  readonly time: string;
  readonly type: AdminEventType;
  readonly data: Readonly<Record<string, unknown>>;
}

/** What the admin routes need from a running instance (one process, or the primary of workers). */
export interface AdminSource {
  /** The status of the instance and of every service, figures included. */
  status(): Promise<StatusJson>;
  /** The figures of every service for `GET /metrics`, plus per-worker ones with workers. */
  metrics(): Promise<MetricsSnapshot>;
  /** Restarts one service (its dependents stop first and start again); resolves once it is ready again. */
  restart(service: string): Promise<void>;
  /** Stops one service (its dependents first); it stays stopped until start. */
  stop(service: string): Promise<void>;
  /** Starts a service stopped by stop() or failed for good, then its dependents; resolves once ready. */
  start(service: string): Promise<void>;
  /** Stops the whole instance, as SIGTERM does; resolves once the stop has begun. */
  stopAll(): void;
}

/** What `GET /metrics` renders (src/admin/metrics.ts). */
export interface MetricsSnapshot {
  readonly services: readonly { readonly name: string; readonly kind: string; readonly state: string; readonly restarts: number; readonly figures: readonly import('../kinds/contract.js').Figure[] }[];
  /** With workers: per worker id. */
  readonly workers?: readonly WorkerStatus[];
  /** Reloads applied and failed since start. */
  readonly reloads: { readonly applied: number; readonly failed: number };
}
