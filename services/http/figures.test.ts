import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { figure, figureNames, figureProblems, histogram, holdRequests } from '../../test/helpers/figures.js';
import { createTestContext, FIXTURES } from '../../test/helpers/http/test-context.js';
import { nodeRequest, startService, stopAll, until } from '../../test/helpers/http/test-client.js';
import { DURATION_BUCKETS } from './figures.js';
import { httpKind } from './kind.js';
import type { HttpService } from './service.js';

afterEach(stopAll);

const APP = `${FIXTURES}figures-app.mjs`;

const byClass = (service: HttpService): Record<string, number> =>
  Object.fromEntries(['2xx', '3xx', '4xx', '5xx'].map((code) => [code, figure(service, 'http_requests_total', { code })]));

/** How many responses the histogram holds, over every bucket. */
const observed = (service: HttpService): number => histogram(service, 'http_request_duration_seconds').counts.reduce((a, b) => a + b, 0);

const totalRequests = (service: HttpService): number => Object.values(byClass(service)).reduce((a, b) => a + b, 0);

describe('http figures', () => {
  it('counts responses by status class, shows the request in flight while it runs, and times every response', async () => {
    const { service, url } = await startService({ app: APP });
    expect(figureProblems(service, ['http', 'crosstown'])).toEqual([]);
    expect(byClass(service)).toEqual({ '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 });

    for (const path of ['/', '/status/204', '/status/302', '/status/404', '/status/404', '/status/503', '/boom']) await nodeRequest(`${url}${path}`);
    // a response is counted when it closes, just after the client has it
    await until(() => totalRequests(service) === 7);
    expect(byClass(service)).toEqual({ '2xx': 2, '3xx': 1, '4xx': 2, '5xx': 2 });

    const gate = holdRequests();
    const held = nodeRequest(`${url}/held`);
    await gate.arrived;
    expect(figure(service, 'http_requests_in_flight')).toBe(1);
    gate.release();
    expect((await held).body).toBe('held');
    await until(() => figure(service, 'http_requests_in_flight') === 0);

    const durations = histogram(service, 'http_request_duration_seconds');
    expect(durations.buckets).toEqual(DURATION_BUCKETS);
    expect(durations.counts).toHaveLength(DURATION_BUCKETS.length + 1);
    expect(observed(service)).toBe(8);
    expect(totalRequests(service)).toBe(8);
    expect(durations.sum).toBeGreaterThan(0);
  });

  it('a request whose client goes away leaves in flight and is counted nowhere else', async () => {
    const { service, port } = await startService({ app: APP });
    const gate = holdRequests();
    const req = httpRequest({ host: '127.0.0.1', port, path: '/held', agent: false });
    req.on('error', () => undefined);
    req.end();
    await gate.arrived;
    expect(figure(service, 'http_requests_in_flight')).toBe(1);
    req.destroy();
    await until(() => figure(service, 'http_requests_in_flight') === 0);
    gate.release();
    expect(totalRequests(service)).toBe(0);
    expect(observed(service)).toBe(0);
  });

  it('with metrics: false reports the requests in flight only', async () => {
    const { service, url } = await startService({ app: APP, metrics: false });
    await nodeRequest(`${url}/`);
    expect(figureNames(service).filter((name) => name.startsWith('http_'))).toEqual(['http_requests_in_flight']);
    const gate = holdRequests();
    const held = nodeRequest(`${url}/held`);
    await gate.arrived;
    expect(figure(service, 'http_requests_in_flight')).toBe(1);
    gate.release();
    await held;
    await until(() => figure(service, 'http_requests_in_flight') === 0);
  });

  it('a reload in place keeps the counts, and turns counting off and on again', async () => {
    expect(httpKind.canReload?.({ fields: [['metrics']], files: [] })).toBe(true);
    const { service, url } = await startService({ app: APP });
    const config = (fields: Record<string, unknown>) => createTestContext({ app: APP, ...fields }).config;
    await nodeRequest(`${url}/status/404`);
    await until(() => totalRequests(service) === 1);

    await service.reload(config({ metrics: false }), AbortSignal.timeout(10_000));
    await nodeRequest(`${url}/`);
    expect(figureNames(service)).not.toContain('http_requests_total');

    await service.reload(config({}), AbortSignal.timeout(10_000));
    await nodeRequest(`${url}/`);
    // the 404 from before the reloads is still there; the request made while off is not
    await until(() => totalRequests(service) === 2);
    expect(byClass(service)).toMatchObject({ '2xx': 1, '4xx': 1 });
    expect(observed(service)).toBe(2);
  });
});
