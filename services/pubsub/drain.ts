import type { Connection } from './connection.js';

/**
 * Closes every client with `close` — 1001 "going away" by default; 1012 "service restart"
 * when a worker is replaced — after what was queued for it, and resolves once all are gone —
 * `connections` empties as they close — terminating the rest when `signal` aborts.
 */
export function closeClients(connections: ReadonlySet<Connection>, signal: AbortSignal, close: { code: number; reason: string } = { code: 1001, reason: 'going away' }): Promise<void> {
  for (const connection of [...connections]) connection.close(close.code, close.reason);
  return new Promise<void>((done) => {
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (connections.size === 0) return finish();
      if (signal.aborted) {
        for (const connection of connections) connection.terminate();
        return finish();
      }
      timer = setTimeout(check, 20);
    };
    const finish = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', check);
      done();
    };
    signal.addEventListener('abort', check, { once: true });
    check();
  });
}
