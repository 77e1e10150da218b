import { HendrixError } from '../errors/hendrix-error.js';
import type { ServiceState, TransitionEvent } from './orchestrator.js';
import type { Slot } from './orchestrator-slot.js';
import { createSupervisor } from './supervisor.js';

/**
 * The operations on one service the admin API asks of a running graph (`hendrix stop web`,
 * `start`, `restart`), over what the engine lends them. They only set the slot's flags —
 * `parked` (kept down by the operator), `terminal` cleared for a fresh start — and let the
 * reconciler do the stopping and starting in dependency order, as it does for everything else.
 */

/** What the engine lends its operations. */
export interface OperationHost {
  /** The graph's randomness (Clock.random), for a fresh supervisor's jitter. */
  random(): number;
  /** The slot of a service it runs; HX_ERR_UNKNOWN_SERVICE otherwise. */
  slot(name: string): Slot;
  list(): readonly Slot[];
  /** Why an operation cannot run now (the graph starts, reloads or stops), or undefined. */
  busy(): string | undefined;
  /** Whether the graph runs (or still starts): a start asked fails once it stops. */
  live(): boolean;
  transition(s: Slot, to: ServiceState): void;
  cancelRestart(s: Slot): void;
  reconcile(): void;
  dependsOn(s: Slot, target: string): boolean;
  /**
   * Calls `listener` on every state change and after every reconcile pass (the end of a call is
   * seen by the pass that follows it), until the returned function is called.
   */
  onChange(listener: (event?: TransitionEvent) => void): () => void;
}

/** The slot of an operation on one service, while the graph runs (else HX_ERR_SERVICE_OP). */
function operable(host: OperationHost, name: string, op: string): Slot {
  const s = host.slot(name);
  const why = host.busy() ?? (s.pinned ? 'a reload is changing it' : undefined);
  if (why) throw new HendrixError('HX_ERR_SERVICE_OP', { message: `cannot ${op} ${name}: ${why}`, service: name });
  return s;
}

/**
 * Resolves once `done()` holds for `s`; with `failOnError` (a start), rejects with the service's
 * error when it fails or restarts instead (its restart policy goes on), and when the graph
 * stops first — a stop asked is carried out by the stop of the graph too.
 */
function until(host: OperationHost, s: Slot, done: () => boolean, failOnError = false): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const off = host.onChange((event) => {
      if (event !== undefined && event.service !== s.name && host.live()) return;
      if (done()) return finish();
      if (failOnError && !host.live()) return finish(new HendrixError('HX_ERR_SERVICE_OP', { message: `${s.name}: the graph began to stop`, service: s.name }));
      if (failOnError && event?.service === s.name && (event.to === 'failed' || event.to === 'restarting')) {
        const cause = event.error ?? s.lastError;
        finish(new HendrixError('HX_ERR_SERVICE_OP', { message: `${s.name} did not start: ${(cause as Error | undefined)?.message ?? event.to}`, service: s.name, cause }));
      }
    });
    const finish = (error?: HendrixError): void => {
      off();
      if (error) reject(error);
      else resolve();
    };
  });
}

/** Orchestrator.stopService: the service (its dependents first) stops and stays stopped. */
export function stopService(host: OperationHost, name: string): Promise<void> {
  const s = operable(host, name, 'stop');
  if (s.parked && !s.live && !s.op) return Promise.resolve();
  s.parked = true;
  // a restart it waited for is called off: the operator decides when it runs again
  host.cancelRestart(s);
  if (s.state === 'restarting' || s.state === 'failed') host.transition(s, 'stopped');
  const done = until(host, s, () => !s.live && !s.op);
  host.reconcile();
  return done;
}

/** Orchestrator.startService: a parked or failed service starts afresh, then its dependents. */
export function startService(host: OperationHost, name: string): Promise<void> {
  const s = operable(host, name, 'start');
  if (s.state === 'ready' && !s.parked) return Promise.resolve();
  s.parked = false;
  if (s.terminal) {
    // failed for good (restart limit, a failed start): the operator starts it afresh
    s.terminal = false;
    s.supervisor = createSupervisor(s.plan.config.restart, () => host.random());
    for (const t of host.list()) {
      // services that were never started because this one failed get their chance too
      if (t.terminal && t.state === 'failed' && !t.live && host.dependsOn(t, s.name)) t.terminal = false;
    }
  }
  host.cancelRestart(s);
  const done = until(host, s, () => s.state === 'ready', true);
  host.reconcile();
  return done;
}
