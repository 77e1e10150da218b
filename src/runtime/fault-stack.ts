import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceLocation } from '../errors/hendrix-error.js';
import type { Plan } from './plan.js';

/**
 * Reading an error's stack for the place in the project that raised it: the first frame in a
 * file of the project (not Node's own, not node_modules, not hendrix's), and which service
 * owns that file (the app module and the modules it imports, a custom kind's module).
 */

/** `at fn (file:line:col)`, `at async fn (file:line:col)`: the place in parentheses (a path or a file: URL). */
const CALL_FRAME = /\(([^()]+):(\d+):(\d+)\)\s*$/;
/** `at file:line:col`: an anonymous top-level frame. */
const BARE_FRAME = /^\s*at (?:async )?([^()\s][^()]*):(\d+):(\d+)\s*$/;

/** Hendrix's own folders: the package root is the nearest folder above this file with src/ or dist/. */
const OWN_DIRS: readonly string[] = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/runtime/ (sources) or dist/bundle/[chunks/] (the bundle) or dist/src/runtime/ (tsc output)
  const marker = here.lastIndexOf(`${sep}dist${sep}`) >= 0 ? here.lastIndexOf(`${sep}dist${sep}`) : here.lastIndexOf(`${sep}src${sep}`);
  if (marker < 0) return [here + sep];
  const root = here.slice(0, marker);
  return ['dist', 'src', 'services', 'bin'].map((d) => join(root, d) + sep);
})();

const canonical = (file: string): string => {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
};

/** True for a file of the project: not Node's, not a dependency's, not hendrix's own. */
function isProjectFile(file: string): boolean {
  if (!isAbsolute(file) || file.includes(`${sep}node_modules${sep}`)) return false;
  return !OWN_DIRS.some((dir) => file.startsWith(dir));
}

/** The project frames of an error's stack, innermost first (files resolved to real paths). */
export function projectFrames(error: unknown): SourceLocation[] {
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : undefined;
  if (stack === undefined) return [];
  const out: SourceLocation[] = [];
  for (const line of stack.split('\n')) {
    if (!line.trimStart().startsWith('at ')) continue;
    const m = CALL_FRAME.exec(line) ?? BARE_FRAME.exec(line);
    if (!m) continue;
    const file = m[1]!.startsWith('file://') ? safeFileUrl(m[1]!) : m[1]!;
    if (file === undefined || !isProjectFile(file)) continue;
    out.push({ file: canonical(file), line: Number(m[2]), column: Number(m[3]) });
  }
  return out;
}

function safeFileUrl(url: string): string | undefined {
  try {
    return fileURLToPath(url);
  } catch {
    return undefined;
  }
}

/** The roles of plan files that hold code a service runs. */
const CODE_ROLES = new Set(['app', 'module', 'commands', 'kind']);

/**
 * Which services run the code of each project file of a plan (real path → service names): the
 * code files the kinds recorded (app, modules, commands), and each custom kind's module.
 */
export function codeOwners(plan: Plan): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  const add = (file: string, service: string): void => {
    const key = canonical(file);
    const list = owners.get(key) ?? [];
    if (!list.includes(service)) list.push(service);
    owners.set(key, list);
  };
  for (const service of plan.services.values()) {
    for (const f of service.files) if (CODE_ROLES.has(f.role)) add(f.path, service.name);
    const spec = String(service.config.kind);
    if (spec.startsWith('./') || spec.startsWith('../') || isAbsolute(spec)) add(resolve(plan.baseDir, spec), service.name);
  }
  return owners;
}
