import { isHendrixError } from '../errors/hendrix-error.js';
import type { Orchestrator, TransitionEvent, WaitingEvent } from '../runtime/orchestrator.js';
import type { ReloadResult } from '../runtime/reload.js';
import { createEventLog, type EventLog } from './events.js';
import { toAdminError } from './status.js';

/** The state of the instance as status shows it. */
export type InstanceState = 'starting' | 'running' | 'reloading' | 'stopping';

/** How an instance reports its reloads (the CLI's reload logging has this shape). */
export interface ReloadOutcomes {
  onResult(result: ReloadResult, ms: number): void;
  onError(error: unknown): void;
}

/**
 * The admin board of a running instance: its event log, its state (starting, running,
 * reloading, stopping) and its reload counts. It learns what happens from the orchestrator
 * (watch), from the reloads (reloading, reloadOutcomes) and from the CLI (setState,
 * operation), and is what {@link createLocalSource} builds status and metrics from.
 */
export interface Board {
  readonly events: EventLog;
  readonly state: InstanceState;
  /** Reloads applied and failed since the instance started. */
  readonly reloads: { readonly applied: number; readonly failed: number };
  /** Changes the instance state; an `instance` event says so (not for `reloading`, which the reload events say). */
  setState(state: InstanceState, data?: Readonly<Record<string, unknown>>): void;
  /** Records an operation asked through the admin API (an `operation` event). */
  operation(op: 'restart' | 'stop' | 'start' | 'stop-graph', service?: string): void;
  /** Turns the orchestrator's transitions and waiting reasons into events; returns the unsubscribe function. */
  watch(orchestrator: Orchestrator, baseDir: () => string): () => void;
  /** Wraps the reload outcomes of the CLI so that each applied or failed reload is an event too. */
  reloadOutcomes(inner: ReloadOutcomes): ReloadOutcomes;
  /**
   * Hears a reload that may change the graph begin (true; a `reload` event, phase `begin`) and
   * end (false): the reloader's `onReloading`. Its outcome comes through reloadOutcomes.
   */
  reloading(on: boolean): void;
}

/** The data of a transition event: what the orchestrator said, the error as the admin API shows errors. */
export function transitionData(event: TransitionEvent, baseDir: string): Record<string, unknown> {
  const error = toAdminError(event.error, baseDir);
  return {
    service: event.service,
    kind: event.kind,
    from: event.from,
    to: event.to,
    ...(event.ms !== undefined ? { ms: Math.round(event.ms) } : {}),
    ...(error ? { error } : {}),
    ...(event.attempt !== undefined ? { attempt: event.attempt } : {}),
    ...(event.delay !== undefined ? { delay: Math.round(event.delay) } : {}),
  };
}

/** Builds the board of an instance (with a fresh event log unless one is given). */
export function createBoard(options: { events?: EventLog; baseDir?: () => string } = {}): Board {
  const events = options.events ?? createEventLog();
  const baseDir = options.baseDir ?? (() => process.cwd());
  let state: InstanceState = 'starting';
  const reloads = { applied: 0, failed: 0 };
  // a reload that began and has no outcome yet (a dry run never begins: its outcome is no event)
  let begun = false;
  const settle = () => {
    if (state === 'reloading') state = 'running';
  };
  return {
    events,
    get state() {
      return state;
    },
    reloads,
    setState(next, data = {}) {
      if (next === state) return;
      // a reloader that says its begin itself (the primary's) instead of through reloading()
      if (next === 'reloading') begun = true;
      state = next;
      if (next !== 'reloading') events.push('instance', { state: next, ...data });
    },
    operation(op, service) {
      events.push('operation', { op, ...(service !== undefined ? { service } : {}) });
    },
    watch(orchestrator, dir) {
      const onTransition = (event: TransitionEvent) => events.push('transition', transitionData(event, dir()));
      const onWaiting = (event: WaitingEvent) => events.push('waiting', { service: event.service, kind: event.kind, reason: event.reason });
      orchestrator.on('transition', onTransition);
      orchestrator.on('waiting', onWaiting);
      return () => {
        orchestrator.off('transition', onTransition);
        orchestrator.off('waiting', onWaiting);
      };
    },
    reloadOutcomes(inner) {
      return {
        onResult(result, ms) {
          if (result.applied) {
            reloads.applied++;
            events.push('reload', { phase: 'applied', steps: result.report?.steps ?? [], ms: Math.round(ms), fingerprint: result.fingerprint });
          } else if (begun) events.push('reload', { phase: 'unchanged', ms: Math.round(ms) });
          begun = false;
          settle();
          inner.onResult(result, ms);
        },
        onError(error) {
          // a dry run that failed (the edited manifest has problems) changed nothing: no event
          if (!begun) return inner.onError(error);
          reloads.failed++;
          begun = false;
          settle();
          events.push('reload', { phase: 'failed', error: toAdminError(error, baseDir()) ?? { code: isHendrixError(error) ? error.code : 'HX_ERR_INTERNAL', message: String(error) } });
          inner.onError(error);
        },
      };
    },
    reloading(on) {
      if (on) {
        begun = true;
        if (state === 'running') state = 'reloading';
        events.push('reload', { phase: 'begin' });
      } else settle();
    },
  };
}
