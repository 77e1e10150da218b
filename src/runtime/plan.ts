import { isAbsolute, resolve as resolvePath } from 'node:path';
import { HendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import type { ServiceKind } from '../kinds/contract.js';
import type { KindRegistry } from '../kinds/registry.js';
import { loadManifest } from '../manifest/resolve.js';
import type { Manifest, ResolvedManifest, ServiceConfig } from '../manifest/types.js';
import { analyzeGraph } from './graph.js';
import type { Graph } from './graph-types.js';
import { checkListenSites } from './plan-listen.js';
import { crossingEdges, runsOf, workersGraphError } from './plan-workers.js';
import { digestFiles, fingerprintOf } from './plan-fingerprint.js';
import { provisionService, type PlanFile } from './provision.js';

export type { PlanFile } from './provision.js';

/** What a plan is built from; `hendrix up`, `check`, `config` and `graph` all pass the same. */
export interface PlanOptions {
  /** The working directory relative paths resolve against; default process.cwd(). */
  readonly cwd?: string | undefined;
  /** The environment name (--env / HENDRIX_ENV): adds hendrix.<env>.yaml and .env.<env>. */
  readonly env?: string | undefined;
  /** `path=value` overrides (--set), highest precedence. */
  readonly set?: readonly string[] | undefined;
  /** Variables for ${VAR}; default process.env. */
  readonly environment?: Record<string, string | undefined> | undefined;
  /** How `kind:` values resolve: the kinds given at the edge, module paths, packages. */
  readonly kinds: KindRegistry;
  /**
   * Whether provision may import app code (false: `check --no-import`; a function decides from
   * the validated manifest: the primary of a graph with workers runs no app code); default true.
   */
  readonly importModules?: boolean | ((manifest: Manifest) => boolean) | undefined;
  /**
   * Whether the kinds the manifest uses start loading their implementations (`up`), or a
   * function deciding from the validated manifest; default false.
   */
  readonly preload?: boolean | ((manifest: Manifest) => boolean) | undefined;
}

/** One service of a plan: what will run, with what configuration, from which files. */
export interface PlannedService {
  /** The instance name (its key under `services:`). */
  readonly name: string;
  /** The kind descriptor that builds it. */
  readonly kind: ServiceKind;
  /** The validated, frozen config, defaults applied. */
  readonly config: ServiceConfig;
  /** Where the service is declared. */
  readonly location: SourceLocation | undefined;
  /** The services it depends on (dependsOn and references). */
  readonly dependencies: readonly string[];
  /** A stable hash of the kind and the resolved config: equal configs, equal hashes. */
  readonly configFingerprint: string;
  /** The config fingerprint and the content of every file the service depends on, hashed. */
  readonly fingerprint: string;
  /** The files and folders the service depends on (manifest layers first). */
  readonly files: readonly PlanFile[];
}

/**
 * An immutable value that says, before anything starts, exactly what will run: the validated
 * manifest, the graph and its start order, and per service its config, fingerprint and files.
 * Everything checkable without opening a socket has been checked when a plan exists.
 */
export interface Plan {
  /** The resolved manifest (layers, provenance, secrets) the plan was built from. */
  readonly resolved: ResolvedManifest;
  /** The validated manifest. */
  readonly manifest: Manifest;
  /** The folder of the base manifest. */
  readonly baseDir: string;
  /** The manifest files, lowest precedence first (absolute paths). */
  readonly manifestFiles: readonly string[];
  /** The dependency graph, built once, here. */
  readonly graph: Graph;
  /** The start order (dependencies first). */
  readonly order: readonly string[];
  /** Every service, in manifest order. */
  readonly services: ReadonlyMap<string, PlannedService>;
  /** A hash of every service's fingerprint: equal plans, equal hashes. */
  readonly fingerprint: string;
  /** Problems that do not stop a start (an expired certificate, an open hub beyond loopback). */
  readonly warnings: readonly HendrixError[];
}

/**
 * Builds the plan of a manifest: load, overlay, interpolate, validate, graph (typed references
 * and cycles), listen addresses, and every kind's provision step, all services in parallel.
 * Throws HX_ERR_MANIFEST (exit 78) with every problem found, sorted by file:line:col.
 */
export async function createPlan(files: string | readonly string[], options: PlanOptions): Promise<Plan> {
  const cwd = resolvePath(options.cwd ?? process.cwd());
  const list = (typeof files === 'string' ? [files] : [...files]).map((f) => (isAbsolute(f) ? f : resolvePath(cwd, f)));
  const result = await loadManifest({
    cwd,
    files: list.length ? list : ['hendrix.yaml'],
    env: options.env,
    set: [...(options.set ?? [])],
    environment: options.environment ?? process.env,
    kinds: options.kinds,
  });
  // `up` loads each used kind's implementation while the plan checks the manifest
  const decide = (option: PlanOptions['preload'], fallback: boolean): boolean =>
    typeof option === 'function' ? (result.resolved ? option(result.resolved.manifest) : false) : (option ?? fallback);
  if (decide(options.preload, false)) for (const kind of new Set(result.kinds.values())) kind.preload?.().catch(() => undefined);
  const errors: HendrixError[] = [...result.errors];
  const { graph, errors: graphErrors } = analyzeGraph(
    { manifest: { services: result.services }, kinds: result.kinds, provenance: result.provenance },
    result.declared,
    result.unvalidated,
  );
  errors.push(...graphErrors);

  const validated = result.declared.filter((n) => !result.unvalidated.has(n) && result.kinds.has(n) && result.services[n]);
  const locate = (path: readonly PathSegment[]) => result.provenance.locate(path);
  errors.push(...checkListenSites(validated.map((name) => ({ name, kind: result.kinds.get(name)!, config: result.services[name]! })), locate));
  // with workers, the graph must start in two stages (src/workers/placement.ts): `check` says so too
  if (result.resolved && result.resolved.manifest.workers !== 1) {
    const runs = new Map(validated.map((name) => [name, runsOf(result.kinds.get(name)!, result.services[name])] as const));
    const crossing = workersGraphError(crossingEdges(graph.order, (name) => graph.dependencies(name), runs), (name) => locate(['services', name]));
    if (crossing) errors.push(crossing);
  }

  const warnings: HendrixError[] = [];
  const provisioned = await Promise.all(
    validated.map((name) =>
      provisionService({
        name,
        kind: result.kinds.get(name)!,
        config: result.services[name]!,
        baseDir: result.baseDir,
        importModules: decide(options.importModules, true),
        locate,
        peer: (other) => {
          const kind = result.kinds.get(other);
          const config = result.services[other];
          return kind && config && !result.unvalidated.has(other) ? { kind: kind.kind, config } : undefined;
        },
      }),
    ),
  );
  for (const p of provisioned) {
    errors.push(...p.problems);
    warnings.push(...p.warnings);
  }
  if (errors.length || !result.resolved) return result.fail(errors);
  const resolved = result.resolved;

  const manifestFiles = resolved.layers.filter((l) => l.type !== 'set').map((l) => resolvePath(cwd, l.file));
  const services = new Map<string, PlannedService>();
  const digests = await digestFiles(provisioned.flatMap((p) => p.files));
  for (const [i, name] of validated.entries()) {
    const config = resolved.manifest.services[name]!;
    const kind = result.kinds.get(name)!;
    const own = provisioned[i]!.files.map((f) => Object.freeze({ ...f, digest: digests.get(f.path) }));
    const layerFiles = manifestFiles.map((path) => Object.freeze({ path, role: 'manifest' as const, field: undefined, digest: undefined }));
    const configFingerprint = fingerprintOf({ kind: config.kind, config });
    services.set(
      name,
      Object.freeze({
        name,
        kind,
        config,
        location: locate(['services', name]),
        dependencies: graph.dependencies(name),
        configFingerprint,
        fingerprint: fingerprintOf({ config: configFingerprint, files: own.map((f) => [f.path, f.digest ?? null]) }),
        files: Object.freeze([...layerFiles, ...own]),
      }),
    );
  }
  return Object.freeze({
    resolved,
    manifest: resolved.manifest,
    baseDir: resolved.baseDir,
    manifestFiles: Object.freeze(manifestFiles),
    graph,
    order: graph.order,
    services,
    fingerprint: fingerprintOf([...services.values()].map((s) => [s.name, s.fingerprint])),
    warnings: Object.freeze(warnings),
  });
}
