import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HendrixError } from '../errors/hendrix-error.js';

/** A `module#export` text split in two; the export is `default` when none is named. */
export interface TaskRef {
  readonly specifier: string;
  readonly exportName: string;
}

/** A task module found on disk: what the pools run. */
export interface ResolvedTask {
  /** The absolute path of the module. */
  readonly file: string;
  readonly exportName: string;
  /** The name in logs and stats: `tasks.mjs#resize`. */
  readonly name: string;
}

/** Splits `./tasks.mjs#resize` (a leading `#` is a subpath import, not an export). */
export function parseTaskRef(text: string): TaskRef {
  const hash = text.lastIndexOf('#');
  if (hash <= 0 || hash === text.length - 1) return { specifier: text, exportName: 'default' };
  return { specifier: text.slice(0, hash), exportName: text.slice(hash + 1) };
}

/** A stack frame's file as a path: `file:` URLs converted, internals and eval code left out. */
function frameFile(name: string | null | undefined): string | undefined {
  if (!name) return undefined;
  if (name.startsWith('file:')) {
    try {
      return fileURLToPath(name);
    } catch {
      return undefined;
    }
  }
  return isAbsolute(name) ? name : undefined;
}

/**
 * The file of the module that called `api` (a function of the public API): the first stack
 * frame below it that is a real file and not `ownFile` (the API module itself, which may hold
 * helper frames). Undefined when the stack says nothing useful (eval, REPL).
 */
export function callerFile(api: Function, ownFile: string | undefined): string | undefined {
  const holder: { stack?: NodeJS.CallSite[] } = {};
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.prepareStackTrace = (_error, sites) => sites;
    Error.stackTraceLimit = 16;
    Error.captureStackTrace(holder, api);
    const sites = holder.stack;
    if (!Array.isArray(sites)) return undefined;
    for (const site of sites) {
      const file = frameFile(site.getFileName());
      if (file !== undefined && file !== ownFile) return file;
    }
    return undefined;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..';
}

const found = new Map<string, string>();

function badTask(message: string, cause?: unknown): HendrixError {
  return new HendrixError('HX_ERR_CROSSTOWN_BAD_TASK', { message, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Finds the module of a thread or process task: a relative path against the calling module's
 * folder, then the manifest's; an absolute path or `file:` URL as is; a package name as the
 * calling module would resolve it. Successes are cached, so a hot call costs one Map read.
 * Throws HX_ERR_CROSSTOWN_BAD_TASK naming every path it tried.
 */
export function resolveTask(text: string, caller: string | undefined, baseDir: string): ResolvedTask {
  if (typeof text !== 'string' || text.length === 0) throw badTask(`a crosstown task is written 'module#export', got ${typeof text === 'string' ? 'an empty string' : typeof text}`);
  const { specifier, exportName } = parseTaskRef(text);
  const from = caller === undefined ? baseDir : dirname(caller);
  const key = `${from}\0${baseDir}\0${specifier}`;
  let file = found.get(key);
  if (file === undefined) {
    file = locate(specifier, from, baseDir);
    if (found.size < 1024) found.set(key, file);
  }
  const slash = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return { file, exportName, name: `${file.slice(slash + 1)}#${exportName}` };
}

function locate(specifier: string, from: string, baseDir: string): string {
  if (specifier.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(specifier);
    } catch (error) {
      throw badTask(`crosstown task module ${specifier} is not a file URL`, error);
    }
    if (!isFile(path)) throw badTask(`crosstown task module not found: ${specifier} (tried ${path})`);
    return path;
  }
  if (isAbsolute(specifier)) {
    if (!isFile(specifier)) throw badTask(`crosstown task module not found: ${specifier}`);
    return specifier;
  }
  if (isRelative(specifier)) {
    const tried = [...new Set([resolve(from, specifier), resolve(baseDir, specifier)])];
    const hit = tried.find(isFile);
    if (hit === undefined) throw badTask(`crosstown task module not found: ${specifier} (tried ${tried.join(', ')})`);
    return hit;
  }
  try {
    return createRequire(join(from, 'noop.js')).resolve(specifier);
  } catch (error) {
    throw badTask(`crosstown task module not found: package ${specifier} (resolved from ${from})`, error);
  }
}
