import { basename, dirname, isAbsolute, join, relative, resolve as resolvePath } from 'node:path';
import { HendrixError, formatPath, type PathSegment } from '../errors/hendrix-error.js';
import { attachSources } from '../errors/render.js';
import { analyzeGraph } from '../runtime/graph.js';
import type { Graph } from '../runtime/graph-types.js';
import { loadVariables } from './env-files.js';
import { interpolateTree } from './interpolate.js';
import { loadManifestFile, type LoadResult, type LoadedLayer } from './load.js';
import { mergeLayers } from './overlay.js';
import { PathSyntaxError, getAt, isPathPrefix, isPlainMap, parsePath } from './path.js';
import { SET_FILE, parseSetFlag } from './set.js';
import { suggest } from './suggest.js';
import type { Origin, ResolveOptions, ResolvedManifest } from './types.js';
import { deepFreeze, validateManifest } from './validate.js';

/** A resolved manifest together with its dependency graph. */
export interface ResolvedWithGraph {
  readonly resolved: ResolvedManifest;
  readonly graph: Graph;
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
 * against the kinds' schemas, check the graph — and returns the resolved manifest with its
 * graph. Throws HX_ERR_MANIFEST with every problem found, sorted by file, line and column.
 */
export async function resolveWithGraph(options: ResolveOptions): Promise<ResolvedWithGraph> {
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

  const validated = await validateManifest({ raw, baseDir, provenance });
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
  const { graph, errors: graphErrors } = analyzeGraph(
    { manifest: { services }, kinds: validated.kinds, provenance },
    Object.keys(declared),
    unvalidated,
  );
  errors.push(...graphErrors);
  if (errors.length || !validated.manifest) fail(errors, fileOrder, texts);

  const resolved: ResolvedManifest = Object.freeze({
    manifest: validated.manifest,
    raw: deepFreeze(raw),
    provenance,
    layers: Object.freeze(layers.map((l) => l.layer)),
    baseDir,
    kinds: validated.kinds,
    secretPaths: Object.freeze(interpolated.secretPaths.map((p) => Object.freeze(p))),
  });
  return { resolved, graph };
}

/**
 * Resolves the manifest (see resolveWithGraph) and returns it; the graph is checked too, so
 * a manifest with a cycle or an unknown reference is rejected here already.
 */
export async function resolveManifest(options: ResolveOptions): Promise<ResolvedManifest> {
  return (await resolveWithGraph(options)).resolved;
}

/**
 * Every layer that set the value at a dotted path (`services.web.listen`), lowest precedence
 * first — the winner last. Throws HX_ERR_EXPLAIN_PATH when no layer set it.
 */
export function explain(resolved: ResolvedManifest, pathText: string): Origin[] {
  let path: PathSegment[];
  try {
    path = parsePath(pathText);
  } catch (cause) {
    if (!(cause instanceof PathSyntaxError)) throw cause;
    throw new HendrixError('HX_ERR_EXPLAIN_PATH', { message: `malformed path \`${pathText}\`: ${cause.message}` });
  }
  const origins = resolved.provenance.origins(path);
  if (origins.length) return origins;
  const fallback = getAt(resolved.manifest, path);
  if (fallback !== undefined) {
    throw new HendrixError('HX_ERR_EXPLAIN_PATH', {
      message: `no layer sets \`${pathText}\`; it has its default value ${JSON.stringify(fallback)}`,
      path,
      hint: 'defaults are documented in the manifest reference and in schemas/hendrix.schema.json',
    });
  }
  const parent = getAt(resolved.raw, path.slice(0, -1));
  const last = path[path.length - 1];
  const hit = isPlainMap(parent) && typeof last === 'string' ? suggest(last, Object.keys(parent)) : undefined;
  throw new HendrixError('HX_ERR_EXPLAIN_PATH', {
    message: `no layer sets \`${pathText}\``,
    path,
    ...(hit ? { hint: `did you mean \`${formatPath([...path.slice(0, -1), hit])}\`?` } : {}),
  });
}
