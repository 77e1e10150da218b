import { basename, dirname, isAbsolute, join, relative, resolve as resolvePath } from 'node:path';
import { HendrixError, formatPath, type PathSegment } from '../errors/hendrix-error.js';
import { attachSources } from '../errors/render.js';
import type { ServiceKind } from '../kinds/contract.js';
import { loadVariables } from './env-files.js';
import { interpolateTree } from './interpolate.js';
import { loadManifestFile, type LoadResult, type LoadedLayer } from './load.js';
import { mergeLayers } from './overlay.js';
import { PathSyntaxError, getAt, isPathPrefix, isPlainMap, parsePath } from './path.js';
import { SET_FILE, parseSetFlag } from './set.js';
import { suggest } from '../errors/suggest.js';
import type { Manifest, Origin, Provenance, ResolveOptions, ResolvedManifest } from './types.js';
import { deepFreeze, validateManifest } from './validate.js';

/**
 * What the manifest stage found: the resolved manifest when it is valid, every problem, and
 * what the later stages need to report their own problems in the same run (the services that
 * did not validate still have references worth checking).
 */
export interface ManifestResult {
  /** The resolved manifest, or undefined when any problem was found. */
  readonly resolved: ResolvedManifest | undefined;
  /** Every problem found so far, unsorted. */
  readonly errors: readonly HendrixError[];
  /** Every declared service name, in manifest order. */
  readonly declared: readonly string[];
  /** Each service's validated config, or its raw mapping when it did not validate. */
  readonly services: Readonly<Record<string, Record<string, unknown>>>;
  /** The services whose config did not validate. */
  readonly unvalidated: ReadonlySet<string>;
  /** The kind of each service whose kind resolved. */
  readonly kinds: ReadonlyMap<string, ServiceKind>;
  /** Where each value came from. */
  readonly provenance: Provenance;
  /** The folder of the base manifest. */
  readonly baseDir: string;
  /** Throws HX_ERR_MANIFEST with the given problems sorted and their code frames attached. */
  fail(errors: readonly HendrixError[]): never;
}

/**
 * Removes duplicate errors and sorts them by file (in layer order: base, overlays, --set;
 * other files by name), then line, then column; errors without a location come last.
 */
export function sortErrors(errors: readonly HendrixError[], fileOrder: readonly string[] = []): HendrixError[] {
  const seen = new Set<string>();
  const unique = errors.filter((e) => {
    const l = e.location;
    const key = `${e.code}|${l ? `${l.file}:${l.line}:${l.column}` : formatPath(e.path ?? [])}|${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const rank = (file: string) => {
    const i = fileOrder.indexOf(file);
    return i < 0 ? fileOrder.length : i;
  };
  return unique.sort((a, b) => {
    const la = a.location;
    const lb = b.location;
    if (!la || !lb) return la ? -1 : lb ? 1 : 0;
    return (
      rank(la.file) - rank(lb.file) ||
      (la.file < lb.file ? -1 : la.file > lb.file ? 1 : 0) ||
      la.line - lb.line ||
      la.column - lb.column
    );
  });
}

function fail(errors: readonly HendrixError[], fileOrder: readonly string[], texts: ReadonlyMap<string, string>): never {
  const sorted = sortErrors(errors, fileOrder);
  const n = sorted.length;
  const error = new HendrixError('HX_ERR_MANIFEST', { message: `the manifest has ${n === 1 ? 'a problem' : `${n} problems`}`, errors: sorted });
  throw attachSources(error, (file) => texts.get(file));
}

/**
 * Runs the manifest pipeline — load every layer, overlay them, interpolate variables, validate
 * against the kinds' schemas — and returns what it found, problems included. Throws
 * HX_ERR_MANIFEST only when a layer cannot be read or parsed (nothing later can be checked).
 */
export async function loadManifest(options: ResolveOptions): Promise<ManifestResult> {
  const cwd = resolvePath(options.cwd);
  const files = options.files?.length ? options.files : ['hendrix.yaml'];
  const absolute = files.map((f) => (isAbsolute(f) ? f : resolvePath(cwd, f)));
  const display = (abs: string) => relative(cwd, abs) || basename(abs);
  const baseDir = dirname(absolute[0]!);
  const errors: HendrixError[] = [];
  const results: LoadResult[] = [];
  const texts = new Map<string, string>();
  const loadFile = async (abs: string, type: 'base' | 'file' | 'env') => {
    const file = display(abs);
    const result = await loadManifestFile(abs, file, { type, allowEmpty: type !== 'base' });
    if (result.text !== undefined) texts.set(file, result.text);
    results.push(result);
  };

  for (const [i, abs] of absolute.entries()) await loadFile(abs, i === 0 ? 'base' : 'file');
  if (options.env !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(options.env)) {
      errors.push(new HendrixError('HX_ERR_USAGE', { message: `\`${options.env}\` is not a valid environment name`, hint: 'use letters, digits, `_`, `-` and `.`, e.g. --env production' }));
    } else await loadFile(join(baseDir, `hendrix.${options.env}.yaml`), 'env');
  }
  const sets = options.set ?? [];
  for (const flag of sets) results.push(parseSetFlag(flag));
  if (sets.length === 1) texts.set(SET_FILE, sets[0]!);
  const fileOrder = [...texts.keys(), SET_FILE];

  for (const r of results) errors.push(...r.errors);
  if (errors.length) fail(errors, fileOrder, texts);

  const layers = results.map((r) => r.layer).filter((l): l is LoadedLayer => l !== undefined);
  const merged = mergeLayers(layers);
  errors.push(...merged.errors);
  const { provenance } = merged;

  const vars = await loadVariables({ baseDir, env: options.env, environment: options.environment, display });
  errors.push(...vars.errors);
  const interpolated = interpolateTree(merged.value, vars.variables, provenance);
  errors.push(...interpolated.errors);
  const varPaths = interpolated.errors.map((e) => e.path ?? []);
  const raw = interpolated.value;

  const validated = await validateManifest({ raw, baseDir, provenance, kinds: options.kinds });
  // a value that failed to interpolate is reported once, not again as an invalid value
  errors.push(...validated.errors.filter((e) => !varPaths.some((p) => isPathPrefix(p, e.path ?? []))));

  // services that failed validation still contribute their references, to report all at once
  const declared = isPlainMap(raw.services) ? raw.services : {};
  const services: Record<string, Record<string, unknown>> = {};
  const unvalidated = new Set<string>();
  for (const [name, config] of Object.entries(declared)) {
    if (validated.services[name]) services[name] = validated.services[name];
    else if (isPlainMap(config)) {
      services[name] = config;
      unvalidated.add(name);
    }
  }
  const resolved: ResolvedManifest | undefined =
    errors.length || !validated.manifest
      ? undefined
      : Object.freeze({
          manifest: validated.manifest,
          raw: deepFreeze(raw),
          provenance,
          layers: Object.freeze(layers.map((l) => l.layer)),
          baseDir,
          kinds: validated.kinds,
          secretPaths: Object.freeze([...interpolated.secretPaths, ...alwaysSecret(validated.manifest, interpolated.secretPaths)].map((p) => Object.freeze(p))),
        });
  return {
    resolved,
    errors,
    declared: Object.keys(declared),
    services,
    unvalidated,
    kinds: validated.kinds,
    provenance,
    baseDir,
    fail: (problems) => fail(problems, fileOrder, texts),
  };
}

