import { describe, expect, it } from 'vitest';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { Figure, HistogramFigure } from '../../src/kinds/contract.js';
import { sumFigures } from '../../src/workers/figures-sum.js';
import { toErrorBody, type ProcessServiceReport } from '../../src/workers/ipc.js';
import { aggregateService, stateOfSlot, type ServiceInProcess } from '../../src/workers/worker-status.js';

// How the primary adds one service up over the processes that run it (status and metrics of a
// graph with workers): pure functions of what the workers reported.

const requests = (code: string, value: number): Figure => ({ name: 'http_requests_total', help: 'h', type: 'counter', labels: { code }, value });
const inFlight = (value: number): Figure => ({ name: 'http_requests_in_flight', help: 'h', type: 'gauge', value });
const duration = (counts: number[], sum: number): HistogramFigure => ({ name: 'http_request_duration_seconds', help: 'h', type: 'histogram', buckets: [0.1, 1], counts, sum });

function report(state: ProcessServiceReport['state'], extra: Partial<ProcessServiceReport> = {}): ProcessServiceReport {
  return { state, since: 1_000, restarts: 0, stoppedByOperator: false, figures: [], ...extra };
}

function proc(worker: string, r: ProcessServiceReport | undefined, extra: Partial<ServiceInProcess> = {}): ServiceInProcess {
  return { worker, report: r, state: r?.state ?? 'starting', since: r?.since ?? 0, replacements: 0, ...extra };
}

describe('sumFigures', () => {
  it('adds counters and gauges sample by sample (same name and labels), merges histograms bucket by bucket, keeps the first order', () => {
    const summed = sumFigures([
      [requests('2xx', 3), requests('5xx', 1), inFlight(2), duration([1, 2, 0], 1.5)],
      [requests('2xx', 4), inFlight(1), duration([0, 1, 1], 3), requests('4xx', 2)],
    ]);
    expect(summed).toEqual([requests('2xx', 7), requests('5xx', 1), inFlight(3), duration([1, 3, 1], 4.5), requests('4xx', 2)]);
  });

  it('labels in another order are the same sample; a histogram with other buckets keeps the first one’s', () => {
    const a: Figure = { name: 'x_total', help: 'h', type: 'counter', labels: { a: '1', b: '2' }, value: 1 };
    const b: Figure = { name: 'x_total', help: 'h', type: 'counter', labels: { b: '2', a: '1' }, value: 2 };
    const other: Figure = { ...duration([5, 5, 5], 9), buckets: [0.5, 2] };
    expect(sumFigures([[a, duration([1, 0, 0], 1)], [b, other]])).toEqual([{ ...a, value: 3 }, duration([1, 0, 0], 1)]);
  });

  it('leaves its inputs as they were', () => {
    const h = duration([1, 1, 1], 1);
    sumFigures([[h], [h]]);
    expect(h.counts).toEqual([1, 1, 1]);
  });
});

describe('aggregateService', () => {
  it('is ready only when ready in every process; its figures are the sum', () => {
    const { stats, figures } = aggregateService([
      proc('1', report('ready', { since: 10, figures: [requests('2xx', 3)] })),
      proc('2', report('ready', { since: 20, figures: [requests('2xx', 5)] })),
    ]);
    expect(stats).toMatchObject({ state: 'ready', since: 20, restarts: 0, stoppedByOperator: false });
    expect(figures).toEqual([requests('2xx', 8)]);
  });

  it('else shows the worst state — failed > restarting > starting > stopping > stopped — with what that process says', () => {
    const restarting = report('restarting', { since: 30, nextRestartAt: 99 });
    const order: [ServiceInProcess[], string][] = [
      [[proc('1', report('ready')), proc('2', report('stopped'))], 'stopped'],
      [[proc('1', report('stopped')), proc('2', report('stopping'))], 'stopping'],
      [[proc('1', report('stopping')), proc('2', report('starting', { waiting: 'connecting to db' }))], 'starting'],
      [[proc('1', restarting), proc('2', report('starting'))], 'restarting'],
      [[proc('1', restarting), proc('2', report('failed'))], 'failed'],
    ];
    for (const [processes, state] of order) expect(aggregateService(processes).stats.state).toBe(state);
    expect(aggregateService(order[2]![0]).stats.waiting).toBe('connecting to db');
    expect(aggregateService(order[3]![0]).stats).toMatchObject({ nextRestartAt: 99, since: 30 });
  });

  it('a process that did not answer counts with the state its slot gives (a restarting worker makes the service restarting)', () => {
    const { stats } = aggregateService([proc('1', report('ready')), proc('2', undefined, { state: stateOfSlot('restarting'), since: 50, replacements: 1 })]);
    expect(stats).toMatchObject({ state: 'restarting', since: 50, restarts: 1 });
    expect(stateOfSlot('ready')).toBe('starting');
  });

  it('sums restarts (the service’s own in each process and its processes’ replacements) and keeps the newest last error', () => {
    const older = toErrorBody(new HendrixError('HX_ERR_INTERNAL', { message: 'older' }));
    const newer = toErrorBody(new HendrixError('HX_ERR_INTERNAL', { message: 'newer' }));
    const { stats } = aggregateService([
      proc('1', report('ready', { restarts: 2, lastError: newer, lastErrorAt: 200 }), { replacements: 1 }),
      proc('2', report('ready', { restarts: 1, lastError: older, lastErrorAt: 100, stoppedByOperator: true })),
    ]);
    expect(stats.restarts).toBe(4);
    expect((stats.lastError as Error).message).toBe('newer');
    expect(stats.stoppedByOperator).toBe(true);
  });
});
