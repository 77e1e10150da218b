import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { createProject, KeepAliveClient, removeProjects, type Project } from '../../test/helpers/http/reload-project.js';
import { createCapturingLogger, createTestContext, type TestHttpConfig } from '../../test/helpers/http/test-context.js';
import { nodeRequest, rawExchange, startService, statusOf, stopAll } from '../../test/helpers/http/test-client.js';

afterEach(async () => {
  await stopAll();
  await removeProjects();
});

const signal = (): AbortSignal => AbortSignal.timeout(10_000);
const configOf = (project: Project, partial: Record<string, unknown> = {}): TestHttpConfig =>
  createTestContext({ app: './app.mjs', ...partial }, { baseDir: project.dir }).config;

/** An app answering `<lib label> v<n>`; lib.mjs counts how often it runs (per file). */
const appV = (n: number): string => `import { label } from './lib.mjs';\nexport default function app(req, res) {\n  res.end(\`\${label} v${n}\`);\n}\n`;
const lib = (label: string): string =>
  `const runs = (globalThis[Symbol.for('hendrix.test.moduleRuns')] ??= {});\nconst me = new URL(import.meta.url).pathname;\nruns[me] = (runs[me] ?? 0) + 1;\nexport const label = '${label}';\n`;
const runsOf = (file: string): number => ((globalThis as Record<symbol, Record<string, number> | undefined>)[Symbol.for('hendrix.test.moduleRuns')] ?? {})[file] ?? 0;

/** Where an in-flight request of the test apps waits: the test releases it. */
interface Gate {
  arrived: () => void;
  released: Promise<void>;
}
function openGate(): { gate: Gate; arrived: Promise<void>; release: () => void } {
  let arrive!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  const released = new Promise<void>((r) => (release = r));
  const gate = { arrived: arrive, released };
  (globalThis as Record<symbol, unknown>)[Symbol.for('hendrix.test.reloadGate')] = gate;
  return { gate, arrived, release };
}

