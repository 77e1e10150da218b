import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { CommonServiceConfig, ProvisionContext } from '../../src/kinds/contract.js';
import { formatListen, isLoopback } from '../../src/kinds/fields.js';
import { appFailureDetails, display, importChain, shown, type Related } from './app-failure.js';
import { inspectApp, isPathSpecifier, parseAppSpec, type AppInspection } from './app-loader.js';
import { inNodeModules, walkModuleGraph, type GraphModule, type ModuleGraph } from './module-graph.js';
import type { HttpConfig } from './schema.js';

/** The provision context of an `http` service. */
type HttpProvisionContext = ProvisionContext<HttpConfig & CommonServiceConfig>;

/**
 * The plan-time checks of an `http` service, the ones its start would otherwise hit: the app
 * module exists, imports, and exports a shape the server runs (a factory is recognized, not
 * called: it may open things); every static folder is a readable folder; `exposeErrors` beyond
 * loopback is a warning. Records the app and every project module it imports (role `module`),
 * so the fingerprint changes with their content. Without `importModules` the app is not
 * imported, but its files are still checked and recorded.
 */
export async function provisionHttp(ctx: HttpProvisionContext): Promise<void> {
  warnExposedErrors(ctx);
  checkHealthServices(ctx);
  const app = ctx.config.app;
  const entry = app === undefined ? undefined : await locateApp(ctx, app);
  // the files are recorded in one order (app, static folders, modules): the fingerprint hashes them in it
  const [, modules] = await Promise.all([checkStatics(ctx), app !== undefined && entry !== undefined ? checkApp(ctx, app, entry.file) : []]);
  for (const m of modules) ctx.file(m.file, 'module', ['app']);
}

/** The app's module file: checked and recorded (a path), or resolved from the manifest folder (a package). */
async function locateApp(ctx: HttpProvisionContext, app: string): Promise<{ file: string | undefined } | undefined> {
  const { specifier } = parseAppSpec(app);
  if (specifier.startsWith('file:') || isPathSpecifier(specifier)) {
    const path = specifier.startsWith('file:') ? fileURLToPath(specifier) : specifier;
    const file = await ctx.need(path, 'app', ['app'], { code: 'HX_ERR_APP_LOAD' });
    return file === undefined ? undefined : { file };
  }
  try {
    return { file: ctx.file(createRequire(join(ctx.baseDir, 'noop.js')).resolve(specifier), 'app', ['app']) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // exports for `import` only: require() cannot resolve it, import() may (and says so when imported)
    if (code !== 'MODULE_NOT_FOUND') return { file: undefined };
    ctx.problem(
      new HendrixError('HX_ERR_APP_LOAD', {
        path: ['app'],
        message: `\`app\` names the package ${specifier}, which cannot be found from ${ctx.baseDir} (is it installed?)`,
        cause: error,
      }),
    );
    return undefined;
  }
}

/** Walks the app's project modules and, when allowed, imports it; reports what stops it. */
async function checkApp(ctx: HttpProvisionContext, app: string, entry: string | undefined): Promise<readonly GraphModule[]> {
  const project = entry !== undefined && !inNodeModules(entry);
  const walked = project ? walkModuleGraph(entry) : Promise.resolve<ModuleGraph>({ modules: [], missing: [] });
  // the plan of a reload checks the code on disk now: the app's generation follows its files (app-versions.ts)
  const walk = (file: string): Promise<ModuleGraph> => (file === entry ? walked : walkModuleGraph(file));
  const [graph, inspection] = await Promise.all([walked, ctx.importModules ? inspectApp(app, ctx.baseDir, undefined, { check: true, graph: walk }) : undefined]);
  for (const gap of graph.missing) {
    ctx.problem(
      new HendrixError('HX_ERR_APP_LOAD', {
        path: ['app'],
        message: `${display(gap.importer)} imports ${gap.specifier}, which does not exist (looked at ${gap.resolved})`,
        location: shown(gap.at),
        related: [...importChain(graph, gap.importer), namedHere(ctx)],
      }),
    );
  }
  // a missing import is why the import failed: said once, at the import
  if (inspection && !inspection.ok && !(inspection.stage === 'import' && graph.missing.length)) {
    ctx.problem(await inspectionProblem(ctx, app, inspection, graph));
  }
  return graph.modules.slice(1);
}

/** The problem of an app that cannot be used, placed in its own files when the failure says where. */
async function inspectionProblem(ctx: HttpProvisionContext, app: string, failed: AppInspection & { ok: false }, graph: ModuleGraph): Promise<HendrixError> {
  const details = await appFailureDetails(app, failed, graph, ctx.baseDir);
  if (details === undefined) return new HendrixError(failed.code, { path: ['app'], message: failed.message, cause: failed.cause });
  return new HendrixError(failed.code, { path: ['app'], ...details, related: [...details.related, namedHere(ctx)] });
}

/** Each static folder exists and is a readable folder (one after another: their order is recorded). */
async function checkStatics(ctx: HttpProvisionContext): Promise<void> {
  for (const [prefix, dir] of Object.entries(ctx.config.static ?? {})) {
    await ctx.need(dir, 'static', ['static', prefix], { code: 'HX_ERR_HTTP_STATIC', folder: true });
  }
}

/** Warns when 500 responses carry error messages and the service is reachable beyond this machine. */
function warnExposedErrors(ctx: HttpProvisionContext): void {
  const address = ctx.config.listen;
  if (!ctx.config.exposeErrors || isLoopback(address)) return;
  ctx.warn(
    new HendrixError('HX_ERR_HTTP_EXPOSE_ERRORS', {
      path: ['exposeErrors'],
      message: `service \`${ctx.name}\` sends error messages in its 500 responses (exposeErrors) and listens on ${formatListen(address)}, beyond loopback`,
    }),
  );
}

/** The manifest line that names the app. */
function namedHere(ctx: HttpProvisionContext): Related {
  const location = ctx.locate(['app']);
  return location ? { message: 'named here', location } : { message: 'named here' };
}

/**
 * The plan-time check of `health.services`: each is a service of the graph. They are not
 * references (no edge: a health endpoint may well report on its own dependents, the TLS
 * listener serving it), so the plan's reference checks do not see them. (Here, not in
 * health.ts: a plan must not load what answers requests, and node:http with it.)
 */
export function checkHealthServices(ctx: ProvisionContext<Pick<HttpConfig, 'health'>>): void {
  const health = ctx.config.health;
  if (typeof health !== 'object') return;
  (health.services ?? []).forEach((name, index) => {
    if (name === ctx.name || ctx.peer(name) !== undefined) return;
    ctx.problem(
      new HendrixError('HX_ERR_UNKNOWN_REFERENCE', {
        message: `\`health.services[${index}]\` of service \`${ctx.name}\` names \`${name}\`: no valid service of the manifest has that name`,
        path: ['health', 'services', index],
        hint: 'list services of this manifest (their names under `services:`), or drop `services` to report the readiness of the whole graph',
      }),
    );
  });
}
