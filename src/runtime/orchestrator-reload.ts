import type { Logger } from 'pino';
import { HendrixError } from '../errors/hendrix-error.js';
import type { Service } from '../kinds/contract.js';
import type { Graph } from './graph-types.js';
import type { ServicePlan } from './orchestrator.js';
import type { InstanceCell, Slot } from './orchestrator-slot.js';

/**
 * Applying a reload to a running graph, in two phases. Prepare: removed services stop,
 * dependents first (so that an added service may take a port a removed one had); then, in the
 * next start order, added services start and changed ones are reloaded in place or replaced
 * (the new instance starts while the old one still serves, then takes its place; dependents
 * rebind to it, or are replaced too when their kind cannot rebind). No replaced instance is
 * stopped yet, so any failure can be undone: every step taken is reverted in reverse order (a
 * removed service starts again) and the previous graph serves on. Commit: the graph takes the
 * next topology, and replaced instances drain and stop.
 */

/** How one changed service is applied. */
export type ChangeMode = 'in-place' | 'replace' | 'core';

/** What a reload applies: the next plan's services and graph, and what changed. */
export interface ReloadSpec {
  /** Every service the graph runs after the reload. */
  readonly services: readonly ServicePlan[];
  /** The next dependency graph. */
  readonly graph: Graph;
  /** The next start order of the services run (dependencies first). */
  readonly order: readonly string[];
  /** Changed services and how each is applied (`core`: only fields the orchestrator applies). */
  readonly changed: ReadonlyMap<string, ChangeMode>;
  /** Services of the running graph that the next plan drops, dependents first. */
  readonly removed: readonly string[];
}

/** One step a reload took. */
export interface ReloadStep {
  readonly service: string;
  /** start (added), reload (in place), replace, rebind (a dependent re-attached), update (core fields), stop (removed). */
  readonly action: 'start' | 'reload' | 'replace' | 'rebind' | 'update' | 'stop';
  /** How long it took. */
  readonly ms: number;
  /** For a replacement the kind did not ask for: why (`depends on web, replaced`). */
  readonly reason?: string;
}

/** What a reload did. */
export interface ReloadReport {
  readonly steps: readonly ReloadStep[];
  readonly ms: number;
}

/** An instance built (not started yet, or started and not in its slot yet). */
export interface BuiltInstance {
  readonly instance: Service;
  readonly cell: InstanceCell;
}

/** What the orchestrator lends a reload: its slots and its bounded lifecycle calls. */
export interface ReloadHost {
  readonly log: Logger;
  now(): number;
  /** True while the graph runs (not starting, not stopping). */
  running(): boolean;
  slot(name: string): Slot | undefined;
  /** Adds a slot for an added service (waiting; the reload pins it); its deps are those of the next graph. */
  addSlot(plan: ServicePlan, deps: readonly string[]): Slot;
  /** Takes a slot out of the graph (added by a rolled-back reload, or removed by a reload). */
  dropSlot(slot: Slot): void;
  /** Builds an instance of `plan` for the slot; throws the create error. */
  build(slot: Slot, plan: ServicePlan, deps: readonly string[]): Promise<BuiltInstance>;
  /**
   * Starts `built` bounded by the plan's startTimeout; throws the start error. `install`: the
   * instance becomes the slot's own first (an added or revived service, whose state shows the
   * start); otherwise it starts beside the running one (a replacement).
   */
  start(slot: Slot, built: BuiltInstance, plan: ServicePlan, install: boolean): Promise<void>;
  /** Runs `call` (reload, rebind) on the slot's instance, bounded by `timeout`; throws a HendrixError. */
  call(slot: Slot, what: 'reload' | 'rebind', timeout: number, call: (signal: AbortSignal) => Promise<void>): Promise<void>;
  /** Stops an instance that is not the slot's running one, bounded; logs what fails, never throws. */
  stopAside(slot: Slot, built: BuiltInstance, plan: ServicePlan): Promise<void>;
  /** Stops the slot's own instance (a rolled-back added or revived service); never throws. */
  stopInstalled(slot: Slot): Promise<void>;
  /** Puts a started replacement in the slot; returns what it replaced. */
  swap(slot: Slot, built: BuiltInstance, plan: ServicePlan): BuiltInstance;
  /** Gives the slot its previous plan (and supervisor, when the restart policy changed). */
  setPlan(slot: Slot, plan: ServicePlan): void;
  /** Lets the old instance of a replaced service drain and stop, in the background. */
  retire(slot: Slot, old: BuiltInstance, plan: ServicePlan): void;
  /** The graph takes the next topology and order (removed services have left it). */
  commit(spec: ReloadSpec): void;
  /** The reload is done with the slot: the reconciler takes it back. */
  unpin(slot: Slot): void;
}

