import type { PathSegment, SourceLocation } from '../errors/hendrix-error.js';
import type { CommonServiceConfig, ServiceKind } from '../kinds/contract.js';
import type { KindRegistry } from '../kinds/registry.js';
import type { z } from 'zod';
import type { adminSchema, controlSchema, drainDelaySchema, loggingSchema, versionSchema, workersSchema } from './root-schema.js';

/** One layer of the manifest, lowest precedence first: the base file, overlays, then --set. */
export interface ManifestLayer {
  /** What kind of layer this is. */
  readonly type: 'base' | 'file' | 'env' | 'set';
  /** The file path as given/displayed (for --set: `--set`). */
  readonly file: string;
  /** The text of the layer (for code frames); for --set the flag value itself. */
  readonly source: string;
}

/** Who set a value: the layer and the place in it. */
export interface Origin {
  readonly layer: ManifestLayer;
  readonly location: SourceLocation;
}

/** Where every value of the merged manifest came from. */
export interface Provenance {
  /** Every layer that set exactly this path, lowest precedence first (the winner last). */
  origins(path: readonly PathSegment[]): Origin[];
  /** The location of the winning value at `path`, or of its nearest ancestor that was set. */
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
  /** The source text of a file, for code frames. */
  source(file: string): string | undefined;
}

/** The validated config of one service: the common fields plus its kind's fields. */
export type ServiceConfig = CommonServiceConfig & Record<string, unknown>;

/**
 * The validated manifest, inferred from the root schema's fields; each service is validated by
 * its own kind's schema (the kinds are known only at run time), so it is typed as the common
 * fields plus its kind's.
 */
export type Manifest = {
  version: z.output<typeof versionSchema>;
  logging: z.output<typeof loggingSchema>;
  control: z.output<typeof controlSchema>;
  workers: z.output<typeof workersSchema>;
  /** The admin API's TCP listener and dashboard. */
  admin: z.output<typeof adminSchema>;
  /** How long readiness answers 503 before a stop drains, in ms. */
  drainDelay: z.output<typeof drainDelaySchema>;
  services: Record<string, ServiceConfig>;
};

/** How to find and combine the manifest layers. */
export interface ResolveOptions {
  /** The working directory; default process.cwd() (the CLI passes it). */
  cwd: string;
  /** Manifest files, later ones overlay earlier ones; default [`hendrix.yaml`]. */
  files?: string[];
  /** The environment name (--env / HENDRIX_ENV): adds hendrix.<env>.yaml and .env.<env>. */
  env?: string | undefined;
  /** `path=value` assignments (--set), highest precedence. */
  set?: string[];
  /** The process environment for ${VAR} interpolation (the CLI passes process.env). */
  environment: Record<string, string | undefined>;
  /** Resolves `kind:` values: the kinds the edge registered, module paths and packages. */
  kinds: KindRegistry;
}

/** The result of the manifest pipeline: everything `up`, `check`, `config` and `graph` need. */
export interface ResolvedManifest {
  /** The validated, deeply frozen manifest (defaults applied). */
  readonly manifest: Manifest;
  /** The merged, interpolated manifest before validation (what the user wrote). */
  readonly raw: Record<string, unknown>;
  /** Where each value came from. */
  readonly provenance: Provenance;
  /** Every layer, lowest precedence first. */
  readonly layers: readonly ManifestLayer[];
  /** The folder of the base manifest: relative paths resolve against it. */
  readonly baseDir: string;
  /** The kind descriptor of each service, by service name. */
  readonly kinds: ReadonlyMap<string, ServiceKind>;
  /** Manifest paths whose value came from a variable that looks secret (SECRET, TOKEN, PASSWORD, KEY). */
  readonly secretPaths: readonly (readonly PathSegment[])[];
}
