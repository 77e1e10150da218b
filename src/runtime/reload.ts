import type { Logger } from 'pino';
import { HendrixError } from '../errors/hendrix-error.js';
import type { Orchestrator, ServicePlan } from './orchestrator.js';
import type { ChangeMode, ReloadReport, ReloadSpec } from './orchestrator-reload.js';
import { createPlan, type Plan, type PlanOptions } from './plan.js';
import type { PlanDiff } from './plan-diff.js';

/** What one reload is asked to do. */
export interface ReloadOptions {
  /** Only build the next plan and diff it; change nothing. */
  readonly dryRun?: boolean | undefined;
  /**
   * Replace instead of reloading in place: `true` replaces every changed service, a list
   * replaces those services (changed or not) — a clean instance, e.g. after many app reloads.
   */
  readonly replace?: boolean | readonly string[] | undefined;
}

/** What a reload did (or, dry, would do). */
export interface ReloadResult {
  /** The running plan against the next one. */
  readonly diff: PlanDiff;
  /** False for a dry run and for a reload with nothing to change. */
  readonly applied: boolean;
  /** The steps taken, when applied. */
  readonly report?: ReloadReport | undefined;
  /** The fingerprint of the plan the graph runs afterwards. */
  readonly fingerprint: string;
}

/** Reloads a running graph from its manifest files; one at a time. */
export interface Reloader {
  /** The plan the graph runs now. */
  readonly plan: Plan;
  /**
   * Builds the next plan from the same files, `--env`, `--set` and environment (`.env` files
   * re-read), diffs it, and applies it. A problem in the next plan changes nothing and rejects
   * with it (HX_ERR_MANIFEST, exit 78); a failed step rolls back and rejects with
   * HX_ERR_RELOAD_FAILED. Calls wait for the reload before them.
   */
  reload(options?: ReloadOptions): Promise<ReloadResult>;
  /**
   * A reload for a signal or a file watcher: queued behind the one running, and coalesced (a
   * second request while one is queued is the same reload). Never rejects: outcomes go to
   * `onResult`/`onError`.
   */
  request(): void;
  /** Listens to each plan the graph starts to run. */
  onPlan(listener: (plan: Plan) => void): void;
  /**
   * Applies the plan the graph ran before the last applied reload (a worker's part of a reload
   * that failed in another worker); nothing when no reload was applied yet.
   */
  revert(): Promise<ReloadResult>;
}

/** What createReloader needs. */
export interface ReloaderOptions {
  /** The manifest files the graph was started with. */
  readonly files: readonly string[];
  /** The plan options it was started with (cwd, env, set, environment, kinds). */
  readonly planOptions: PlanOptions;
  /** The plan it runs. */
  readonly plan: Plan;
  readonly orchestrator: Orchestrator;
  readonly logger: Logger;
  /** Outcomes of `request()`. */
  readonly onResult?: ((result: ReloadResult, ms: number) => void) | undefined;
  readonly onError?: ((error: unknown) => void) | undefined;
  /**
   * Called with true when a reload (not a dry run) begins, before its plan is built, and with
   * false when it has ended however it ended: the systemd notifier's RELOADING=1 and READY=1.
   */
  readonly onReloading?: ((reloading: boolean) => void) | undefined;
  /** Turns each next plan into the one this process runs (a worker's: src/workers/placement.ts). */
  readonly transform?: ((plan: Plan) => Plan) | undefined;
}

/** Refuses a `--replace` list naming a service the next plan does not declare (HX_ERR_UNKNOWN_SERVICE). */
export function checkReplaced(replace: ReloadOptions['replace'], next: Plan): void {
  if (!Array.isArray(replace)) return;
  for (const name of replace) {
    if (!next.services.has(name)) {
      throw new HendrixError('HX_ERR_UNKNOWN_SERVICE', { message: `--replace names \`${name}\`, which the manifest does not declare`, hint: `services: ${[...next.services.keys()].join(', ')}` });
    }
  }
}