/**
 * The paths that are secrets however they are written: the admin token, also when it is
 * written literally in the file rather than taken from a variable with a secret-looking name.
 */
function alwaysSecret(manifest: Manifest, known: readonly (readonly PathSegment[])[]): PathSegment[][] {
  const token: PathSegment[] = ['admin', 'token'];
  const isKnown = known.some((p) => p.length === 2 && p[0] === 'admin' && p[1] === 'token');
  return manifest.admin.token !== undefined && !isKnown ? [token] : [];
}

/**
 * Resolves the manifest (see loadManifest) and returns it; throws HX_ERR_MANIFEST with every
 * problem found, sorted by file, line and column. The graph is checked by the plan.
 */
export async function resolveManifest(options: ResolveOptions): Promise<ResolvedManifest> {
  const result = await loadManifest(options);
  if (result.errors.length || !result.resolved) return result.fail(result.errors);
  return result.resolved;
}

/** Where the value at a manifest path came from, as `hendrix config --explain` shows it. */
export interface Explanation {
  /** The parsed path. */
  readonly path: readonly PathSegment[];
  /** The resolved value: what a layer set, or the schema's default. */
  readonly value: unknown;
  /** Every layer that set it, lowest precedence first — the winner last; none: the default. */
  readonly origins: readonly Origin[];
}

/**
 * Explains the value at a dotted path (`services.web.listen`): every layer that set it, the
 * winner last, or none when the value is the schema's default. Throws HX_ERR_EXPLAIN_PATH (with
 * a did-you-mean) for a malformed path or one that holds no value at all.
 */
export function explain(resolved: ResolvedManifest, pathText: string): Explanation {
  let path: PathSegment[];
  try {
    path = parsePath(pathText);
  } catch (cause) {
    if (!(cause instanceof PathSyntaxError)) throw cause;
    throw new HendrixError('HX_ERR_EXPLAIN_PATH', { message: `malformed path \`${pathText}\`: ${cause.message}` });
  }
  const value = getAt(resolved.manifest, path);
  const origins = resolved.provenance.origins(path);
  if (value !== undefined || origins.length) return { path, value, origins };
  // the keys a near miss may have meant: those written, and those the defaults filled in
  const parent = path.slice(0, -1);
  const keys = [getAt(resolved.raw, parent), getAt(resolved.manifest, parent)].flatMap((map) => (isPlainMap(map) ? Object.keys(map) : []));
  const last = path[path.length - 1];
  const hit = typeof last === 'string' ? suggest(last, [...new Set(keys)]) : undefined;
  throw new HendrixError('HX_ERR_EXPLAIN_PATH', {
    message: `no value at \`${pathText}\`: no layer sets it and it has no default`,
    path,
    ...(hit ? { hint: `did you mean \`${formatPath([...parent, hit])}\`?` } : {}),
  });
}
