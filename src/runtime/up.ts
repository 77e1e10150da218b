import { resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { resolveManifest } from '../manifest/resolve.js';
import type { ResolvedManifest } from '../manifest/types.js';
import { createRootLogger } from '../log/logger.js';
import { buildGraph } from './graph.js';
import type { Graph } from './graph-types.js';
import { createOrchestrator, type Orchestrator, type ServicePlan } from './orchestrator.js';

/** Options of `up()`; the CLI fills them from argv and the environment. */
export interface UpOptions {
  /** Extra manifest files overlaid on the first, in order. */
  overlays?: string[];
  /** The environment name: adds hendrix.<env>.yaml and .env.<env>. */
  env?: string | undefined;
  /** `path=value` overrides, highest precedence. */
  set?: string[];
  /** Variables for ${VAR}; default process.env. */
  environment?: Record<string, string | undefined>;
  /** Start only these services and their dependencies. */
  services?: string[];
  /** The root logger; default one built from the manifest's `logging`. */
  logger?: Logger;
  /** Whether stdout is a terminal (decides the default log format). */
  isTTY?: boolean;
  /** Called on every state change of every service, before start() resolves. */
  onTransition?: Parameters<Orchestrator['on']>[1];
}

/** A running graph, as `up()` returns it. */
export interface Hendrix {
  /** The resolved manifest. */
  readonly resolved: ResolvedManifest;
  /** The dependency graph. */
  readonly graph: Graph;
  /** The orchestrator running the graph. */
  readonly orchestrator: Orchestrator;
  /** The root logger. */
  readonly logger: Logger;
  /** The address of each started service that has one (`http://127.0.0.1:8000`). */
  addresses(): Record<string, string>;
  /** The handle a service exposes to its dependents. */
  handle<T = unknown>(name: string): T;
  /** Stops the graph gracefully, in reverse dependency order. */
  stop(): Promise<void>;
  /** Forces a stop in progress to finish at once. */
  force(): void;
}

/** Loads and validates a manifest and builds its graph, without starting anything. */
export async function plan(
  manifestPath: string,
  options: Pick<UpOptions, 'overlays' | 'env' | 'set' | 'environment'> = {},
): Promise<{ resolved: ResolvedManifest; graph: Graph }> {
  const file = resolvePath(manifestPath);
  const resolved = await resolveManifest({
    cwd: process.cwd(),
    files: [file, ...(options.overlays ?? []).map((f) => resolvePath(f))],
    env: options.env,
    set: options.set ?? [],
    environment: options.environment ?? process.env,
  });
  return { resolved, graph: buildGraph(resolved) };
}

/** Builds the orchestrator of a planned graph (the CLI adds its own live view before start). */
export function orchestrate(
  resolved: ResolvedManifest,
  graph: Graph,
  logger: Logger,
  only?: string[],
): Orchestrator {
  const services: ServicePlan[] = Object.entries(resolved.manifest.services).map(([name, config]) => ({
    name,
    kind: resolved.kinds.get(name)!,
    config,
    location: resolved.provenance.locate(['services', name]),
  }));
  return createOrchestrator({
    services,
    graph,
    ...(only && only.length ? { only } : {}),
    logger,
    baseDir: resolved.baseDir,
    locate: (path) => resolved.provenance.locate(path),
  });
}

/** Wraps a started orchestrator as the public handle. */
export function toHendrix(resolved: ResolvedManifest, graph: Graph, orchestrator: Orchestrator, logger: Logger): Hendrix {
  return {
    resolved,
    graph,
    orchestrator,
    logger,
    addresses() {
      const out: Record<string, string> = {};
      for (const name of graph.order) {
        const address = orchestrator.address(name);
        if (address) out[name] = address;
      }
      return out;
    },
    handle: <T>(name: string) => orchestrator.handle(name) as T,
    stop: () => orchestrator.stop(),
    force: () => orchestrator.force(),
  };
}

/**
 * Starts the graph a manifest declares and resolves once every service is ready — the same
 * launch the CLI's `hendrix up` does, for tests and for apps that embed Hendrix.
 */
export async function up(manifestPath = 'hendrix.yaml', options: UpOptions = {}): Promise<Hendrix> {
  const { resolved, graph } = await plan(manifestPath, options);
  const logging = resolved.manifest.logging;
  const logger =
    options.logger ??
    (await createRootLogger({ level: logging.level, ...(logging.format ? { format: logging.format } : {}), isTTY: options.isTTY ?? false }));
  const orchestrator = orchestrate(resolved, graph, logger, options.services);
  if (options.onTransition) orchestrator.on('transition', options.onTransition);
  await orchestrator.start();
  return toHendrix(resolved, graph, orchestrator, logger);
}