type Undo = { readonly what: string; readonly run: () => Promise<void> };

/** What one reload keeps as it goes: the host, the steps taken, how to undo them, what to drain at the commit. */
interface ReloadRun {
  readonly host: ReloadHost;
  readonly steps: ReloadStep[];
  readonly undo: Undo[];
  /** The old instances of replaced services: they drain once the reload commits. */
  readonly retire: { slot: Slot; old: BuiltInstance; plan: ServicePlan }[];
  /** Services to be replaced because a dependency was replaced and their kind cannot rebind: why. */
  readonly cascade: Map<string, string>;
  /** Takes a slot out of the reconciler's hands until the reload is done. */
  pin(slot: Slot): Slot;
}

/**
 * `hendrix up web`: a reload keeps running only what `web` needs in the next graph; running
 * services outside that are removed (after the spec's own removals, dependents first).
 */
export function selectSpec(spec: ReloadSpec, only: readonly string[] | undefined, running: readonly string[]): ReloadSpec {
  if (!only) return spec;
  const chosen = new Set(spec.graph.closure(only.filter((n) => spec.graph.nodes.includes(n))));
  const dropped = [...running].reverse().filter((n) => !chosen.has(n) && !spec.removed.includes(n));
  return {
    services: spec.services.filter((p) => chosen.has(p.name)),
    graph: spec.graph,
    order: spec.order.filter((n) => chosen.has(n)),
    changed: new Map([...spec.changed].filter(([n]) => chosen.has(n))),
    removed: [...spec.removed.filter((n) => running.includes(n)), ...dropped],
  };
}

