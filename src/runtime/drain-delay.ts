import type { Logger } from 'pino';

/** What the drain delay turns off: the graph's readiness (Orchestrator.setDraining). */
export interface Drainable {
  setDraining(on: boolean): void;
}

/**
 * The first step of a stop asked from outside (SIGTERM, SIGINT, `hendrix stop`): readiness turns
 * off at once — `/readyz` answers 503 — and, with a `drainDelay`, the services keep serving for
 * that long before they drain, so that a load balancer (a Kubernetes endpoint controller) stops
 * sending new requests before any listener closes. Resolves after `ms`, or at once when `skip`
 * aborts (a second signal: the stop is forced).
 */
export async function drainDelay(graph: Drainable, ms: number, log: Logger, skip: AbortSignal): Promise<void> {
  graph.setDraining(true);
  if (ms <= 0 || skip.aborted) return;
  log.info({ drainDelay: ms }, `draining: readiness off for ${shortDuration(ms)} before the stop`);
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      skip.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    skip.addEventListener('abort', done, { once: true });
  });
}

/** A duration as the manifest writes it: `5s`, `1500ms`. */
function shortDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
