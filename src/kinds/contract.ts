import type { z } from 'zod';
import type { Logger } from 'pino';
import type { ErrorCodeTable } from '../errors/codes.js';
import type { HendrixError, HendrixErrorCode, PathSegment, SourceLocation } from '../errors/hendrix-error.js';
import type { commonServiceFields, restartSchema } from './common-schema.js';
import type { ListenAddress } from './fields.js';

/**
 * A running network resource: what every kind's `create()` returns.
 *
 * The constructor opens nothing; `start` resolves only once the service is ready for its
 * dependents; `stop` drains gracefully and force-closes when its signal aborts, and is safe
 * after a partial or failed start. The orchestrator owns the state machine.
 */
export interface Service {
  /** Opens sockets and resolves once ready; rejects (or honours the abort) on failure. */
  start(signal: AbortSignal): Promise<void>;
  /** Drains gracefully; when `signal` aborts, force-closes whatever is left. */
  stop(signal: AbortSignal): Promise<void>;
  /**
   * Applies a changed config in place, when the kind can (its `canReload` said so): `next` is
   * the whole new validated config; the files the service depends on (app modules,
   * certificates, schemas) are re-read too, since a reload may be only about their content.
   * Connections stay open. Resolving means the new config is in effect for what comes next;
   * rejecting must leave the service running on its previous config (the reload is then rolled
   * back: the orchestrator calls `reload(previous)` on every service already reloaded).
   * Bounded by the service's `startTimeout`; `signal` aborts when it passes.
   */
  reload?(next: unknown, signal: AbortSignal): Promise<void>;
  /**
   * Re-attaches the service to a dependency that a reload replaced by a new instance: from now
   * on `ctx.peer(peer)` returns the new instance's handle; move what this service holds on the
   * old handle (registered upgrade listeners, interceptors, subscriptions, a request handler) to
   * the new one. The old instance drains and stops after this returns. Called again, the same
   * way, when the reload is rolled back. A service without it is replaced too when one of its
   * dependencies is replaced.
   */
  rebind?(peer: string, signal: AbortSignal): Promise<void>;
  /** What dependents receive from `ctx.peer(name)`. */
  handle?(): unknown;
  /** A short address for the "all ready" line, e.g. `http://127.0.0.1:8000`. */
  address?(): string | undefined;
  /**
   * The service's own figures, read on demand by `GET /status`, `GET /metrics` and the
   * dashboard (docs/admin-api.md): counters since the instance was built, gauges as they are
   * now. Cheap and synchronous (it is called once a second by a watching dashboard); the
   * counting behind it must cost the hot path next to nothing (plain number fields).
   */
  figures?(): readonly Figure[];
}