describe('http reload: the app', () => {
  it('keeps a keep-alive connection open across 5 reloads, each answered by the new app', async () => {
    const project = await createProject({ 'app.mjs': appV(0), 'lib.mjs': lib('lib') });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'keepalive' });
    const client = new KeepAliveClient(url);
    expect((await client.get('/')).body).toBe('lib v0');
    for (let n = 1; n <= 5; n++) {
      await project.write('app.mjs', appV(n));
      await service.reload(configOf(project), signal());
      const res = await client.get('/');
      expect(res.status).toBe(200);
      expect(res.body).toBe(`lib v${n}`);
    }
    expect(client.sockets).toHaveLength(1);
    expect(client.closed).toBe(0);
    client.close();
  });

  it('lets a request in flight during the reload finish on the old handler', async () => {
    const slowApp = (n: number): string =>
      `export default function app(req, res) {\n  const gate = globalThis[Symbol.for('hendrix.test.reloadGate')];\n  if (req.url === '/slow') { gate.arrived(); gate.released.then(() => res.end('slow v${n}')); return; }\n  res.end('v${n}');\n}\n`;
    const project = await createProject({ 'app.mjs': slowApp(1) });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'inflight' });
    const { arrived, release } = openGate();
    const slow = nodeRequest(`${url}/slow`);
    await arrived;
    await project.write('app.mjs', slowApp(2));
    await service.reload(configOf(project), signal());
    expect((await nodeRequest(`${url}/`)).body).toBe('v2');
    release();
    const finished = await slow;
    expect(finished.status).toBe(200);
    expect(finished.body).toBe('slow v1');
  });

  it('imports a fresh graph when a module the app imports changed, and nothing when none did', async () => {
    const project = await createProject({ 'app.mjs': appV(1), 'lib.mjs': lib('one') });
    const libFile = join(project.dir, 'lib.mjs');
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'graph' });
    const client = new KeepAliveClient(url);
    expect((await client.get('/')).body).toBe('one v1');
    expect(runsOf(libFile)).toBe(1);

    await project.write('lib.mjs', lib('two'));
    await service.reload(configOf(project), signal());
    expect((await client.get('/')).body).toBe('two v1');
    expect(runsOf(libFile)).toBe(2);

    // the same code with another limit: the modules are not imported again
    await service.reload(configOf(project, { keepAliveTimeout: '7s' }), signal());
    await service.reload(configOf(project, { keepAliveTimeout: '7s' }), signal());
    expect((await client.get('/')).body).toBe('two v1');
    expect(runsOf(libFile)).toBe(2);

    // content seen before: the generation that had it is reused, nothing runs again
    await project.write('lib.mjs', lib('one'));
    await service.reload(configOf(project), signal());
    expect((await client.get('/')).body).toBe('one v1');
    expect(runsOf(libFile)).toBe(2);
    expect(client.closed).toBe(0);
    client.close();
  });

  it('rejects a new app that does not load with its file:line:col and keeps answering with the old one', async () => {
    const project = await createProject({ 'app.mjs': appV(1), 'lib.mjs': lib('good') });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'broken' });
    const client = new KeepAliveClient(url);
    const reloadError = async (): Promise<HendrixError> => (await service.reload(configOf(project), signal()).then(() => undefined, (e: unknown) => e)) as HendrixError;

    // a syntax error in a module the app imports
    await project.write('lib.mjs', `export const label = 'x';\nexport const broken = ;\n`);
    const syntax = await reloadError();
    expect(syntax.code).toBe('HX_ERR_APP_LOAD');
    expect(syntax.message).toMatch(/syntax error/);
    expect(syntax.location).toMatchObject({ file: join(project.dir, 'lib.mjs'), line: 2 });
    expect(syntax.location?.column).toBeGreaterThan(1);
    expect((await client.get('/')).body).toBe('good v1');

    // a throw while the app module runs
    await project.write('lib.mjs', lib('good'));
    await project.write('app.mjs', `import { label } from './lib.mjs';\n\nthrow new Error('boom at import');\nexport default (req, res) => res.end(label);\n`);
    const thrown = await reloadError();
    expect(thrown.code).toBe('HX_ERR_APP_LOAD');
    expect(thrown.message).toMatch(/boom at import/);
    expect(thrown.location).toMatchObject({ file: join(project.dir, 'app.mjs'), line: 3, column: 7 });
    expect((await client.get('/')).body).toBe('good v1');

    // no usable export
    await project.write('app.mjs', `export const notAnApp = 1;\n`);
    expect((await reloadError()).code).toBe('HX_ERR_APP_SHAPE');
    expect((await client.get('/')).body).toBe('good v1');

    await project.write('app.mjs', appV(2));
    await service.reload(configOf(project), signal());
    expect((await client.get('/')).body).toBe('good v2');
    expect(client.closed).toBe(0);
    client.close();
  });

  it('runs a CommonJS app again when a file it requires changed', async () => {
    const cjsApp = `const { label } = require('./lib.cjs');\nmodule.exports = (req, res) => res.end(label);\n`;
    const project = await createProject({ 'app.cjs': cjsApp, 'lib.cjs': `module.exports = { label: 'cjs one' };\n` });
    const { service, url } = await startService({ app: './app.cjs' }, { baseDir: project.dir, name: 'cjs' });
    expect((await nodeRequest(url)).body).toBe('cjs one');
    await project.write('lib.cjs', `module.exports = { label: 'cjs two' };\n`);
    await service.reload(configOf(project, { app: './app.cjs' }), signal());
    expect((await nodeRequest(url)).body).toBe('cjs two');
  });

  it('restores the previous app on a reload back to the config object it ran (a rollback), whatever the files say', async () => {
    const project = await createProject({ 'app.mjs': appV(1), 'lib.mjs': lib('lib') });
    const { service, ctx, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'rollback' });
    await project.write('app.mjs', appV(2));
    await service.reload(configOf(project), signal());
    expect((await nodeRequest(url)).body).toBe('lib v2');
    await service.reload(ctx.config, signal());
    expect((await nodeRequest(url)).body).toBe('lib v1');
  });
});

