import { afterEach, describe, expect, it } from 'vitest';
// loading the API turns the request context on, as an app importing `hendrix` does
import { crosstown } from '../../src/crosstown/api.js';
import { createProject, KeepAliveClient, removeProjects, type Project } from '../../test/helpers/http/reload-project.js';
import { createTestContext, type TestHttpConfig } from '../../test/helpers/http/test-context.js';
import { nodeRequest, startService, stopAll, until } from '../../test/helpers/http/test-client.js';

afterEach(async () => {
  await stopAll();
  await removeProjects();
});

const shared = globalThis as Record<symbol, unknown>;
shared[Symbol.for('hendrix.test.crosstown.fn')] = crosstown;
const events = (shared[Symbol.for('hendrix.test.crosstown.events')] ??= []) as string[];

/** An app that schedules a loop task named by `?id=` and answers with `?code=`; `/slow` waits for the test's gate first. */
const APP = `const crosstown = globalThis[Symbol.for('hendrix.test.crosstown.fn')];
const events = globalThis[Symbol.for('hendrix.test.crosstown.events')];
export default function app(req, res) {
  const url = new URL(req.url, 'http://x');
  const id = url.searchParams.get('id') ?? 'none';
  crosstown(function task() { events.push(id); });
  res.statusCode = Number(url.searchParams.get('code') ?? 200);
  if (url.pathname === '/slow') {
    const gate = globalThis[Symbol.for('hendrix.test.crosstownGate')];
    gate.arrived();
    gate.released.then(() => res.end('slow'));
    return;
  }
  res.end('ok');
}
`;

const signal = (): AbortSignal => AbortSignal.timeout(10_000);
const configOf = (project: Project, crosstownConfig: Record<string, unknown>): TestHttpConfig =>
  createTestContext({ app: './app.mjs', crosstown: crosstownConfig }, { baseDir: project.dir }).config;

describe('http reload: crosstown', () => {
  it('applies new per-task defaults (skipStatus) to work scheduled from then on, on the same runtime', async () => {
    const project = await createProject({ 'app.mjs': APP });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'ct-defaults' });
    const client = new KeepAliveClient(url);
    const stats = () => service.handle().crosstown.stats();
    expect((await client.get('/?id=before&code=404')).status).toBe(404);
    await until(() => stats().skipped === 1, 10_000);
    expect(events).not.toContain('before');

    await service.reload(configOf(project, { skipStatus: [] }), signal());
    expect((await client.get('/?id=after&code=404')).status).toBe(404);
    await until(() => events.includes('after'), 10_000);
    // the same runtime counts on
    expect(stats()).toMatchObject({ skipped: 1, done: 1 });
    expect(client.closed).toBe(0);
    client.close();
  });

  it('builds a new runtime for a pool change; work of a request running at the switch still runs, on the old one', async () => {
    const project = await createProject({ 'app.mjs': APP });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'ct-pools' });
    let arrive!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((r) => (arrive = r));
    shared[Symbol.for('hendrix.test.crosstownGate')] = { arrived: arrive, released: new Promise<void>((r) => (release = r)) };
    const slow = nodeRequest(`${url}/slow?id=old-runtime`);
    await arrived;

    await service.reload(configOf(project, { threads: 1, maxQueue: 5 }), signal());
    expect((await nodeRequest(`${url}/?id=new-runtime`)).body).toBe('ok');
    await until(() => events.includes('new-runtime'), 10_000);
    expect(service.handle().crosstown.stats()).toMatchObject({ done: 1, waiting: 0 });

    release();
    expect((await slow).body).toBe('slow');
    await until(() => events.includes('old-runtime'), 10_000);
    // the retired runtime drains and the stop waits for it
    await service.stop(AbortSignal.timeout(5_000));
  });

  it('applies a pool change with the journal on in the same folder: both runtimes share the journal, the old one drains, nothing is refused', async () => {
    const project = await createProject({ 'app.mjs': APP });
    const { service, url } = await startService({ app: './app.mjs', crosstown: { journal: './journal' } }, { baseDir: project.dir, name: 'ct-journal' });
    const client = new KeepAliveClient(url);
    expect((await client.get('/?id=j1')).body).toBe('ok');
    await service.reload(configOf(project, { journal: './journal', threads: 2 }), signal());
    expect((await client.get('/?id=j2')).body).toBe('ok');
    await until(() => events.includes('j2'), 10_000);
    // and back, as a rollback would
    await service.reload(configOf(project, { journal: './journal' }), signal());
    expect((await client.get('/?id=j3')).body).toBe('ok');
    await until(() => events.includes('j3'), 10_000);
    expect(client.closed).toBe(0);
    client.close();
    await service.stop(AbortSignal.timeout(5_000));
  });
});