/** Applies a reload; throws HX_ERR_RELOAD_FAILED (after rolling back) when a step fails. */
export async function applyReload(host: ReloadHost, spec: ReloadSpec): Promise<ReloadReport> {
  const t0 = host.now();
  const pinned: Slot[] = [];
  const pin = (slot: Slot): Slot => {
    if (!slot.pinned) (slot.pinned = true), pinned.push(slot);
    return slot;
  };
  const run: ReloadRun = { host, steps: [], undo: [], retire: [], cascade: new Map(), pin };
  const { steps, undo, retire, cascade } = run;
  const plans = new Map(spec.services.map((p) => [p.name, p]));
  const depsOf = (name: string) => spec.graph.dependencies(name).filter((d) => plans.has(d));
  const step = async (service: string, action: ReloadStep['action'], run: () => Promise<void>, reason?: string): Promise<void> => {
    const started = host.now();
    await run();
    steps.push({ service, action, ms: host.now() - started, ...(reason ? { reason } : {}) });
  };

  try {
    for (const name of spec.removed) {
      const slot = host.slot(name);
      if (!slot) continue;
      pin(slot);
      if (!slot.live) continue;
      await step(name, 'stop', () => host.stopInstalled(slot));
      undo.push({ what: `start ${name} again (the reload removed it)`, run: () => startInstalled(host, slot, slot.plan) });
    }
    for (const name of spec.order) {
      if (!host.running()) throw refused();
      const plan = plans.get(name);
      if (!plan) continue;
      const existing = host.slot(name);
      const mode = cascade.has(name) ? 'replace' : spec.changed.get(name);
      if (!existing) {
        const slot = pin(host.addSlot(plan, depsOf(name)));
        undo.push({ what: `stop ${name} (added)`, run: async () => (await host.stopInstalled(slot), host.dropSlot(slot)) });
        await step(name, 'start', () => startInstalled(host, slot, plan));
        continue;
      }
      if (mode === undefined) continue;
      const slot = pin(existing);
      const previous = slot.plan;
      if (parkedUnder(host, slot)) {
        // stopped by the operator (or waiting for a service that is): the change applies when it starts
        host.setPlan(slot, plan);
        if (slot.cell) slot.cell.deps = depsOf(name);
        undo.push({ what: `restore ${name}'s settings`, run: async () => host.setPlan(slot, previous) });
        steps.push({ service: name, action: 'update', ms: 0, reason: 'stopped by the operator: applies when it starts' });
        continue;
      }
      if (slot.state !== 'ready') {
        // failed, stopped or waiting for a restart: the next plan gets a fresh start
        const { state, terminal } = slot;
        undo.push({
          what: `stop ${name} (restarted by the reload)`,
          run: async () => {
            await host.stopInstalled(slot);
            host.setPlan(slot, previous);
            slot.state = state;
            slot.terminal = terminal;
          },
        });
        host.setPlan(slot, plan);
        await step(name, 'start', () => startInstalled(host, slot, plan));
        continue;
      }
      if (mode === 'core') {
        host.setPlan(slot, plan);
        if (slot.cell) slot.cell.deps = depsOf(name);
        undo.push({ what: `restore ${name}'s settings`, run: async () => host.setPlan(slot, previous) });
        steps.push({ service: name, action: 'update', ms: 0 });
        continue;
      }
      if (mode === 'in-place' && slot.instance?.reload) {
        const instance = slot.instance;
        const cell = slot.cell!;
        const oldDeps = cell.deps;
        cell.deps = depsOf(name);
        await step(name, 'reload', () => host.call(slot, 'reload', plan.config.startTimeout, (signal) => instance.reload!(plan.config, signal)));
        cell.config = plan.config;
        host.setPlan(slot, plan);
        undo.push({
          what: `reload ${name} with its previous config`,
          run: async () => {
            await host.call(slot, 'reload', previous.config.startTimeout, (signal) => instance.reload!(previous.config, signal));
            cell.config = previous.config;
            cell.deps = oldDeps;
            host.setPlan(slot, previous);
          },
        });
        continue;
      }
      await step(name, 'replace', () => replace(run, slot, plan, depsOf(name)), cascade.get(name));
    }
  } catch (error) {
    const failed = await rollback(host, undo);
    for (const slot of pinned) host.unpin(slot);
    throw reloadFailed(error, failed, undo.length);
  }

  for (const name of spec.removed) {
    const slot = host.slot(name);
    if (slot) host.dropSlot(slot);
  }
  host.commit(spec);
  for (const r of retire) host.retire(r.slot, r.old, r.plan);
  for (const slot of pinned) host.unpin(slot);
  return { steps, ms: host.now() - t0 };
}

/** Builds and starts a service's own instance (added, or revived by the reload). */
async function startInstalled(host: ReloadHost, slot: Slot, plan: ServicePlan): Promise<void> {
  const built = await host.build(slot, plan, slot.deps);
  await host.start(slot, built, plan, true);
}

/**
 * Replaces a ready service: the new instance starts beside the old one (taking over its
 * listening sockets), takes its place, and its running dependents rebind to it — or, when
 * their kind cannot, are marked for replacement too.
 */
