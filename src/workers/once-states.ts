import type { Primary } from './primary.js';

/**
 * Keeps every worker told the states of the once-services, so that a worker's readiness
 * (`/readyz`) counts them: a stand-in in the worker is not the real service. The states come
 * from the once process's transitions; all of them turn `restarting` when it dies; a new worker
 * gets them at its fork (held until it says hello). Returns the unsubscribe.
 */
export function shareOnceStates(primary: Pick<Primary, 'watch' | 'broadcast'>): () => void {
  const states = new Map<string, string>();
  const send = (): void => primary.broadcast({ hx: 'states', states: Object.fromEntries(states) }, 'each');
  return primary.watch((event) => {
    if (event.type === 'transition' && event.worker === 'once') {
      states.set(event.event.service, event.event.to);
      send();
    } else if (event.type === 'worker' && event.worker === 'once' && event.state === 'died') {
      for (const name of states.keys()) states.set(name, 'restarting');
      send();
    } else if (event.type === 'worker' && event.worker !== 'once' && event.state === 'forked' && states.size) {
      send();
    }
  });
}
