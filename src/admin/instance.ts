import type { Logger } from '../log/logger.js';
import type { ControlHandler, ControlRoutes } from '../runtime/control-routes.js';
import type { Orchestrator } from '../runtime/orchestrator.js';
import type { Plan } from '../runtime/plan.js';
import { createBoard, type Board } from './board.js';
import { ADMIN_ROUTES } from './route-names.js';
import type { AdminListener } from './tcp.js';

/** The admin API of a graph running in one process (`hendrix up`), as up.ts wires it. */
export interface InstanceAdmin {
  readonly board: Board;
  /** The admin routes and `GET /dashboard`, to serve beside the instance's own (reload, plan). */
  readonly routes: ControlRoutes;
  /** What a `POST /stop` does: `stop` is called at once if one came before this call. */
  onStop(stop: () => void): void;
  /**
   * Once the control socket listens: remembers its path for status, and opens the TCP admin
   * listener when the manifest has `admin.listen` (HX_ERR_ADMIN_LISTEN when it cannot), serving
   * `routes` — the control socket's whole table.
   */
  listen(options: { control: string; routes: ControlRoutes; plan: Plan; log: Logger }): Promise<AdminListener | undefined>;
  /** Ends the event streams and closes the TCP listener. */
  close(): Promise<void>;
}

/** Builds the admin API of one process; `plan` is the plan the graph runs now (the reloader's). */
export function createInstanceAdmin(options: { orchestrator: Orchestrator; plan: () => Plan; env?: string | undefined; startedAt?: number }): InstanceAdmin {
  const board = createBoard({ baseDir: () => options.plan().baseDir });
  let control: string | undefined;
  let stop: (() => void) | undefined;
  let stopAsked = false;
  let tcp: AdminListener | undefined;
  const startedAt = options.startedAt ?? Date.now();
  // the routes' code (status, metrics, the page) is loaded at the first admin request, not at
  // start-up; the board records events from the start
  let loaded: Promise<ControlRoutes> | undefined;
  const load = (): Promise<ControlRoutes> =>
    (loaded ??= Promise.all([import('./local-source.js'), import('./routes.js'), import('./dashboard.js')]).then(([local, routes, page]) => {
      const source = local.createLocalSource({
        orchestrator: options.orchestrator,
        plan: options.plan,
        board,
        env: options.env,
        control: () => control,
        startedAt,
        stopAll: () => (stop ? stop() : void (stopAsked = true)),
      });
      return { ...routes.adminRoutes(source, board.events), 'GET /dashboard': page.dashboardRoute() };
    }));
  const lazy = (key: string): ControlHandler => async (request) => (await load())[key]!(request);
  return {
    board,
    routes: Object.fromEntries([...ADMIN_ROUTES, 'GET /dashboard'].map((key) => [key, lazy(key)])),
    onStop(fn) {
      stop = fn;
      if (stopAsked) fn();
    },
    async listen({ control: path, routes, plan, log }) {
      control = path;
      // the TCP listener's code is loaded only by a manifest that asks for it
      if (plan.manifest.admin.listen === undefined) return undefined;
      const { openAdminListener } = await import('./tcp.js');
      tcp = await openAdminListener({ plan, routes, log });
      return tcp;
    },
    async close() {
      board.events.close();
      await tcp?.close();
    },
  };
}
