import type { Logger } from 'pino';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { ServiceContext } from '../../src/kinds/contract.js';
import { appFailureDetails } from './app-failure.js';
import { appError, inspectApp, makeApp, type FactoryShape, type LoadedApp } from './app-loader.js';
import type { HttpLimits } from './handle.js';
import { httpLimits } from './limits.js';
import { walkModuleGraph, type ModuleGraph } from './module-graph.js';
import type { HttpConfig } from './schema.js';
import type { StaticFiles } from './static-files.js';

/**
 * What an http service runs requests with: one config and everything prepared from it. A
 * reload prepares the next one completely (imports the app, runs its factory, checks the
 * static folders), then the service switches to it at once.
 */
export interface Generation {
  readonly config: HttpConfig;
  readonly app: PreparedApp | undefined;
  readonly statics: StaticFiles | undefined;
  readonly limits: HttpLimits;
}

/** An app ready to run, and the module it came from. */
export interface PreparedApp {
  readonly app: LoadedApp;
  /** The module URL, generation and export: the same key is the same module. */
  readonly key: string;
  /** The export as found (a factory is run again by a rebind). */
  readonly module: { readonly shape: LoadedApp | FactoryShape; readonly where: string };
}

/** How prepareApp() treats the module. */
export interface PrepareAppOptions {
  /** Hash the app's files and import a new generation when they changed (a reload); false at a start. */
  readonly check: boolean;
  /** Run a factory again even when the module is the same (a rebind). */
  readonly rerun?: boolean;
  /** The config the app's factory reads as `ctx.config`. */
  readonly config: () => unknown;
}

/**
 * Prepares the app of `next`: reuses `current`'s when the module (URL, generation, export) is
 * the same — unchanged code is neither imported nor its factory run again — else imports it
 * and runs its factory. A module that fails to import is reported at the file:line:col of the
 * failure in the app's own code (when it says where), the manifest's `app` line otherwise.
 */
export async function prepareApp(
  ctx: ServiceContext,
  current: PreparedApp | undefined,
  next: HttpConfig,
  signal: AbortSignal,
  options: PrepareAppOptions,
): Promise<PreparedApp | undefined> {
  const app = next.app;
  if (app === undefined) return undefined;
  const graphs = new Map<string, Promise<ModuleGraph>>();
  const graph = (entry: string): Promise<ModuleGraph> => {
    let walked = graphs.get(entry);
    if (walked === undefined) graphs.set(entry, (walked = walkModuleGraph(entry)));
    return walked;
  };
  const found = await inspectApp(app, ctx.baseDir, signal, { check: options.check, graph });
  if (!found.ok) {
    if (!options.check || found.entry === undefined) throw appError(ctx, found.code, found.message, found.cause);
    throw await placedError(ctx, app, found, await graph(found.entry));
  }
  if (current !== undefined && current.key === found.key && !options.rerun) return current;
  const module = { shape: found.shape, where: found.where };
  return { app: await makeApp(ctx, module, signal, options.config), key: found.key, module };
}

/** The error of an app that failed to import at a reload, placed in its own code when the failure says where. */
async function placedError(ctx: ServiceContext, app: string, failed: Parameters<typeof appFailureDetails>[1], graph: ModuleGraph): Promise<HendrixError> {
  const details = await appFailureDetails(app, failed, graph, ctx.baseDir);
  if (details === undefined) return appError(ctx, failed.code, failed.message, failed.cause);
  const named = ctx.locate(['app']);
  return new HendrixError(failed.code, {
    service: ctx.name,
    path: ['services', ctx.name, 'app'],
    ...details,
    related: [...details.related, named ? { message: 'named here', location: named } : { message: 'named here' }],
  });
}

/**
 * Prepares the static folders of `next`: `current`'s when the `static` map is the same (the
 * files themselves are read at each request), else new mounts whose folders are checked now.
 */
export async function prepareStatics(
  ctx: Pick<ServiceContext, 'name' | 'baseDir' | 'locate'>,
  current: Generation | undefined,
  next: HttpConfig,
  log: Logger,
): Promise<StaticFiles | undefined> {
  if (next.static === undefined) return undefined;
  if (current !== undefined && JSON.stringify(current.config.static) === JSON.stringify(next.static)) return current.statics;
  // loaded only when used: `send` and its MIME database cost ~40 ms of start-up
  const { StaticFiles } = await import('./static-files.js');
  const statics = new StaticFiles(next.static, ctx.baseDir, log);
  await statics.init(ctx);
  return statics;
}

/** The parts of the service a reload changed, for its log line. */
export function changedParts(from: Generation, to: Generation): string[] {
  const changed: string[] = [];
  const a = from.config;
  const b = to.config;
  if (from.app !== to.app) changed.push(from.app?.key === to.app?.key && a.app === b.app ? 'app (factory run again)' : 'app');
  if (from.statics !== to.statics) changed.push('static');
  if (JSON.stringify(from.limits) !== JSON.stringify(to.limits)) changed.push('limits');
  if (a.accessLog !== b.accessLog) changed.push('accessLog');
  if (a.exposeErrors !== b.exposeErrors) changed.push('exposeErrors');
  if (JSON.stringify(a.crosstown) !== JSON.stringify(b.crosstown)) changed.push('crosstown');
  return changed;
}

/** The generation of a config, from its prepared parts. */
export function generationOf(config: HttpConfig, app: PreparedApp | undefined, statics: StaticFiles | undefined): Generation {
  return { config, app, statics, limits: httpLimits(config) };
}