/** Builds the spec the orchestrator applies from a diff of two plans. */
export function toReloadSpec(next: Plan, diff: PlanDiff, replace: ReloadOptions['replace'], isCoreOnly: (change: PlanDiff['changed'][number]) => boolean): ReloadSpec {
  const services: ServicePlan[] = [...next.services.values()].map((s) => ({ name: s.name, kind: s.kind, config: s.config, location: s.location }));
  const forced = new Set(Array.isArray(replace) ? replace : []);
  const changed = new Map<string, ChangeMode>();
  for (const c of diff.changed) changed.set(c.name, replace === true || forced.has(c.name) ? 'replace' : c.mode === 'replace' ? 'replace' : isCoreOnly(c) ? 'core' : 'in-place');
  for (const name of forced) if (next.services.has(name)) changed.set(name, 'replace');
  // the diff lists removed services' stops dependents first
  const removed = diff.order.filter((step) => step.action === 'stop').map((step) => step.service);
  return { services, graph: next.graph, order: next.order, changed, removed };
}

/** Builds the reloader of a running graph. */
export function createReloader(options: ReloaderOptions): Reloader {
  let plan = options.plan;
  let previous: Plan | undefined;
  const listeners: ((plan: Plan) => void)[] = [];
  const log = options.logger.child({ service: 'hendrix' });

  const run = async (opts: ReloadOptions, given?: Plan): Promise<ReloadResult> => {
    const built = given ?? (await createPlan(options.files, { ...options.planOptions, preload: true }));
    const next = given ?? options.transform?.(built) ?? built;
    const replace = opts.replace;
    checkReplaced(replace, next);
    // the diff is loaded with the first reload: a graph that never reloads does not pay for it at start
    const { diffPlans, isCoreOnly } = await import('./plan-diff.js');
    const diff = diffPlans(plan, next);
    const forced = Array.isArray(replace) && replace.length > 0;
    if (opts.dryRun || (diff.empty && !forced)) return { diff, applied: false, fingerprint: plan.fingerprint };
    const report = await options.orchestrator.reload(toReloadSpec(next, diff, replace, isCoreOnly));
    previous = plan;
    plan = next;
    for (const l of listeners) l(next);
    return { diff, applied: true, report, fingerprint: next.fingerprint };
  };

  const queue = createReloadQueue((opts) => run(opts), options, log);
  return {
    get plan() {
      return plan;
    },
    reload: queue.reload,
    request: queue.request,
    onPlan(listener) {
      listeners.push(listener);
    },
    revert: () =>
      queue.enqueue(async () => {
        if (!previous) return run({ dryRun: true }, plan);
        return run({}, previous);
      }),
  };
}

/**
 * The queue every reloader puts its reloads through: one at a time, in order; `request()` (a
 * signal, a watcher) coalesces with one already queued and reports to `onResult`/`onError`;
 * `onReloading` hears each reload that is not a dry run begin and end.
 */
export function createReloadQueue(
  runPlain: (options: ReloadOptions) => Promise<ReloadResult>,
  outcomes: Pick<ReloaderOptions, 'onResult' | 'onError' | 'onReloading'>,
  log: Logger,
): { enqueue<T>(task: () => Promise<T>): Promise<T>; reload(options?: ReloadOptions): Promise<ReloadResult>; request(): void } {
  // every reload that may change the graph, told from its start to its end (a dry run is not one)
  const run = async (opts: ReloadOptions): Promise<ReloadResult> => {
    if (opts.dryRun || outcomes.onReloading === undefined) return runPlain(opts);
    outcomes.onReloading(true);
    try {
      return await runPlain(opts);
    } finally {
      outcomes.onReloading(false);
    }
  };
  let chain: Promise<unknown> = Promise.resolve();
  let queued = false;
  const enqueue = <T>(task: () => Promise<T>): Promise<T> => {
    const result = chain.then(task, task);
    chain = result.catch(() => undefined);
    return result;
  };
  return {
    enqueue,
    reload: (opts = {}) => enqueue(() => run(opts)),
    request() {
      if (queued) return void log.info('reload already queued');
      queued = true;
      void enqueue(async () => {
        queued = false;
        const t0 = performance.now();
        try {
          const result = await run({});
          outcomes.onResult?.(result, performance.now() - t0);
        } catch (error) {
          outcomes.onError?.(error);
        }
      });
    },
  };
}
