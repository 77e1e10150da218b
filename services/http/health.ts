import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { GraphView } from '../../src/kinds/contract.js';
import type { HttpConfig } from './schema.js';
import { sendStatus } from './responses.js';

/** The liveness path of `health: true`. */
export const DEFAULT_HEALTH_PATH = '/healthz';

/** Which of the two health endpoints a request asks. */
export type HealthProbe = 'live' | 'ready';

/** The health endpoints of one http service, resolved from its `health` field. */
export interface HealthSettings {
  /** Liveness: `/healthz`. */
  readonly livePath: string;
  /** Readiness: `readyz` beside the liveness path (`/-/healthz` → `/-/readyz`). */
  readonly readyPath: string;
  /** The services whose readiness `/readyz` reports; undefined: the whole graph. */
  readonly services: readonly string[] | undefined;
}

/** The readiness path beside a liveness path: the same folder, `readyz`. */
export function readyPathOf(livePath: string): string {
  return posix.join(posix.dirname(livePath), 'readyz');
}

/** The endpoints a `health` field asks for; undefined when it is off. */
export function healthSettings(health: HttpConfig['health']): HealthSettings | undefined {
  if (health === false) return undefined;
  const livePath = health === true ? DEFAULT_HEALTH_PATH : health.path;
  return { livePath, readyPath: readyPathOf(livePath), services: health === true ? undefined : health.services };
}

/** The health endpoints of a `health` field answering from `graph`; undefined when it is off. */
export function createHealth(health: HttpConfig['health'], graph: GraphView): HealthEndpoints | undefined {
  const settings = healthSettings(health);
  return settings === undefined ? undefined : new HealthEndpoints(settings, graph);
}

/** Whether `url` (a request target) is `path`, with or without a query. */
function targets(url: string, path: string): boolean {
  // 63: '?'
  return url === path || (url.length > path.length && url.charCodeAt(path.length) === 63 && url.startsWith(path));
}

/**
 * The health endpoints of an http service, answered by the request pipeline before static
 * folders and the app (no app code runs for a probe, and probes are not counted as requests):
 * liveness answers 200 while the process serves; readiness answers 200 while the graph (or the
 * services listed) is ready, else 503 with what it waits for — and, when the graph is
 * draining for a stop, `Connection: close`, so that a load balancer's kept-alive probe
 * connection goes too.
 */
export class HealthEndpoints {
  readonly #settings: HealthSettings;
  readonly #graph: GraphView;

  constructor(settings: HealthSettings, graph: GraphView) {
    this.#settings = settings;
    this.#graph = graph;
  }

  /** Which endpoint `url` asks, if any. */
  match(url: string | undefined): HealthProbe | undefined {
    if (url === undefined) return undefined;
    if (targets(url, this.#settings.livePath)) return 'live';
    if (targets(url, this.#settings.readyPath)) return 'ready';
    return undefined;
  }

  /**
   * Answers a probe. `h1`: an HTTP/1 request (`Connection` is not an HTTP/2 header);
   * `closing`: the service itself drains, and every answer closes its connection.
   */
  answer(probe: HealthProbe, req: IncomingMessage, res: ServerResponse, h1: boolean, closing: boolean): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (closing && h1) res.setHeader('connection', 'close');
      sendStatus(res, 405, { headers: { allow: 'GET, HEAD' } });
      return;
    }
    let status = 200;
    let body: Record<string, unknown> = { status: 'ok' };
    let close = closing;
    if (probe === 'ready') {
      const readiness = this.#graph.readiness(this.#settings.services);
      if (readiness.ready) body = { status: 'ready' };
      else {
        status = 503;
        body = { status: 'not ready', draining: readiness.draining, waiting: readiness.waiting };
        close ||= readiness.draining;
      }
    }
    const text = JSON.stringify(body);
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(text));
    // a probe must see the state of now, never a cache's
    res.setHeader('cache-control', 'no-store');
    if (close && h1) res.setHeader('connection', 'close');
    res.end(text);
  }
}
