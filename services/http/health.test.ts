import { Agent } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GraphView } from '../../src/kinds/contract.js';
import { isHendrixError } from '../../src/errors/hendrix-error.js';
import { flattenErrors } from '../../src/errors/render.js';
import { createPlan } from '../../src/runtime/plan.js';
import { createTestContext, FIXTURES } from '../../test/helpers/http/test-context.js';
import { nodeRequest, rawExchange, startService, statusOf, stopAll } from '../../test/helpers/http/test-client.js';
import { testKinds } from '../../test/helpers/kinds.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { readyPathOf } from './health.js';
import { httpKind } from './kind.js';
import { httpSchema } from './schema.js';
import { HttpService } from './service.js';

afterEach(stopAll);

const app = join(FIXTURES, 'node-listener.mjs');
const json = (text: string): unknown => JSON.parse(text);

/** A graph whose readiness the test sets, recording what each call asked about. */
function graphOf(state: { ready: boolean; draining: boolean; waiting: Record<string, string> }): GraphView & { asked: (readonly string[] | undefined)[] } {
  const asked: (readonly string[] | undefined)[] = [];
  return { asked, readiness: (services) => (asked.push(services), { ...state }) };
}

/** Starts an http service whose ctx.graph is `graph`. */
async function startWithGraph(partial: Record<string, unknown>, graph: GraphView): Promise<{ service: HttpService; url: string }> {
  const service = new HttpService({ ...createTestContext({ app, ...partial }), graph });
  await service.start(AbortSignal.timeout(10_000));
  return { service, url: service.address() ?? '' };
}

