import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { ServiceContext } from '../../src/kinds/contract.js';
import { appGeneration } from './app-versions.js';
import { importGeneration } from './fresh-import.js';
import { inNodeModules, walkModuleGraph, type ModuleGraph } from './module-graph.js';

/** A Node request listener as the app exports it: `(req, res)`, maybe async, maybe with `next`. */
export type NodeListener = (req: IncomingMessage, res: ServerResponse, ...rest: never[]) => unknown;

/** A web-standard handler: an object whose `fetch(request)` answers with a Response. */
export interface FetchHandler {
  fetch(request: Request, ...rest: never[]): Response | Promise<Response>;
}

/** What an app module resolved to: one of the two shapes the server can run. */
export type LoadedApp = { type: 'node'; listener: NodeListener } | { type: 'fetch'; handler: FetchHandler };

/** What a factory export `(ctx) => app` receives, at start (and again when a reload or a rebind runs it again). */
export interface AppContext {
  /** The service's logger. */
  readonly log: Logger;
  /** The service instance name. */
  readonly name: string;
  /** The folder relative paths resolve against. */
  readonly baseDir: string;
  /** The handle of a declared dependency (see ServiceContext.peer). */
  peer<T = unknown>(name: string): T;
  /** The validated config of the service. */
  readonly config: unknown;
}

/** An `app` value split into the module specifier and the export name. */
export interface AppSpec {
  readonly specifier: string;
  readonly exportName: string | undefined;
}

/** Splits `./mod.mjs#name` into specifier and export name (a leading `#` is a subpath import). */
export function parseAppSpec(value: string): AppSpec {
  const hash = value.lastIndexOf('#');
  if (hash <= 0 || hash === value.length - 1) return { specifier: value, exportName: undefined };
  return { specifier: value.slice(0, hash), exportName: value.slice(hash + 1) };
}

/** True for a specifier naming a file by path (`./`, `../`, `.`, absolute), not a package. */
export function isPathSpecifier(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || isAbsolute(specifier);
}

/** Resolves a module specifier against `baseDir` to a URL `import()` accepts. */
async function resolveModule(specifier: string, baseDir: string): Promise<{ url: string; file: string | undefined }> {
  if (specifier.startsWith('file:')) return { url: specifier, file: undefined };
  if (isPathSpecifier(specifier)) {
    const file = resolve(baseDir, specifier);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw Object.assign(new Error(`no such file: ${file}`), { code: 'ENOENT', file });
    return { url: pathToFileURL(file).href, file };
  }
  // a package: resolve from the manifest's folder, as the user's own code would
  try {
    const file = createRequire(join(baseDir, 'noop.js')).resolve(specifier);
    return { url: pathToFileURL(file).href, file };
  } catch {
    // ESM-only exports without a "default" condition: let import() try from here
    return { url: specifier, file: undefined };
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') {
    const name = value.name ? ` ${value.name}` : '';
    return `a function${name} with ${value.length} parameter${value.length === 1 ? '' : 's'}`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
    const ctor = proto && proto !== Object.prototype ? proto.constructor?.name : undefined;
    const what = ctor ? `an instance of ${ctor}` : 'an object';
    return keys.length ? `${what} with keys ${keys.slice(0, 8).join(', ')}${keys.length > 8 ? ', ...' : ''}` : `${what} without a fetch method`;
  }
  return `a ${typeof value} (${String(value).slice(0, 40)})`;
}

function exportList(namespace: Record<string, unknown>): string {
  return Object.keys(namespace).sort().join(', ') || 'nothing';
}