async function replace(run: ReloadRun, slot: Slot, plan: ServicePlan, deps: readonly string[]): Promise<void> {
  const { host, undo, retire, cascade, steps } = run;
  const previous = slot.plan;
  const built = await host.build(slot, plan, deps);
  try {
    await host.start(slot, built, plan, false);
  } catch (error) {
    await host.stopAside(slot, built, plan);
    throw error;
  }
  const old = host.swap(slot, built, plan);
  const rebound: Slot[] = [];
  undo.push({
    what: `put ${slot.name}'s previous instance back`,
    run: async () => {
      host.swap(slot, old, previous);
      for (const d of rebound) if (d.state === 'ready') await rebind(host, d, slot.name);
      await host.stopAside(slot, built, plan);
    },
  });
  retire.push({ slot, old, plan: previous });
  for (const name of slot.dependents) {
    const d = host.slot(name);
    if (!d || d.state !== 'ready' || cascade.has(name)) continue;
    if (!d.instance?.rebind) {
      cascade.set(name, `depends on ${slot.name}, which was replaced, and its kind cannot rebind`);
      continue;
    }
    run.pin(d);
    const t0 = host.now();
    await rebind(host, d, slot.name);
    rebound.push(d);
    steps.push({ service: name, action: 'rebind', ms: host.now() - t0 });
  }
}

/** Re-attaches a running dependent to `peer`'s instance now in the slot (bounded by its startTimeout). */
function rebind(host: ReloadHost, dependent: Slot, peer: string): Promise<void> {
  const instance = dependent.instance;
  if (!instance?.rebind) return Promise.resolve();
  return host.call(dependent, 'rebind', dependent.plan.config.startTimeout, (signal) => instance.rebind!(peer, signal));
}

/** Undoes the steps taken, newest first; returns the undo steps that failed. */
async function rollback(host: ReloadHost, undo: readonly Undo[]): Promise<HendrixError[]> {
  const failures: HendrixError[] = [];
  for (const u of [...undo].reverse()) {
    try {
      await u.run();
      host.log.info({ step: u.what }, 'rolled back');
    } catch (error) {
      const e = error instanceof HendrixError ? error : new HendrixError('HX_ERR_INTERNAL', { message: `rolling back failed: ${u.what}`, cause: error });
      failures.push(e);
      host.log.error({ err: e, step: u.what }, 'roll back step failed');
    }
  }
  return failures;
}

function refused(): HendrixError {
  return new HendrixError('HX_ERR_RELOAD_REFUSED', { message: 'the graph began to stop during the reload: the reload was rolled back' });
}

function reloadFailed(error: unknown, rollbackFailures: readonly HendrixError[], undone: number): HendrixError {
  const cause = error instanceof HendrixError ? error : new HendrixError('HX_ERR_INTERNAL', { message: 'internal error during the reload', cause: error });
  if (cause.code === 'HX_ERR_RELOAD_REFUSED') return cause;
  const what = undone === 0 ? 'nothing had changed yet' : `${undone} step${undone === 1 ? '' : 's'} rolled back`;
  return new HendrixError('HX_ERR_RELOAD_FAILED', {
    message: `reload failed: ${cause.message} (${what}; the previous graph keeps serving${rollbackFailures.length ? `, but ${rollbackFailures.length} roll back step(s) failed too` : ''})`,
    ...(cause.service ? { service: cause.service } : {}),
    ...(cause.location ? { location: cause.location } : {}),
    ...(cause.path ? { path: cause.path } : {}),
    cause: rollbackFailures.length ? new AggregateError([cause, ...rollbackFailures], cause.message) : cause,
    ...(cause.hint ? { hint: cause.hint } : {}),
  });
}

/** Whether a service is kept stopped by stopService(): itself, or a dependency it waits for. */
function parkedUnder(host: ReloadHost, slot: Slot, seen = new Set<string>()): boolean {
  if (slot.parked) return true;
  if (slot.state === 'ready' || seen.has(slot.name)) return false;
  seen.add(slot.name);
  return slot.deps.some((d) => {
    const dep = host.slot(d);
    return dep !== undefined && parkedUnder(host, dep, seen);
  });
}