describe('http health endpoints', () => {
  it('health: true answers /healthz and /readyz before the app, which still gets every other path', async () => {
    const { url } = await startService({ app, health: true });
    const live = await nodeRequest(`${url}/healthz`);
    expect([live.status, json(live.body), live.headers['content-type'], live.headers['cache-control']]).toEqual([200, { status: 'ok' }, 'application/json; charset=utf-8', 'no-store']);
    const ready = await nodeRequest(`${url}/readyz?verbose=1`);
    expect([ready.status, json(ready.body)]).toEqual([200, { status: 'ready' }]);
    // the app answers the rest (and a path that only begins like a probe's)
    expect((await nodeRequest(`${url}/healthzz`)).body).toBe('node GET /healthzz 0');
    expect((await nodeRequest(`${url}/other`)).body).toBe('node GET /other 0');
  });

  it('is off by default: /healthz is the app', async () => {
    const { url } = await startService({ app });
    expect((await nodeRequest(`${url}/healthz`)).body).toBe('node GET /healthz 0');
  });

  it('readiness is 503 with Connection: close while the graph drains; liveness and the app answer on', async () => {
    const { url, ctx } = await startService({ app, health: true });
    (ctx.graph as GraphView & { draining: boolean }).draining = true;
    const ready = await rawExchange(Number(new URL(url).port), 'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(statusOf(ready.text)).toBe(503);
    expect(ready.text).toMatch(/\r\nconnection: close\r\n/i);
    expect(ready.closedByServer).toBe(true);
    expect(json(ready.text.slice(ready.text.indexOf('\r\n\r\n') + 4))).toEqual({ status: 'not ready', draining: true, waiting: {} });
    expect((await nodeRequest(`${url}/healthz`)).status).toBe(200);
    expect((await nodeRequest(`${url}/page`)).body).toBe('node GET /page 0');
  });

  it('reports the services listed, and what they wait for, at readyz beside a custom path', async () => {
    const graph = graphOf({ ready: false, draining: false, waiting: { db: 'starting' } });
    const { url } = await startWithGraph({ health: { path: '/-/healthz', services: ['db', 'web'] } }, graph);
    // not draining: a kept-alive probe connection stays open
    const agent = new Agent({ keepAlive: true });
    const ready = await nodeRequest(`${url}/-/readyz`, { agent });
    agent.destroy();
    expect([ready.status, json(ready.body), ready.headers.connection]).toEqual([503, { status: 'not ready', draining: false, waiting: { db: 'starting' } }, 'keep-alive']);
    expect(graph.asked).toEqual([['db', 'web']]);
    expect((await nodeRequest(`${url}/-/healthz`)).status).toBe(200);
    // the default paths are the app's now
    expect((await nodeRequest(`${url}/readyz`)).body).toBe('node GET /readyz 0');
  });

  it('answers HEAD without a body and refuses other methods with 405', async () => {
    const { url } = await startService({ app, health: true });
    const head = await nodeRequest(`${url}/healthz`, { method: 'HEAD' });
    expect([head.status, head.body]).toEqual([200, '']);
    const post = await nodeRequest(`${url}/readyz`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('a reload changes the paths in place: the old ones go back to the app', async () => {
    const { url, service } = await startService({ app, health: true });
    expect((await nodeRequest(`${url}/healthz`)).status).toBe(200);
    await service.reload(createTestContext({ app, health: { path: '/-/healthz' } }).config, AbortSignal.timeout(10_000));
    expect(json((await nodeRequest(`${url}/-/readyz`)).body)).toEqual({ status: 'ready' });
    expect((await nodeRequest(`${url}/healthz`)).body).toBe('node GET /healthz 0');
    expect(httpKind.canReload?.({ fields: [['health', 'path']], files: [] })).toBe(true);
  });

  it('does not count probes as requests of the app', async () => {
    const { url, service } = await startService({ app, health: true });
    await nodeRequest(`${url}/page`);
    for (let i = 0; i < 3; i++) await nodeRequest(`${url}/healthz`), await nodeRequest(`${url}/readyz`);
    const total = service
      .figures()
      .filter((f) => f.name === 'http_requests_total' && f.type === 'counter')
      .reduce((sum, f) => sum + (f.type === 'counter' ? f.value : 0), 0);
    expect(total).toBe(1);
  });
});

describe('the health field', () => {
  const parse = (health: unknown) => httpSchema.safeParse({ health });

  it('takes true, false or { path, services }, with /healthz as the default path', () => {
    expect(httpSchema.parse({}).health).toBe(false);
    expect(parse(true).data?.health).toBe(true);
    expect(parse({}).data?.health).toEqual({ path: '/healthz' });
    expect(parse({ path: '/-/healthz', services: ['db'] }).data?.health).toEqual({ path: '/-/healthz', services: ['db'] });
  });

  it('refuses a path with a query, a trailing slash, no slash, or readyz itself', () => {
    for (const path of ['/healthz?x', '/healthz/', 'healthz', '/', '/readyz', '/-/readyz']) expect(parse({ path }).success, path).toBe(false);
  });

  it('puts readyz in the folder of the liveness path', () => {
    expect([readyPathOf('/healthz'), readyPathOf('/-/healthz'), readyPathOf('/ops/live')]).toEqual(['/readyz', '/-/readyz', '/ops/readyz']);
  });
});

describe('health.services in the plan', () => {
  const makeDir = useManifestDirs();

  it('a name that is not a service is a manifest problem at its line; no edge is made', async () => {
    const dir = makeDir({
      'hendrix.yaml': ['version: 1', 'services:', '  web:', '    kind: http', '    listen: 127.0.0.1:0', '    health:', '      services: [secure, dbb]', '  secure:', '    kind: tls', '    listen: 127.0.0.1:0', '    serves: web', '    selfSigned: true', ''].join('\n'),
    });
    const error = await createPlan(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isHendrixError(error)) throw new Error(`expected the plan to fail, got ${String(error)}`);
    const problems = flattenErrors(error);
    expect(problems.map((p) => [p.code, p.path])).toEqual([['HX_ERR_UNKNOWN_REFERENCE', ['services', 'web', 'health', 'services', 1]]]);
    expect(problems[0]?.message).toBe('`health.services[1]` of service `web` names `dbb`: no valid service of the manifest has that name');
    expect(problems[0]?.location).toEqual(expect.objectContaining({ file: 'hendrix.yaml', line: 7 }));
  });

  it('a health that lists a dependent of its own service plans without a cycle', async () => {
    const dir = makeDir({
      'hendrix.yaml': ['version: 1', 'services:', '  web:', '    kind: http', '    listen: 127.0.0.1:0', '    health:', '      services: [secure]', '  secure:', '    kind: tls', '    listen: 127.0.0.1:0', '    serves: web', '    selfSigned: true', ''].join('\n'),
    });
    const plan = await createPlan(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {} });
    expect(plan.order).toEqual(['web', 'secure']);
  });
});
