import type { ServerResponse } from 'node:http';
import type { CrosstownStats } from '../../src/crosstown/runtime.js';
import type { Figure } from '../../src/kinds/contract.js';
import { kStart, type TrackedResponse } from './request-state.js';

/** The upper bounds (seconds) of the request duration histogram's buckets, as docs/admin-api.md lists them. */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const LAST = DURATION_BUCKETS.length;
const CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

/**
 * The request counts of an http service (`metrics: true`): plain number fields bumped on the
 * hot path — one `performance.now()` and one shared 'close' listener per request, nothing
 * allocated — and read only when someone asks for the figures. The service keeps one for its
 * life, so a reload in place keeps counting.
 */
export class RequestCounts {
  /** Requests begun and not closed yet. */
  inFlight = 0;
  /** Finished responses per status class: 2xx (and the rare 1xx), 3xx, 4xx, 5xx. */
  readonly classes = [0, 0, 0, 0];
  /** Finished responses per duration bucket, not cumulative; the last entry is +Inf. */
  readonly durations: number[] = new Array<number>(LAST + 1).fill(0);
  /** Seconds of every finished response together. */
  sum = 0;
  /**
   * The 'close' listener of every counted response (`this` is the response): one function for
   * all, so counting makes no closure per request. A response cut before it finished (the
   * client went away) leaves in-flight and is counted nowhere else: it has no status.
   */
  readonly settle: (this: ServerResponse) => void;

  constructor() {
    const counts = this;
    this.settle = function settle(this: ServerResponse & TrackedResponse) {
      counts.inFlight--;
      const start = this[kStart];
      if (!this.writableFinished || start === undefined) return;
      const code = this.statusCode;
      const cls = code < 300 ? 0 : code < 400 ? 1 : code < 500 ? 2 : 3;
      counts.classes[cls] = (counts.classes[cls] as number) + 1;
      const seconds = (performance.now() - start) / 1000;
      let bucket = 0;
      while (bucket < LAST && seconds > (DURATION_BUCKETS[bucket] as number)) bucket++;
      counts.durations[bucket] = (counts.durations[bucket] as number) + 1;
      counts.sum += seconds;
    };
  }

  /** Counts `res` from now until it closes. */
  begin(res: ServerResponse): void {
    this.inFlight++;
    (res as ServerResponse & TrackedResponse)[kStart] = performance.now();
    res.on('close', this.settle);
  }
}

/**
 * The figures of an http service (Service.figures): with `counts` (metrics: true) requests by
 * status class, in flight and the duration histogram; without, only `inFlight` as the caller
 * counted it. Then its crosstown work, summed over every runtime it has had.
 */
export function httpFigures(counts: RequestCounts | undefined, inFlight: number, crosstown: CrosstownStats): Figure[] {
  const figures: Figure[] = [];
  if (counts !== undefined) {
    CLASSES.forEach((code, i) => figures.push({ name: 'http_requests_total', type: 'counter', help: 'HTTP responses sent, by status class.', labels: { code }, value: counts.classes[i] as number }));
  }
  figures.push({ name: 'http_requests_in_flight', type: 'gauge', help: 'HTTP requests being handled now.', value: counts?.inFlight ?? inFlight });
  if (counts !== undefined) {
    figures.push({ name: 'http_request_duration_seconds', type: 'histogram', help: 'Time from a request to the end of its response, in seconds.', buckets: DURATION_BUCKETS, counts: [...counts.durations], sum: counts.sum });
  }
  figures.push(
    { name: 'crosstown_queued', type: 'gauge', help: 'Crosstown tasks waiting for a free thread or process.', value: crosstown.queued },
    { name: 'crosstown_running', type: 'gauge', help: 'Crosstown tasks running now.', value: crosstown.running },
  );
  for (const outcome of ['done', 'failed', 'dropped', 'skipped'] as const) {
    figures.push({ name: 'crosstown_tasks_total', type: 'counter', help: 'Crosstown tasks ended, by outcome (skipped: not run because of the response status or a client gone).', labels: { outcome }, value: crosstown[outcome] });
  }
  return figures;
}
