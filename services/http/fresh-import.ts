import { createRequire, register } from 'node:module';

/**
 * Fresh module graphs for the project's own files. Node caches ES modules by URL for the life
 * of the process, so importing an edited app module again returns the old one. A reload that
 * needs the new code imports the app at `file:///…/app.mjs?hendrix-gen=N`, and a module
 * resolution hook gives every project file that a versioned module imports the same
 * `hendrix-gen=N`: the whole graph of project files loads again, packages (node_modules) and
 * built-ins are shared. CommonJS ignores URLs: its project files leave `require.cache` instead.
 */

/** The query parameter of a versioned module URL. */
export const GENERATION_PARAM = 'hendrix-gen';

/**
 * The resolution hook, run by Node on its hooks thread. A data: URL, so that it loads the same
 * from the TypeScript sources (tests) and from dist/. It adds the importer's generation to a
 * file: URL outside node_modules that carries no query yet (a query is the author's own).
 */
const HOOK_SOURCE = `
const GEN = /[?&]${GENERATION_PARAM}=(\\d+)(?:&|#|$)/;
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  const parent = context.parentURL;
  if (parent === undefined || !parent.startsWith('file:')) return result;
  const match = GEN.exec(parent);
  const url = result.url;
  if (match === null || !url.startsWith('file:') || url.includes('?') || url.includes('#') || /[\\\\/]node_modules[\\\\/]/.test(url)) return result;
  return { ...result, url: url + '?${GENERATION_PARAM}=' + match[1] };
}
`;

/**
 * An import() that Node's own loader runs: a module loaded from a data: URL is loaded by Node
 * even under a test runner that routes the `import()` of its transformed sources through a
 * loader of its own (which would ignore the hook and the query).
 */
const NATIVE_IMPORTER = 'data:text/javascript,export default (url) => import(url);';

let ready: Promise<(url: string) => Promise<Record<string, unknown>>> | undefined;

/**
 * Registers the hook, once, at the first versioned import: it starts Node's hooks thread
 * (~25 ms, a few MB), which a process that never reloads app code does not pay for.
 */
function versionedImporter(): Promise<(url: string) => Promise<Record<string, unknown>>> {
  ready ??= (async () => {
    register(`data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`);
    const specifier: string = NATIVE_IMPORTER;
    const { default: importer } = (await import(specifier)) as { default: (url: string) => Promise<Record<string, unknown>> };
    return importer;
  })();
  ready.catch(() => (ready = undefined));
  return ready;
}

/** `url` with the generation in its query (`?hendrix-gen=N`, or `&…` after a query of its own). */
export function withGeneration(url: string, generation: number): string {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : url.slice(hash);
  return `${base}${base.includes('?') ? '&' : '?'}${GENERATION_PARAM}=${generation}${fragment}`;
}

/**
 * Imports an app module at a generation: generation 0 is the plain URL, imported the way the
 * service always did (so a process that never reloads code behaves as before); a later one is
 * the versioned URL, through Node's loader with the hook registered.
 */
export async function importGeneration(url: string, generation: number): Promise<Record<string, unknown>> {
  if (generation === 0) return (await import(url)) as Record<string, unknown>;
  const importer = await versionedImporter();
  return importer(withGeneration(url, generation));
}

/**
 * Drops project files from CommonJS's module cache, so that the next import of a CommonJS app
 * (whose ESM wrapper reads `require.cache` by path, whatever the URL's query) runs them again.
 */
export function forgetCommonJs(files: readonly string[]): void {
  const cache = createRequire(import.meta.url).cache;
  for (const file of files) delete cache[file];
}

/** Whether the resolution hook is registered in this process (diagnostics: it is, only after a reload imported changed app code). */
export function versioningActive(): boolean {
  return ready !== undefined;
}
