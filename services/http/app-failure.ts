import { isAbsolute, relative, sep } from 'node:path';
import type { SourceLocation } from '../../src/errors/hendrix-error.js';
import { parseAppSpec, type AppInspection } from './app-loader.js';
import { locateImportFailure } from './import-failure.js';
import type { ModuleGraph } from './module-graph.js';

/** A related location of an error (an import on the way to the failing module, the manifest line). */
export type Related = { message: string; location?: SourceLocation };

/** Where and why an app module failed to import, in the app's own files. */
export interface AppFailureDetails {
  readonly message: string;
  readonly location: SourceLocation;
  readonly hint: string;
  readonly cause: unknown;
  /** "imported here" for every module between the app and the failing one, app first. */
  readonly related: Related[];
}

/**
 * Places the failed import of an app (a syntax error, an import of a name a module does not
 * export, a throw while its modules ran) at the file:line:col of its own code, for the plan's
 * provision step and for a reload alike; undefined when the failure says nowhere (then the
 * error stays at the manifest's `app` line).
 */
export async function appFailureDetails(app: string, failed: AppInspection & { ok: false }, graph: ModuleGraph, baseDir: string): Promise<AppFailureDetails | undefined> {
  if (failed.stage !== 'import') return undefined;
  const files = graph.modules.map((m) => m.file);
  const failure = await locateImportFailure(failed.cause, files, baseDir);
  if (failure === undefined) return undefined;
  const { specifier } = parseAppSpec(app);
  const where = failure.location.file;
  const inApp = where === files[0];
  const message =
    failure.kind === 'syntax' ? `app module ${specifier} ${inApp ? 'has' : `cannot load: ${display(where)} has`} a syntax error: ${failure.message}` : failed.message;
  return {
    message,
    location: shown(failure.location),
    hint: {
      syntax: `fix the code at the place shown (\`node --check ${display(where)}\` reports the same)`,
      link: 'import only what the module named there exports (or export it from there)',
      throw: 'the code shown runs when the app module is imported, before any request (`hendrix check --no-import` does not import it)',
    }[failure.kind],
    // a syntax error's own message, the same whether Node or a test runner's loader found it
    cause: failure.kind === 'syntax' ? new SyntaxError(failure.message, { cause: failed.cause }) : failed.cause,
    related: importChain(graph, where),
  };
}

/** "imported here" for every module between the app and `file`, app first. */
export function importChain(graph: ModuleGraph, file: string): Related[] {
  const byFile = new Map(graph.modules.map((m) => [m.file, m]));
  const chain: Related[] = [];
  for (let m = byFile.get(file); m?.importedAt !== undefined && m.importedBy !== undefined; m = byFile.get(m.importedBy)) {
    chain.unshift({ message: `${display(m.file)} is imported here`, location: shown(m.importedAt) });
    if (chain.length > graph.modules.length) break;
  }
  return chain;
}

/** A location in an app file, displayed like the manifest's. */
export function shown(location: SourceLocation): SourceLocation {
  return { ...location, file: display(location.file) };
}

/**
 * A file as locations show it: relative to the working directory, like the manifest files (the
 * renderer reads code frames from there), or absolute when it lies outside.
 */
export function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? file : rel;
}
