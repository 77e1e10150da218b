import { z } from 'zod';
import { HendrixError, isHendrixError, type PathSegment, type SourceLocation } from '../errors/hendrix-error.js';
import type { ServiceKind } from '../kinds/contract.js';
import type { KindRegistry } from '../kinds/registry.js';
import { PARSE_PARAMS, describeValue, toManifestErrors } from './issues.js';
import { isPlainMap } from './path.js';
import { parseListen } from '../kinds/fields.js';
import { SERVICE_NAME, adminSchema, controlSchema, drainDelaySchema, loggingSchema, serviceSchema, versionSchema, workersSchema } from './root-schema.js';
import type { Manifest, ServiceConfig } from './types.js';

/** The whole-manifest zod schema for the JSON Schema (defined beside the other root schemas). */
export { buildRootSchema } from './root-schema.js';

/** What validateManifest needs: the merged, interpolated tree and where its values came from. */
export interface ValidateInput {
  /** The merged, interpolated manifest tree. */
  readonly raw: Record<string, unknown>;
  /** The folder of the base manifest: custom kind paths resolve against it. */
  readonly baseDir: string;
  /** Locates values and keys for error messages. */
  readonly provenance: {
    locate(path: readonly PathSegment[]): SourceLocation | undefined;
    locateKey(path: readonly PathSegment[]): SourceLocation | undefined;
  };
  /** Resolves `kind:` values. */
  readonly kinds: KindRegistry;
}

/** The validated manifest (when there were no errors), the kinds that resolved, and every problem. */
export interface ValidateResult {
  /** The deeply frozen manifest, or undefined when any problem was found. */
  readonly manifest: Manifest | undefined;
  /** The services that validated, by name (also when others did not). */
  readonly services: Readonly<Record<string, ServiceConfig>>;
  /** The kind of each service whose kind resolved. */
  readonly kinds: ReadonlyMap<string, ServiceKind>;
  readonly errors: HendrixError[];
}

/** Freezes a value and everything reachable from it (plain objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

const rootSchema = z.strictObject({
  version: versionSchema,
  logging: loggingSchema,
  control: controlSchema,
  workers: workersSchema,
  admin: adminSchema,
  drainDelay: drainDelaySchema,
  services: z.record(z.string(), z.unknown()),
});

/**
 * The rules of the `admin` section the schema cannot say: a TCP admin listener needs a token
 * (anyone who reaches the port could stop the graph otherwise), and its address is TCP.
 */
function checkAdmin(admin: Manifest['admin'], at: (path: PathSegment[]) => { path: PathSegment[]; location?: SourceLocation }): HendrixError[] {
  if (admin.listen === undefined) return [];
  const problems: HendrixError[] = [];
  if (admin.token === undefined) {
    problems.push(new HendrixError('HX_ERR_ADMIN_TOKEN', { message: '`admin.listen` opens the admin API over TCP, but `admin.token` is not set', ...at(['admin', 'listen']) }));
  }
  const address = parseListen(admin.listen, '127.0.0.1');
  if (!address || 'path' in address) {
    problems.push(
      new HendrixError('HX_ERR_ADMIN_LISTEN', {
        message: `\`admin.listen\` must be a TCP address (a port or "host:port"), but found ${describeValue(admin.listen)}`,
        hint: 'the control socket is already the admin API on a unix socket; `admin.listen` adds TCP, e.g. `127.0.0.1:2019`',
        ...at(['admin', 'listen']),
      }),
    );
  }
  return problems;
}

const schemaCache = new WeakMap<ServiceKind, z.ZodObject>();

function schemaOf(kind: ServiceKind): z.ZodObject {
  let schema = schemaCache.get(kind);
  if (!schema) {
    schema = serviceSchema(kind);
    schemaCache.set(kind, schema);
  }
  return schema;
}

/**
 * Validates a merged manifest tree against the root schema and, service by service, against
 * the schema of each service's kind (built-in, module path or package), so that every error
 * names its service and its exact path. Returns all problems at once.
 */
