import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { HendrixError } from '../errors/hendrix-error.js';
import type { Logger } from '../log/logger.js';
import { createControlServer, type ControlHandler, type ControlRoutes, type ControlServer } from '../runtime/control-socket.js';
import type { Plan } from '../runtime/plan.js';
import { ADMIN_ROUTES } from '../admin/route-names.js';
import { controlPathOf } from './control.js';

/**
 * The control socket of `hendrix up`, opened while the plan is built (start-up is a feature:
 * binding it costs a few milliseconds that overlap the plan instead of adding to it). The path
 * is the one the manifest folder gives, or `--control`; when the manifest's `control.path`
 * names another one, the socket moves there once the plan has said so. Requests that come
 * before the graph runs are refused as "still starting".
 */
export interface UpControl {
  /** Gives the routes their handlers, once the graph exists. */
  serve(routes: ControlRoutes): void;
  /**
   * Settles where the socket is for this plan and resolves once it listens there; rejects with
   * HX_ERR_CONTROL_IN_USE when another instance runs for this manifest (nothing started yet).
   */
  ready(plan: Plan, logger: Logger): Promise<ControlServer>;
  /** Stops listening and removes the socket file (also when it never came to listen). */
  close(): Promise<void>;
}

/**
 * The routes `hendrix up` serves on its control socket (the server takes its routes when it
 * opens, before the plan says whether the graph has workers: `GET /workers` is the primary's):
 * the instance's own and the admin API's (docs/admin-api.md).
 */
const ROUTES = ['POST /reload', 'GET /plan', 'GET /workers', ...ADMIN_ROUTES, 'GET /dashboard'] as const;

/** The folder a manifest argument stands for: a folder given as it is, else the file's folder. */
function baseDirOf(file: string, cwd: string): string {
  const path = resolve(cwd, file);
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ? path : dirname(path);
}

/** Opens the control socket of `hendrix up` at the path its arguments give (see UpControl). */
export function openUpControl(options: { files: readonly string[]; flag: string | undefined; cwd: string; env: NodeJS.ProcessEnv }): UpControl {
  const { files, flag, cwd, env } = options;
  let log: Logger | undefined;
  // the control server logs through the root logger, which exists only once the plan is made
  const forward = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => (log?.[level] as ((...a: unknown[]) => void) | undefined)?.call(log, ...args);
  const proxy = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') } as unknown as Logger;
  let handlers: ControlRoutes = {};
  let served = false;
  const lazy = (key: string): ControlHandler => (request) => {
    const handler = handlers[key];
    if (!handler && served) throw new HendrixError('HX_ERR_CONTROL_REQUEST', { message: `no control route ${key}: this instance runs in one process`, hint: 'GET /workers answers when the graph runs in workers (`workers:` above 1)' });
    if (!handler) throw new HendrixError('HX_ERR_RELOAD_REFUSED', { message: 'the graph is still starting: try again once `hendrix up` says ready' });
    return handler(request);
  };
  const routes = Object.fromEntries(ROUTES.map((key) => [key, lazy(key)]));
  /** A control server at `path` (undefined when the path itself is refused) and its listen, already under way. */
  type Opened = { path: string | undefined; server: ControlServer | undefined; listening: Promise<ControlServer> };
  const open = (path: () => string): Opened => {
    let opened: Opened;
    try {
      const at = path();
      const server = createControlServer({ path: at, routes, log: proxy });
      opened = { path: at, server, listening: server.listen().then(() => server) };
    } catch (error) {
      opened = { path: undefined, server: undefined, listening: Promise.reject(error) };
    }
    opened.listening.catch(() => undefined); // awaited by ready(); a plan that fails first closes it
    return opened;
  };
  let current = open(() => (flag ? resolve(cwd, flag) : controlPathOf(baseDirOf(files[0] ?? 'hendrix.yaml', cwd), undefined, undefined, cwd, env)));

  return {
    serve(next) {
      handlers = next;
      served = true;
    },
    async ready(plan, logger) {
      log = logger.child({ service: 'hendrix' });
      const path = controlPathOf(plan.baseDir, plan.manifest.control.path, flag, cwd, env);
      if (path !== current.path) {
        // the manifest names another socket: the one opened from the arguments gives way
        await current.listening.catch(() => undefined);
        await current.server?.close();
        current = open(() => path);
      }
      return current.listening;
    },
    async close() {
      await current.listening.catch(() => undefined);
      await current.server?.close().catch(() => undefined);
    },
  };
}
