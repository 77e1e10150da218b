import type { Logger } from 'pino';
import { HendrixError } from '../errors/hendrix-error.js';
import type { PlanFileRole } from '../kinds/contract.js';
import type { ReloadStep } from '../runtime/orchestrator-reload.js';
import { createPlan, type Plan, type PlanOptions } from '../runtime/plan.js';
import type { PlanDiff } from '../runtime/plan-diff.js';
import { checkReplaced, createReloadQueue, type Reloader, type ReloadOptions, type ReloadResult } from '../runtime/reload.js';
import type { CoordinatorHost } from './coordinator-host.js';
import { placeServices, runsOf, type Placement } from './placement.js';
import type { Primary } from './primary.js';

/** Files whose change means new code: a worker's heap keeps every module it imported, so new code gets a new process. */
const CODE_ROLES: ReadonlySet<PlanFileRole> = new Set(['app', 'module', 'kind']);

/**
 * Whether a diff needs the workers replaced (a rolling reload) rather than the change applied
 * in place in each: new code for a per-worker service, or a change its kind can only apply by
 * replacing the instance (its listening socket belongs to the cluster, not to one worker).
 */
export function needsRoll(diff: PlanDiff, next: Plan): boolean {
  return diff.changed.some((c) => {
    const service = next.services.get(c.name);
    if (!service || runsOf(service) !== 'each') return false;
    return c.mode === 'replace' || c.files.some((f) => CODE_ROLES.has(f.role));
  });
}

/**
 * The diff as a rolling reload applies it: a changed per-worker service gets a new instance in
 * each new worker, so it is shown (`hendrix reload --dry-run`) and reported as replaced, not
 * reloaded in place as its kind would in one process.
 */
export function asRolled(diff: PlanDiff, next: Plan): PlanDiff {
  const each = (name: string): boolean => {
    const service = next.services.get(name);
    return service !== undefined && runsOf(service) === 'each';
  };
  return {
    ...diff,
    changed: diff.changed.map((c) => (each(c.name) ? { ...c, mode: 'replace' as const } : c)),
    order: diff.order.map((step) => (step.action === 'reload' && each(step.service) ? { ...step, action: 'replace' as const } : step)),
  };
}

/** What the primary's reloader needs. */
export interface PrimaryReloaderOptions {
  readonly files: readonly string[];
  readonly planOptions: PlanOptions;
  readonly plan: Plan;
  readonly selected: readonly string[];
  readonly primary: Primary;
  readonly coordinators: CoordinatorHost;
  readonly logger: Logger;
  readonly onResult?: ((result: ReloadResult, ms: number) => void) | undefined;
  readonly onError?: ((error: unknown) => void) | undefined;
  /** Hears each reload that is not a dry run begin (true) and end (false): systemd's RELOADING=1 / READY=1. */
  readonly onReloading?: ((reloading: boolean) => void) | undefined;
}

/**
 * The reloader of a graph served by workers, with the same face as a single process's
 * (`hendrix reload`, SIGHUP, `--watch` use it alike): the primary builds the next plan without
 * importing app code, diffs it, and either replaces the workers one at a time (new code, or a
 * change only a new instance can take) or has every process apply the diff in place, one after
 * the other, reverting those done when one fails. The once process always reloads in place.
 */
export function createPrimaryReloader(options: PrimaryReloaderOptions): Reloader {
  let plan = options.plan;
  const listeners: ((plan: Plan) => void)[] = [];
  const log = options.logger.child({ service: 'hendrix' });
  const { primary } = options;

  const run = async (opts: ReloadOptions): Promise<ReloadResult> => {
    const t0 = performance.now();
    const next = await createPlan(options.files, { ...options.planOptions, importModules: false });
    const replace = opts.replace;
    checkReplaced(replace, next);
    const placement: Placement = placeServices(next, options.selected.length ? next.graph.closure([...options.selected]) : next.order);
    if (next.manifest.workers !== plan.manifest.workers && !opts.dryRun) {
      log.warn({ workers: next.manifest.workers }, 'a change of `workers` applies at the next start: the worker count stays as it is');
    }
    const { diffPlans } = await import('../runtime/plan-diff.js');
    const changes = diffPlans(plan, next);
    const forced = replace === true || (Array.isArray(replace) && replace.length > 0);
    const replacedEach = replace === true || (Array.isArray(replace) && replace.some((n) => placement.runs.get(n) === 'each'));
    const roll = replacedEach || needsRoll(changes, next);
    // what --dry-run shows is what will be done: a roll gives the per-worker services new instances
    const diff = roll ? asRolled(changes, next) : changes;
    if (opts.dryRun || (diff.empty && !forced)) return { diff, applied: false, fingerprint: plan.fingerprint };
    const steps: ReloadStep[] = [];
    if (roll) {
      for (const r of await primary.roll('each')) steps.push({ service: `worker ${r.worker}`, action: 'replace', ms: r.ms });
      const onceReplace = replace === true ? true : Array.isArray(replace) ? replace.filter((n) => placement.runs.get(n) === 'once') : undefined;
      const once = await primary.reloadInPlace({ ...(onceReplace === undefined ? {} : { replace: onceReplace }) }, 'once');
      for (const r of once) steps.push(...(r.result.steps as ReloadStep[]));
    } else {
      const seen = new Set<string>();
      for (const r of await primary.reloadInPlace({ ...(replace === undefined ? {} : { replace }) })) {
        // every worker takes the same steps: the first one's say what was done
        for (const step of r.result.steps as ReloadStep[]) {
          if (seen.has(step.service)) continue;
          seen.add(step.service);
          steps.push(step);
        }
      }
    }
    for (const c of diff.changed) options.coordinators.reload(c.name, next.services.get(c.name)?.config);
    primary.setPlan(next, placement);
    plan = next;
    for (const l of listeners) l(next);
    return { diff, applied: true, report: { steps, ms: performance.now() - t0 }, fingerprint: next.fingerprint };
  };

  const queue = createReloadQueue(run, options, log);
  return {
    get plan() {
      return plan;
    },
    reload: queue.reload,
    request: queue.request,
    onPlan(listener) {
      listeners.push(listener);
    },
    revert: () => Promise.reject(new HendrixError('HX_ERR_USAGE', { message: 'the primary reverts through its workers' })),
  };
}