export async function validateManifest(input: ValidateInput): Promise<ValidateResult> {
  const { raw, provenance } = input;
  const load = (spec: string, baseDir: string) => input.kinds.load(spec, baseDir);
  const errors: HendrixError[] = [];
  const locate = (path: readonly PathSegment[]) => provenance.locate(path);
  const locateKey = (path: readonly PathSegment[]) => provenance.locateKey(path);
  const at = (path: PathSegment[], location = locate(path)) => ({ path, ...(location ? { location } : {}) });

  const root = rootSchema.safeParse(raw, PARSE_PARAMS);
  if (!root.success) {
    const issues = root.error.issues;
    const rest = issues.filter((i) => i.path[0] !== 'version');
    if (rest.length !== issues.length) {
      errors.push(
        new HendrixError('HX_ERR_VERSION', {
          message: `unsupported manifest version: found ${describeValue(raw.version)}, but this hendrix reads version 1`,
          ...at(['version']),
        }),
      );
    }
    errors.push(...toManifestErrors(rest, { schema: rootSchema, base: [], value: raw, locate, locateKey }));
  }

  if (root.success) errors.push(...checkAdmin(root.data.admin, at));

  const declared = isPlainMap(raw.services) ? raw.services : {};
  const services: Record<string, ServiceConfig> = {};
  const kinds = new Map<string, ServiceKind>();
  const checks = Object.entries(declared).map(async ([name, value]): Promise<HendrixError[]> => {
    const base: PathSegment[] = ['services', name];
    const problems: HendrixError[] = [];
    if (!SERVICE_NAME.test(name)) {
      problems.push(
        new HendrixError('HX_ERR_INVALID_VALUE', {
          message: `\`${name}\` is not a valid service name: it must start with a letter and contain only letters, digits, _ and -`,
          ...at(base, locateKey(base)),
          service: name,
        }),
      );
    }
    if (!isPlainMap(value)) {
      problems.push(
        new HendrixError('HX_ERR_NOT_A_MAP', {
          message: `service \`${name}\` must be a mapping of its settings (kind: ..., and so on), but found ${describeValue(value)}`,
          ...at(base),
          service: name,
        }),
      );
      return problems;
    }
    const spec = value.kind;
    if (typeof spec !== 'string' || spec === '') {
      const missing = spec === undefined;
      problems.push(
        new HendrixError(missing ? 'HX_ERR_MISSING_KEY' : 'HX_ERR_INVALID_TYPE', {
          message: missing
            ? `service \`${name}\` is missing the required key \`kind\``
            : `\`kind\` must be the name of a kind, but found ${describeValue(spec)}`,
          hint: `built-in kinds: ${input.kinds.names.join(', ')}; a custom kind is a path (./my-kind.mjs) or a package name`,
          ...at(missing ? base : [...base, 'kind'], missing ? locateKey(base) : undefined),
          service: name,
        }),
      );
      return problems;
    }
    let kind: ServiceKind;
    try {
      kind = await load(spec, input.baseDir);
    } catch (cause) {
      const e = isHendrixError(cause) ? cause : undefined;
      problems.push(
        new HendrixError(e?.code ?? 'HX_ERR_KIND_LOAD', {
          message: e?.message ?? `kind \`${spec}\` cannot be loaded: ${cause instanceof Error ? cause.message : String(cause)}`,
          ...(e ? { hint: e.hint } : {}),
          ...at([...base, 'kind']),
          service: name,
          ...(e ? (e.cause === undefined ? {} : { cause: e.cause }) : { cause }),
        }),
      );
      return problems;
    }
    let schema: z.ZodObject;
    try {
      schema = schemaOf(kind);
    } catch (cause) {
      problems.push(
        new HendrixError('HX_ERR_KIND_LOAD', {
          message: `kind \`${spec}\` has a schema that is not a zod object: ${cause instanceof Error ? cause.message : String(cause)}`,
          ...at([...base, 'kind']),
          service: name,
          cause,
        }),
      );
      return problems;
    }
    kinds.set(name, kind);
    const parsed = schema.safeParse(value, PARSE_PARAMS);
    if (parsed.success) services[name] = parsed.data as ServiceConfig;
    else problems.push(...toManifestErrors(parsed.error.issues, { schema, base, value, service: name, locate, locateKey }));
    return problems;
  });
  for (const problems of await Promise.all(checks)) errors.push(...problems);

  // keep the manifest's order of services, whatever order the kinds loaded in
  const ordered: Record<string, ServiceConfig> = {};
  const orderedKinds = new Map<string, ServiceKind>();
  for (const name of Object.keys(declared)) {
    if (services[name]) ordered[name] = services[name];
    const kind = kinds.get(name);
    if (kind) orderedKinds.set(name, kind);
  }
  const manifest =
    errors.length || !root.success
      ? undefined
      : deepFreeze({ version: 1 as const, logging: root.data.logging, control: root.data.control, workers: root.data.workers, admin: root.data.admin, drainDelay: root.data.drainDelay, services: ordered } satisfies Manifest);
  return { manifest, services: ordered, kinds: orderedKinds, errors };
}