/** What a {@link Figure} of every type has. */
interface FigureBase {
  /**
   * The metric name without the `hendrix_` prefix, in Prometheus style and prefixed by the kind:
   * `http_requests_total`, `pubsub_connections`. Counters end in `_total`; units are base units
   * (`_seconds`, `_bytes`).
   */
  readonly name: string;
  /** One sentence: the HELP line of the metric. */
  readonly help: string;
  /**
   * Labels besides `service` (which the core adds): `{ code: '2xx' }`. Every sample of one name
   * has the same label names.
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/** A count that only goes up while the instance lives (requests, messages, errors). */
export interface CounterFigure extends FigureBase {
  readonly type: 'counter';
  readonly value: number;
}

/** A value as it is now (connections open, lines queued, 1/0 for connected). */
export interface GaugeFigure extends FigureBase {
  readonly type: 'gauge';
  readonly value: number;
}

/** A distribution (request duration): how many observations fell in each bucket. */
export interface HistogramFigure extends FigureBase {
  readonly type: 'histogram';
  /** The upper bounds of the buckets, ascending, without +Inf. */
  readonly buckets: readonly number[];
  /** Observations per bucket, NOT cumulative: `buckets.length + 1` entries, the last for +Inf. */
  readonly counts: readonly number[];
  /** The sum of every observation. */
  readonly sum: number;
}

/** One figure a running service reports through `figures()`. */
export type Figure = CounterFigure | GaugeFigure | HistogramFigure;

/** What a service may ask of the graph it runs in (`ctx.graph`): readiness for health checks. */
export interface GraphView {
  /**
   * Whether the graph is ready: every service (or those named) is `ready`, and the graph is not
   * draining. `waiting` names the services that are not ready, with their state.
   */
  readiness(services?: readonly string[]): { readonly ready: boolean; readonly draining: boolean; readonly waiting: Readonly<Record<string, string>> };
}

/** What the orchestrator gives each service instance. */
export interface ServiceContext<Config = unknown> {
  /** The instance name (its key under `services:`). */
  readonly name: string;
  /** The kind name as written in the manifest. */
  readonly kind: string;
  /**
   * The validated, frozen config of this instance: after a successful in-place `reload(next)`,
   * `next`.
   */
  readonly config: Config;
  /** The service's logger, bound to `{ service, kind }`. */
  readonly log: Logger;
  /** The folder of the base manifest: relative paths in the config resolve against it. */
  readonly baseDir: string;
  /** Where the service is declared, for error messages. */
  readonly location: SourceLocation | undefined;
  /** Locates a path inside this service's config (`['listen']`), for error messages. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
  /** The handle of a declared dependency; throws HX_ERR_PEER for anything else. */
  peer<T = unknown>(name: string): T;
  /** Reports that the service died after it was ready (`error` undefined: a clean exit). */
  crashed(error?: unknown): void;
  /**
   * Says what the start is waiting for (`connecting to 127.0.0.1:6667`), with the last cause
   * (`ECONNREFUSED`): the live view and status show it, and a start timeout reports it
   * instead of only blaming `startTimeout`. Each call replaces the previous reason.
   */
  waiting(reason: string, cause?: unknown): void;
  /**
   * The link to the primary when the graph runs in workers (`workers:` above 1); undefined in a
   * single process. Through it a kind coordinates its instances across processes
   * (docs/workers.md): the pubsub hub orders its messages through it.
   */
  readonly cluster?: ClusterLink | undefined;
  /** The graph this service runs in, as far as a health endpoint needs to know it. */
  readonly graph: GraphView;
}

/** Where a service runs when the graph runs in workers: in every worker, or once in the graph. */
export type WorkerPlacement = 'each' | 'once';

/** What a service instance in a worker process knows of the cluster and how it reaches the primary. */
export interface ClusterLink {
  /** This process: its slot (1..count for workers, 0 for the process of the once-services), role and the worker count. */
  readonly worker: { readonly id: number; readonly role: WorkerPlacement; readonly count: number };
  /**
   * True once the primary retires this process to replace it (a rolling reload): clients are
   * to be told the service restarts (WebSocket close 1012) rather than goes away (1001).
   */
  readonly retiring: boolean;
  /**
   * Opens a channel to this service's coordinator in the primary (the kind's
   * `workers.coordinator`): messages are JSON values, delivered in order in both directions.
   * Close it when the instance stops.
   */
  open(listener: (message: unknown) => void): ClusterChannel;
}

/** One instance's channel to its service's coordinator in the primary. */
export interface ClusterChannel {
  /** Sends a JSON value to the coordinator. */
  send(message: unknown): void;
  /** Leaves: the coordinator hears `leave` for this member; further sends are dropped. */
  close(): void;
}

/** What a coordinator gets: the service it coordinates and the means to reach its members. */
export interface CoordinatorContext<Config = unknown> {
  /** The service name. */
  readonly name: string;
  /** Its validated config (as the primary's plan has it; updated by reloads through `reload`). */
  readonly config: Config;
  /** A logger bound to the service. */
  readonly log: Logger;
  /** Sends to one member (an open channel: `<process>/<n>`); dropped if it left. */
  send(member: string, message: unknown): void;
  /** Sends to every member, in the order members joined. */
  broadcast(message: unknown): void;
  /** The members, in the order they joined. */
  members(): readonly string[];
}

/**
 * The part of a kind that runs in the primary, one per service: it hears every instance's
 * channel (in every worker) and answers them — the hub's sequencer that gives every message
 * its id. Hendrix code only: the primary runs no app code.
 */
export interface Coordinator {
  /** A member opened its channel. */
  join?(member: string): void;
  /** A member closed its channel or its process ended. */
  leave?(member: string): void;
  /** A message from a member. */
  message(member: string, message: unknown): void;
  /** The service's config changed (a reload applied in every worker). */
  reload?(config: unknown): void;
  /** The graph stopped. */
  close?(): void;
}

/** How a kind takes part in a graph that runs in workers (docs/workers.md). */
export interface KindWorkers<Config = unknown> {
  /**
   * Where a service of the kind runs: `each` worker (its listening sockets shared through
   * node:cluster) or `once` (exactly one process of the graph). Default `once`.
   */
  readonly runs: WorkerPlacement | ((config: Config) => WorkerPlacement);
  /**
   * For a kind that runs in each worker: what stands in for one of its services in the
   * process of a once-service that depends on it (the hub's stand-in publishes and subscribes
   * through the coordinator, so an IRC bot's relay works across processes). Without it, such a
   * dependent gets ordering only, and `ctx.peer()` of it throws HX_ERR_PEER.
   */
  readonly remote?: (ctx: ServiceContext<Config>) => Service | Promise<Service>;
  /**
   * Loads the coordinator of one service in the primary; resolving undefined means the service
   * needs none (the hub on a Redis backplane).
   */
  readonly coordinator?: (config: Config) => Promise<((ctx: CoordinatorContext<Config>) => Coordinator) | undefined>;
}

/** A reference from one service's config to another service: an edge of the graph. */
export interface Reference {
  /** The path of the referring value inside the service config, e.g. ['serves']. */
  path: readonly PathSegment[];
  /** The name of the referenced service. */
  target: string;
  /**
   * The kinds the target may be (their `kind` names, e.g. `['http']`); any kind when absent.
   * The plan refuses a reference to a service of another kind at the reference's file:line.
   */
  kinds?: readonly string[];
  /** The error code for a target of another kind; default HX_ERR_REFERENCE_KIND. */
  code?: HendrixErrorCode;
}

/**
 * A config field holding service names (a string or a list of strings), declared by name, or
 * with the kinds its targets may be and the code of the error when they are not.
 */
export type ReferenceField = string | { readonly field: string; readonly kinds?: readonly string[]; readonly code?: HendrixErrorCode };

/**
 * Lists the references of one config. Declared with method syntax so that a kind with its own
 * schema is still assignable to the general `ServiceKind` (parameters are bivariant).
 */
export type ReferenceLister<Config> = { list(config: Config): Reference[] }['list'];

/** A kind of service, as `defineServiceKind()` describes it. */
export interface ServiceKindDefinition<Schema extends z.ZodObject = z.ZodObject> {
  /** The name used as `kind:` in the manifest (for custom kinds, informative). */
  readonly kind: string;
  /** One sentence for the JSON Schema and docs. */
  readonly description?: string;
  /** The zod object of this kind's own fields; common fields (dependsOn, restart...) are added. */
  readonly schema: Schema;
  /**
   * The config fields holding service names (string or string[]), or a function listing the
   * references of one config; each becomes an edge of the graph.
   */
  readonly references?: readonly ReferenceField[] | ReferenceLister<z.output<Schema>>;
  /**
   * The error codes this kind raises (message title, hint, exit code), merged into the code
   * table for rendering and docs. Core codes stay in the core; a code is never renamed.
   */
  readonly errors?: ErrorCodeTable;
  /**
   * Checks one service's config before anything starts, without opening a socket (Caddy's
   * Provision/Validate): files exist and are readable, modules import and have a usable shape,
   * certificates match their keys. Reports every problem through `ctx.problem()` and records
   * the files the service depends on through `ctx.file()`. Run by `check` and `up`, all
   * services in parallel.
   */
  readonly provision?: (ctx: ProvisionContext<z.output<Schema> & CommonServiceConfig>) => void | Promise<void>;
  /**
   * The addresses this service listens on, for the plan's checks (two services on one
   * host:port, privileged ports) and for status views.
   */
  readonly listens?: (config: z.output<Schema> & CommonServiceConfig) => readonly ListenSite[];
  /**
   * Loads the kind's implementation ahead of `create()`: `up` calls it as soon as the plan
   * knows the manifest uses the kind, so that loading overlaps the plan's checks (`check`
   * does not). A failure here is ignored; `create()` reports it.
   */
  readonly preload?: () => Promise<unknown>;
  /** Builds the service; must open nothing. */
  create(ctx: ServiceContext<z.output<Schema> & CommonServiceConfig>): Service | Promise<Service>;
  /**
   * How long the orchestrator lets stop() run before forcing it, for a kind whose stop has
   * phases with limits of their own (the http kind: `stopTimeout` for the HTTP drain, then
   * `crosstown.drainTimeout` for the tasks). Default: the service's `stopTimeout`.
   */
  readonly stopDeadline?: (config: z.output<Schema> & CommonServiceConfig) => number;
  /**
   * Whether this kind applies a change in place with `reload()`: given the changed config
   * fields (paths inside the service config, leaf level) and the changed files of one service,
   * true keeps the instance and its connections. Default (absent, or false): the service is
   * replaced by a new instance.
   */
  readonly canReload?: (change: { fields: readonly PathSegment[][]; files: readonly { path: string; role: PlanFileRole }[] }) => boolean;
  /** Where its services run when the graph runs in workers; default: once. */
  readonly workers?: KindWorkers<z.output<Schema> & CommonServiceConfig>;
}

/** The fields every service has, whatever its kind (inferred from src/kinds/common-schema.ts). */
export type CommonServiceConfig = { kind: string } & z.output<z.ZodObject<typeof commonServiceFields>>;

/** A service's restart policy, resolved with defaults (inferred from its schema). */
export type RestartConfig = z.output<typeof restartSchema>;

/** One address a service listens on, with the config field that set it. */
export interface ListenSite {
  /** The path of the field inside the service config, e.g. `['listen']`. */
  readonly path: readonly PathSegment[];
  /** The address. */
  readonly address: ListenAddress;
}

/** What a file is to the service that depends on it (for reload diffs and watching). */
export type PlanFileRole = 'manifest' | 'app' | 'module' | 'static' | 'cert' | 'key' | 'ca' | 'jwt-key' | 'schema' | 'commands' | 'kind' | 'other';

/** What a kind's provision step gets: one service's config and the means to check it. */
export interface ProvisionContext<Config = unknown> {
  /** The instance name. */
  readonly name: string;
  /** The kind name as written in the manifest. */
  readonly kind: string;
  /** The validated, frozen config. */
  readonly config: Config;
  /** The folder of the base manifest: relative paths resolve against it. */
  readonly baseDir: string;
  /** False under `hendrix check --no-import`: app code is not to be imported. */
  readonly importModules: boolean;
  /** Locates a path inside this service's config, for error messages. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
  /** The kind name and config of another service of the manifest (a declared reference). */
  peer(name: string): { readonly kind: string; readonly config: Readonly<Record<string, unknown>> } | undefined;
  /**
   * Records that the service depends on a file or folder (absolute, or relative to the
   * manifest folder) named at `path` in its config; returns the absolute path.
   */
  file(file: string, role: PlanFileRole, path: readonly PathSegment[]): string;
  /**
   * Checks that a file (or folder, with `folder: true`) named at `path` exists and is readable,
   * records it, and returns its absolute path — or reports `code` at `path` and returns undefined.
   */
  need(file: string, role: PlanFileRole, path: readonly PathSegment[], options: { code: HendrixErrorCode; folder?: boolean; what?: string }): Promise<string | undefined>;
  /** Reports a problem; the location is found from the error's path (inside this service) when it has none. */
  problem(error: HendrixError): void;
  /**
   * Runs one check: a HendrixError it throws becomes a problem of the service (reported like
   * `problem()`), so that independent checks report everything at once; other errors are
   * bugs and propagate.
   */
  check(run: () => unknown): Promise<void>;
  /** Reports something that does not stop the start (printed by check, logged by up). */
  warn(error: HendrixError): void;
}

/** The brand that marks a kind descriptor (also across copies of the package). */
export const KIND_BRAND = Symbol.for('hendrix.serviceKind');

/** A kind descriptor as returned by defineServiceKind(). */
export type ServiceKind<Schema extends z.ZodObject = z.ZodObject> = ServiceKindDefinition<Schema> & {
  readonly [KIND_BRAND]: true;
};