describe('http reload: settings', () => {
  it('applies limits to the running server: new connections and timeouts, open connections kept', async () => {
    const project = await createProject({ 'app.mjs': appV(1), 'lib.mjs': lib('lib') });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'limits' });
    const client = new KeepAliveClient(url);
    const big = { 'x-big': 'a'.repeat(4_000) };
    expect((await nodeRequest(url, { headers: big })).status).toBe(200);
    expect((await client.get('/')).body).toBe('lib v1');

    await service.reload(configOf(project, { maxHeaderSize: 2_048, headersTimeout: '300ms', keepAliveTimeout: '9s' }), signal());
    expect(service.handle().limits).toMatchObject({ maxHeaderSize: 2_048, headersTimeout: 300, keepAliveTimeout: 9_000 });
    expect(service.handle().server?.keepAliveTimeout).toBe(9_000);
    expect((await nodeRequest(url, { headers: big })).status).toBe(431);
    // a client that never finishes its headers is cut by the new, short headersTimeout
    const port = Number(new URL(url).port);
    const slow = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 15_000);
    expect(slow.closedByServer).toBe(true);
    expect(statusOf(slow.text)).toBe(408);
    expect((await client.get('/')).body).toBe('lib v1');
    expect(client.closed).toBe(0);
    client.close();
  });

  it('adds, moves and removes static folders in place; a missing folder rejects and changes nothing', async () => {
    const project = await createProject({ 'app.mjs': appV(1), 'lib.mjs': lib('app'), 'public/a.txt': 'from public', 'other/a.txt': 'from other' });
    const { service, url } = await startService({ app: './app.mjs' }, { baseDir: project.dir, name: 'statics' });
    const client = new KeepAliveClient(url);
    expect((await client.get('/assets/a.txt')).body).toBe('app v1');
    await service.reload(configOf(project, { static: { '/assets': './public' } }), signal());
    expect((await client.get('/assets/a.txt')).body).toBe('from public');
    await service.reload(configOf(project, { static: { '/assets': './other' } }), signal());
    expect((await client.get('/assets/a.txt')).body).toBe('from other');
    const missing = await service.reload(configOf(project, { static: { '/assets': './missing' } }), signal()).then(() => undefined, (e: unknown) => e);
    expect((missing as HendrixError).code).toBe('HX_ERR_HTTP_STATIC');
    expect((await client.get('/assets/a.txt')).body).toBe('from other');
    await service.reload(configOf(project), signal());
    expect((await client.get('/assets/a.txt')).body).toBe('app v1');
    expect(client.closed).toBe(0);
    client.close();
  });

  it('switches exposeErrors and the access log in place, and logs one line per reload', async () => {
    const project = await createProject({ 'app.mjs': `export default function app(req, res) {\n  if (req.url === '/boom') throw new Error('kaboom');\n  res.end('ok');\n}\n` });
    const { log, lines } = createCapturingLogger();
    const { service, url } = await startService({ app: './app.mjs', accessLog: false }, { baseDir: project.dir, name: 'settings', log });
    expect((await nodeRequest(`${url}/boom`)).body).not.toMatch(/kaboom/);
    expect(lines.filter((l) => l['msg'] === 'request')).toHaveLength(0);
    await service.reload(configOf(project, { accessLog: 'info', exposeErrors: true }), signal());
    expect((await nodeRequest(`${url}/boom`)).body).toMatch(/kaboom/);
    expect(lines.filter((l) => l['msg'] === 'request' && l['path'] === '/boom')).toHaveLength(1);
    expect(lines.filter((l) => l['msg'] === 'reloaded').map((l) => l['changed'])).toEqual([['accessLog', 'exposeErrors']]);
  });
});

describe('http rebind', () => {
  it('runs an app factory again so that the app holds the new handle of its dependency', async () => {
    const factory = `export default function make(ctx) {\n  const store = ctx.peer('store');\n  return (req, res) => res.end(store.name);\n}\n`;
    const project = await createProject({ 'app.mjs': factory });
    const peers: Record<string, unknown> = { store: { name: 'store one' } };
    const ctx = { ...createTestContext({ app: './app.mjs' }, { baseDir: project.dir, name: 'rebind' }), peer: <T>(name: string) => peers[name] as T };
    const { HttpService } = await import('./service.js');
    const service = new HttpService(ctx);
    await service.start(signal());
    try {
      const url = service.address()!;
      const client = new KeepAliveClient(url);
      expect((await client.get('/')).body).toBe('store one');
      peers['store'] = { name: 'store two' };
      await service.rebind('store', signal());
      expect((await client.get('/')).body).toBe('store two');
      expect(client.closed).toBe(0);
      client.close();
    } finally {
      await service.stop(AbortSignal.timeout(2_000));
    }
  });
});

describe('http canReload', () => {
  it('reloads in place everything but listen (and fields it does not know)', async () => {
    const { httpKind } = await import('./kind.js');
    const can = (fields: string[][], roles: string[] = []) =>
      httpKind.canReload!({ fields, files: roles.map((role) => ({ path: `/p/${role}`, role: role as 'app' })) });
    expect(can([['app']], ['app', 'module'])).toBe(true);
    expect(can([], ['module', 'static'])).toBe(true);
    expect(can([['static', '/assets'], ['headersTimeout'], ['requestTimeout'], ['keepAliveTimeout'], ['maxHeaderSize']])).toBe(true);
    expect(can([['accessLog'], ['exposeErrors'], ['crosstown', 'threads'], ['crosstown', 'journal'], ['crosstown', 'skipStatus']])).toBe(true);
    expect(can([['listen']])).toBe(false);
    expect(can([['app'], ['listen']])).toBe(false);
    expect(can([['someFutureField']])).toBe(false);
    expect(can([], ['cert'])).toBe(false);
  });
});
