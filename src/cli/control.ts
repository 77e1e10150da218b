import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { HendrixError } from '../errors/hendrix-error.js';
import { formatDuration } from '../kinds/units.js';
import { defaultControlPath } from '../runtime/control-path.js';
import type { ControlRoutes } from '../runtime/control-socket.js';
import type { Reloader, ReloadResult } from '../runtime/reload.js';
import type { Logger } from 'pino';
import { isHendrixError } from '../errors/hendrix-error.js';
import { reportError, type CliIO } from './io.js';

/**
 * Where the control socket of an instance is: `--control PATH`, else the manifest's
 * `control.path` (relative to the manifest folder), else the default derived from the
 * manifest folder (so that two instances in two folders do not collide).
 */
export function controlPathOf(baseDir: string, manifestPath: string | undefined, flag: string | undefined, cwd: string, env: NodeJS.ProcessEnv): string {
  if (flag) return isAbsolute(flag) ? flag : resolve(cwd, flag);
  if (manifestPath) return isAbsolute(manifestPath) ? manifestPath : resolve(baseDir, manifestPath);
  return defaultControlPath(baseDir, env);
}

/**
 * The control path a client command (`hendrix reload`) uses, read without planning the
 * manifest: the running instance plans the edited manifest and reports its problems itself, so
 * a manifest that does not validate any more must not stop the client from reaching it. Only
 * `control.path` of the YAML layers is read (the last layer that sets it wins); errors ignored.
 */
export async function clientControlPath(files: readonly string[], flag: string | undefined, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const absolute = files.map((f) => (isAbsolute(f) ? f : resolve(cwd, f)));
  const baseDir = dirname(absolute[0] ?? resolve(cwd, 'hendrix.yaml'));
  let fromManifest: string | undefined;
  for (const file of absolute) {
    try {
      const text = readFileSync(file, 'utf8');
      // the YAML parser is loaded only for a manifest that sets the control section
      if (!/^control\s*:/m.test(text)) continue;
      const { parse } = await import('yaml');
      const doc = parse(text) as { control?: { path?: unknown } } | null;
      const path = doc?.control?.path;
      if (typeof path === 'string' && path && !path.includes('${')) fromManifest = path;
    } catch {
      // unreadable or broken YAML: the instance will say so; the default path is still right
    }
  }
  return controlPathOf(baseDir, fromManifest, flag, cwd, env);
}

/** `?replace=1` (every changed service) or `?replace=web,api` (those). */
function replaceOf(query: URLSearchParams): boolean | string[] | undefined {
  const value = query.get('replace');
  if (value === null || value === '' || value === '0') return undefined;
  if (value === '1' || value === 'true') return true;
  return value.split(',').filter(Boolean);
}

/** The control routes of a running `hendrix up`: `POST /reload` (`?dryRun=1`, `?replace=…`). */
export function reloadRoutes(reloader: Reloader, stopping: () => boolean): ControlRoutes {
  return {
    'POST /reload': async ({ query }) => {
      if (stopping()) throw new HendrixError('HX_ERR_RELOAD_REFUSED', { message: 'reload refused: the graph is stopping; nothing was changed' });
      const dryRun = query.get('dryRun') === '1' || query.get('dryRun') === 'true';
      const t0 = performance.now();
      const result = await reloader.reload({ dryRun, replace: replaceOf(query) });
      return { body: { ...result, ms: Math.round(performance.now() - t0) } };
    },
    'GET /plan': () => ({ body: { fingerprint: reloader.plan.fingerprint, services: [...reloader.plan.services.values()].map((s) => ({ name: s.name, kind: s.config.kind, fingerprint: s.fingerprint })) } }),
  };
}

/** The one short line a reload logs: what changed, in place or replaced, how long. */
export function reloadLine(result: ReloadResult, ms: number): string {
  if (!result.applied) return result.diff.empty ? 'reload: nothing changed' : 'reload: dry run';
  const words: Record<string, string> = { start: 'added', reload: 'in place', replace: 'replaced', rebind: 'rebound', update: 'settings', stop: 'removed' };
  const steps = (result.report?.steps ?? []).map((s) => `${s.service} ${words[s.action] ?? s.action} ${formatDuration(Math.round(s.ms))}`);
  return `reloaded in ${formatDuration(Math.round(ms))}: ${steps.join(', ')}`;
}

/** How a running instance reports each reload: one line for an outcome, the rendered diagnostic for a failure. */
export interface ReloadLogging {
  onResult(result: ReloadResult, ms: number): void;
  onError(error: unknown): void;
}

/** The reload logging of `hendrix up` (one process or the primary of workers). */
export function reloadLogging(log: Logger, io: Pick<CliIO, 'stderr' | 'env'>): ReloadLogging {
  return {
    onResult(result, ms) {
      if (!result.applied && !result.diff.empty) return;
      log.info({ reload: result.report?.steps ?? [], ms: Math.round(ms), fingerprint: result.fingerprint }, reloadLine(result, ms));
    },
    onError(error) {
      // the rendered diagnostic (file:line:col) for whoever watches the terminal; the log keeps the code
      log.error(isHendrixError(error) ? { code: error.code, err: error } : { err: error }, 'reload failed: the running graph is unchanged');
      if (isHendrixError(error)) reportError(io, error);
    },
  };
}

/**
 * The control routes of a running instance: reloadRoutes, with what a client asked logged by
 * the instance as well, plus `extra` routes.
 */
export function instanceRoutes(reloader: Reloader, stopping: () => boolean, logging: ReloadLogging, extra: ControlRoutes = {}): ControlRoutes {
  const routes = reloadRoutes(reloader, stopping);
  const reloadRoute = routes['POST /reload']!;
  return {
    ...routes,
    'POST /reload': async (request) => {
      const t0 = performance.now();
      try {
        const answer = await reloadRoute(request);
        if ('body' in answer) logging.onResult(answer.body as ReloadResult, performance.now() - t0);
        return answer;
      } catch (error) {
        logging.onError(error);
        throw error;
      }
    },
    ...extra,
  };
}
