import type { z } from 'zod';
import type { Logger } from 'pino';
import type { PathSegment, SourceLocation } from '../errors/hendrix-error.js';

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
  /** Applies a changed config in place, when the kind can. */
  reload?(next: unknown, signal: AbortSignal): Promise<void>;
  /** What dependents receive from `ctx.peer(name)`. */
  handle?(): unknown;
  /** A short address for the "all ready" line, e.g. `http://127.0.0.1:8000`. */
  address?(): string | undefined;
}

/** What the orchestrator gives each service instance. */
export interface ServiceContext<Config = unknown> {
  /** The instance name (its key under `services:`). */
  readonly name: string;
  /** The kind name as written in the manifest. */
  readonly kind: string;
  /** The validated, frozen config of this instance. */
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
}

/** A reference from one service's config to another service: an edge of the graph. */
export interface Reference {
  /** The path of the referring value inside the service config, e.g. ['serves']. */
  path: readonly PathSegment[];
  /** The name of the referenced service. */
  target: string;
}

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
  readonly references?: readonly string[] | ReferenceLister<z.output<Schema>>;
  /** Builds the service; must open nothing. */
  create(ctx: ServiceContext<z.output<Schema> & CommonServiceConfig>): Service | Promise<Service>;
  /**
   * How long the orchestrator lets stop() run before forcing it, for a kind whose stop has
   * phases with limits of their own (the http kind: `stopTimeout` for the HTTP drain, then
   * `crosstown.drainTimeout` for the tasks). Default: the service's `stopTimeout`.
   */
  readonly stopDeadline?: (config: z.output<Schema> & CommonServiceConfig) => number;
}

/** The fields every service has, whatever its kind (see src/runtime/common-schema.ts). */
export interface CommonServiceConfig {
  kind: string;
  dependsOn: string[];
  startTimeout: number;
  stopTimeout: number;
  restart: RestartConfig;
}

/** A service's restart policy, resolved with defaults. */
export interface RestartConfig {
  policy: 'no' | 'on-failure' | 'always';
  backoff: { initial: number; factor: number; max: number; jitter: number };
  limit: { burst: number; window: number };
}

/** The brand that marks a kind descriptor (also across copies of the package). */
export const KIND_BRAND = Symbol.for('hendrix.serviceKind');

/** A kind descriptor as returned by defineServiceKind(). */
export type ServiceKind<Schema extends z.ZodObject = z.ZodObject> = ServiceKindDefinition<Schema> & {
  readonly [KIND_BRAND]: true;
};