function isClass(fn: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

type Shape = LoadedApp | FactoryShape | { type: 'unknown'; found: string };

/**
 * Detects the shape of an app export: an object with `fetch`, a Node listener (two or more
 * parameters: `(req, res)`, Express's `(req, res, next)`), a factory (at most one parameter),
 * or a Koa application instance (`callback()` gives its listener).
 */
export function detectShape(value: unknown): Shape {
  if (typeof value === 'function') {
    if (isClass(value)) return { type: 'unknown', found: `a class ${value.name || '(anonymous)'}; export an instance of it instead` };
    if (value.length >= 2) return { type: 'node', listener: value as NodeListener };
    return { type: 'factory', factory: value as (ctx: AppContext) => unknown };
  }
  if (typeof value === 'object' && value !== null) {
    const obj = value as Record<string, unknown>;
    if (typeof obj['fetch'] === 'function') return { type: 'fetch', handler: obj as unknown as FetchHandler };
    if (typeof obj['callback'] === 'function' && typeof obj['use'] === 'function') {
      const listener = (obj['callback'] as () => unknown).call(obj);
      if (typeof listener === 'function' && listener.length >= 2) return { type: 'node', listener: listener as NodeListener };
    }
  }
  return { type: 'unknown', found: describe(value) };
}

/** Raced against an abort signal: rejects with the signal's reason when it aborts first. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolvePromise(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A factory export `(ctx) => app`, recognized but not yet called. */
export type FactoryShape = { type: 'factory'; factory: (ctx: AppContext) => unknown };

/**
 * What an app module turned out to be, before any factory is called: a runnable shape or a
 * factory (with `where`, the app as written, for messages), or why it cannot be used.
 * `stage` says where it failed: importing the module, or choosing and recognizing the export.
 */
export type AppInspection =
  | { ok: true; shape: LoadedApp | FactoryShape; where: string; key: string }
  | { ok: false; stage: 'import' | 'export'; code: 'HX_ERR_APP_LOAD' | 'HX_ERR_APP_SHAPE'; message: string; cause?: unknown; entry?: string };

/** How inspectApp() picks the generation of the app's module graph (see app-versions.ts). */
export interface InspectOptions {
  /** Hash the app's project files and import a new generation when they changed (a reload, or its plan); default false (a start). */
  readonly check?: boolean;
  /** The module graph of an entry file, when the caller walks it anyway (default: walked here, when needed). */
  readonly graph?: (entry: string) => Promise<ModuleGraph>;
}

/** The project files of a module graph for its digest: the modules, and the imports that do not exist yet. */
function graphFiles(graph: ModuleGraph): string[] {
  return [...graph.modules.map((m) => m.file), ...graph.missing.map((m) => m.resolved)];
}

/**
 * Imports an app module (`./mod.mjs`, a package, `#name` for an export) from `baseDir`, picks
 * the export and recognizes its shape, without calling a factory. The one path shared by the
 * plan's provision step and the service's start, so both read an app the same way. Rejects
 * only with `signal`'s reason when it aborts.
 */
export async function inspectApp(app: string, baseDir: string, signal?: AbortSignal, options: InspectOptions = {}): Promise<AppInspection> {
  const { specifier, exportName } = parseAppSpec(app);
  let namespace: Record<string, unknown>;
  let key: string;
  let entry: string | undefined;
  try {
    const { url, file } = await resolveModule(specifier, baseDir);
    entry = file;
    // a project module may have changed since it was imported: packages and file: URLs as written stay as they are
    const project = file !== undefined && url.startsWith('file:') && !inNodeModules(file);
    const walk = options.graph ?? walkModuleGraph;
    const { generation } = project ? await appGeneration(file, async () => graphFiles(await walk(file)), options.check === true) : { generation: 0 };
    key = `${url} ${generation}`;
    const imported = importGeneration(url, generation);
    namespace = await (signal ? raceAbort(imported, signal) : imported);
  } catch (error) {
    if (signal?.aborted && error === signal.reason) throw error;
    const code = (error as { code?: unknown }).code;
    const notFound = code === 'ENOENT' || (code === 'ERR_MODULE_NOT_FOUND' && !isPathSpecifier(specifier));
    const reason = error instanceof Error ? error.message : String(error);
    const message = notFound ? `app module not found: ${specifier} (${reason})` : `app module ${specifier} failed to load: ${reason}`;
    return { ok: false, stage: 'import', code: 'HX_ERR_APP_LOAD', message, cause: error, ...(entry === undefined ? {} : { entry }) };
  }
  const fail = (code: 'HX_ERR_APP_LOAD' | 'HX_ERR_APP_SHAPE', message: string): AppInspection => ({ ok: false, stage: 'export', code, message });

  let value: unknown;
  if (exportName !== undefined) {
    if (!(exportName in namespace)) return fail('HX_ERR_APP_LOAD', `app module ${specifier} has no export named "${exportName}" (it exports: ${exportList(namespace)})`);
    value = namespace[exportName];
  } else if ('default' in namespace) {
    value = namespace['default'];
  } else if (typeof namespace['fetch'] === 'function') {
    value = namespace; // `export function fetch(request)` as the whole module
  } else {
    return fail('HX_ERR_APP_SHAPE', `app module ${specifier} has no default export (it exports: ${exportList(namespace)}); add one or name an export with ${specifier}#name`);
  }

  const where = exportName ? `${specifier}#${exportName}` : specifier;
  const shape = detectShape(value);
  if (shape.type === 'unknown') return fail('HX_ERR_APP_SHAPE', `app ${where} is ${shape.found}, not a (req, res) listener, an object with fetch(request), or a factory (ctx) => app`);
  return { ok: true, shape, where, key: `${key} ${exportName ?? ''}` };
}

/** Builds the HendrixError of an app that cannot be used, at the service's `app` field. */
export function appError(
  ctx: Pick<ServiceContext, 'name' | 'locate'>,
  code: 'HX_ERR_APP_LOAD' | 'HX_ERR_APP_SHAPE',
  message: string,
  cause?: unknown,
): HendrixError {
  return new HendrixError(code, { service: ctx.name, path: ['services', ctx.name, 'app'], location: ctx.locate(['app']), message, cause });
}

/**
 * Loads the app of an http service: inspectApp(), then a factory is called once with the
 * service's AppContext and what it returns must be a runnable shape.
 */
export async function loadApp(ctx: ServiceContext<{ app?: string | undefined }>, signal: AbortSignal): Promise<LoadedApp> {
  const app = ctx.config.app;
  if (app === undefined) throw new TypeError('loadApp: the service has no app');
  const found = await inspectApp(app, ctx.baseDir, signal);
  if (!found.ok) throw appError(ctx, found.code, found.message, found.cause);
  return makeApp(ctx, found, signal, () => ctx.config);
}

/**
 * The runnable app of an inspected module: its shape, or what its factory returns when called
 * now with an AppContext whose `config` reads `config()` (the service's config of the moment).
 */
export async function makeApp(
  ctx: ServiceContext,
  found: { readonly shape: LoadedApp | FactoryShape; readonly where: string },
  signal: AbortSignal,
  config: () => unknown,
): Promise<LoadedApp> {
  const { shape, where } = found;
  if (shape.type !== 'factory') return shape;

  const appContext: AppContext = {
    log: ctx.log,
    name: ctx.name,
    baseDir: ctx.baseDir,
    peer: <T>(name: string) => ctx.peer<T>(name),
    get config() {
      return config();
    },
  };
  let made: unknown;
  try {
    made = await raceAbort(Promise.resolve().then(() => shape.factory(appContext)), signal);
  } catch (error) {
    if (signal.aborted && error === signal.reason) throw error;
    throw appError(ctx, 'HX_ERR_APP_LOAD', `app factory ${where} failed: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const result = detectShape(made);
  if (result.type === 'node' || result.type === 'fetch') return result;
  const what = result.type === 'factory' ? describe(made) + ' (a factory may not return another factory)' : result.found;
  throw appError(ctx, 'HX_ERR_APP_SHAPE', `app factory ${where} returned ${what}; return a (req, res) listener or an object with fetch(request)`);
}
