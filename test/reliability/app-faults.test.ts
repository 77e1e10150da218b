import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { defineServiceKind, up, z, type ServiceKind } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { logLines, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { HubClient } from '../helpers/pubsub/test-client.js';

/**
 * One app's bug is not everyone's outage (#13): a fault of app code outside any handler — a
 * timer that throws, a promise nobody awaits — is blamed on the service that raised it. An
 * unhandled rejection crashes only that service (its restart policy applies); an uncaught
 * exception stops the whole graph gracefully and `hendrix up` exits 5 for a supervisor to
 * restart it. Each case runs the built CLI (`npm run build`) on a small manifest.
 */

const faultyKind = fileURLToPath(new URL('../fixtures/kinds/faulty-kind.mjs', import.meta.url));
const project = useManifestDirs();
const running: CliProcess[] = [];
const clients: HubClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.ws.terminate();
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

type Line = Record<string, unknown>;
const isReady = (l: Line): boolean => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const errOf = (l: Line): Record<string, unknown> => (l.err ?? {}) as Record<string, unknown>;

function upIn(dir: string): CliProcess {
  const p = spawnCli(['up'], { cwd: dir });
  running.push(p);
  return p;
}

/** GET that resolves once the response head is in (the body streams on). */
function startGet(url: string): Promise<{ status: number; body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (d: string) => (text += d));
      const body = new Promise<string>((done, fail) => {
        res.on('end', () => done(text));
        res.on('error', fail);
        res.on('aborted', () => fail(new Error(`aborted after ${JSON.stringify(text)}`)));
      });
      body.catch(() => undefined);
      resolve({ status: res.statusCode ?? 0, body });
    })
      .on('error', reject)
      .end();
  });
}

/** How many times a service logged `ready` (a restarted one: twice). */
const readyCount = (p: CliProcess, service: string): number => logLines(p).filter((l) => l.service === service && l.msg === 'ready').length;

/** No raw stack on the way out: the fault is a code, a message and a file:line:col. */
function expectNoStack(p: CliProcess): void {
  expect(p.stderr()).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  for (const line of logLines(p)) expect(errOf(line).stack).toBeUndefined();
}

describe('an unhandled rejection', () => {
  it('in a request handler crashes only that service: it restarts, another service keeps serving, the process stays up', async () => {
    const dir = project({
      'app.mjs': [
        'export default function app(req, res) {',
        "  if (req.url === '/reject') {",
        "    Promise.reject(new Error('nobody awaited this'));",
        "    return res.end('rejected');",
        '  }',
        "  res.end('web');",
        '}',
      ].join('\n'),
      'other.mjs': "export default (req, res) => res.end('other');",
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs, restart: { backoff: { initial: 50ms } } }',
        '  other: { kind: http, listen: "127.0.0.1:0", app: ./other.mjs }',
      ].join('\n'),
    });
    const p = upIn(dir);
    const ready = await p.waitForLog(isReady, 15_000);
    const { web = '', other = '' } = ready.services as Record<string, string>;
    expect(await (await fetch(`${web}/reject`)).text()).toBe('rejected');

    const crash = await p.waitForLog((l) => l.service === 'web' && l.msg === 'crashed, restarting', 15_000);
    expect(errOf(crash)).toMatchObject({ code: 'HX_ERR_UNHANDLED_REJECTION', message: 'web: unhandled rejection: nobody awaited this', at: `${join(dir, 'app.mjs')}:3:20` });
    // a new instance of web (on a new port: the manifest says port 0) serves again
    const relisten = await p.waitForLog((l) => l.service === 'web' && l.msg === 'listening' && l.address !== web, 15_000);
    expect(await (await fetch(String(relisten.address))).text()).toBe('web');
    expect(await (await fetch(other)).text()).toBe('other');
    expect(logLines(p).filter((l) => l.service === 'other').map((l) => l.msg)).toEqual(['listening', 'ready']);
    expect(p.process.exitCode).toBeNull();
    expectNoStack(p);

    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });

  it('of a promise a custom kind made in start() is blamed on that instance by the start context, though the stack names no file', async () => {
    const dir = project({
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        `  steady: { kind: ${faultyKind} }`,
        `  flaky: { kind: ${faultyKind}, fault: reject-native, restart: { backoff: { initial: 50ms } } }`,
      ].join('\n'),
      'app.mjs': "export default (req, res) => res.end('web');",
    });
    const p = upIn(dir);
    const crash = await p.waitForLog((l) => l.service === 'flaky' && l.msg === 'crashed, restarting', 15_000);
    expect(errOf(crash)).toMatchObject({ code: 'HX_ERR_UNHANDLED_REJECTION' });
    expect(String(errOf(crash).message)).toMatch(/^flaky: unhandled rejection: ENOENT/);
    // no project frame: the place is the service's declaration in the manifest
    expect(errOf(crash).at).toMatch(/hendrix\.yaml:5:\d+$/);
    await p.waitForLog(() => readyCount(p, 'flaky') === 2, 15_000);
    expect(logLines(p).filter((l) => l.service === 'steady').map((l) => l.msg)).toEqual(['ready']);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });

  it('in a custom kind\u2019s callback is blamed on it by the stack (the kind module is its code)', async () => {
    const dir = project({
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        `  flaky: { kind: ${faultyKind}, fault: reject, restart: { backoff: { initial: 50ms } } }`,
      ].join('\n'),
      'app.mjs': "export default (req, res) => res.end('web');",
    });
    const p = upIn(dir);
    const crash = await p.waitForLog((l) => l.service === 'flaky' && l.msg === 'crashed, restarting', 15_000);
    expect(errOf(crash)).toMatchObject({ code: 'HX_ERR_UNHANDLED_REJECTION', message: 'flaky: unhandled rejection: flaky rejected in its timer' });
    expect(errOf(crash).at).toMatch(new RegExp(`${faultyKind.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+$`));
    await p.waitForLog(() => readyCount(p, 'flaky') === 2, 15_000);
    expect(logLines(p).filter((l) => l.service === 'web').map((l) => l.msg)).toEqual(['listening', 'ready']);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });
});

describe('a rejection whose stack names nothing (a bare string) in work a request started', () => {
  // inside the repository, so that the app's `import ... from 'hendrix'` resolves
  const fixture = fileURLToPath(new URL('../fixtures/app-faults/', import.meta.url));
  const rejectVia = async (app: string): Promise<{ p: CliProcess; web: string }> => {
    const p = spawnCli(['up'], { cwd: fixture, env: { APP: app } });
    running.push(p);
    const ready = await p.waitForLog(isReady, 15_000);
    const web = (ready.services as Record<string, string>)['web'] ?? '';
    expect(await (await fetch(`${web}/reject`)).text()).toBe('web');
    return { p, web };
  };

  it("is blamed on the request's service through the request context, once crosstown turned it on", async () => {
    const { p } = await rejectVia('./crosstown-app.mjs');
    const crash = await p.waitForLog((l) => l.service === 'web' && l.msg === 'crashed, restarting', 15_000);
    expect(errOf(crash)).toMatchObject({ code: 'HX_ERR_UNHANDLED_REJECTION', message: 'web: unhandled rejection: a bare string, no stack' });
    await p.waitForLog(() => readyCount(p, 'web') === 2, 15_000);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });

  it("is logged as the process's and stops nothing when no context names a service", async () => {
    const { p, web } = await rejectVia('./plain-app.mjs');
    const line = await p.waitForLog((l) => l.msg === 'unhandled rejection (no service to blame): the graph keeps running', 15_000);
    expect(line.service).toBe('hendrix');
    expect(errOf(line)).toMatchObject({ code: 'HX_ERR_UNHANDLED_REJECTION', message: 'the process: unhandled rejection: a bare string, no stack' });
    // the same instance still serves: nothing crashed, nothing restarted
    expect(await (await fetch(web)).text()).toBe('web');
    expect(readyCount(p, 'web')).toBe(1);
    expect(logLines(p).some((l) => l.msg === 'crashed, restarting')).toBe(false);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });
});

describe('an uncaught exception', () => {
  it('in an app timer stops the graph gracefully: the request in flight finishes, the hub closes its WebSockets 1001, exit 5', async () => {
    const dir = project({
      'app.mjs': [
        'let finishSlow;',
        'export default function app(req, res) {',
        "  if (req.url === '/slow') {",
        "    res.writeHead(200, { 'content-type': 'text/plain' });",
        "    res.write('started ');",
        "    finishSlow = () => res.end('finished');",
        '    return;',
        '  }',
        "  if (req.url === '/boom') {",
        "    setTimeout(() => { throw new Error('the app timer threw'); }, 10);",
        '    // the slow response ends well after the throw: it is in flight while the graph stops',
        '    setTimeout(() => finishSlow?.(), 300);',
        "    return res.end('boom');",
        '  }',
        "  res.end('web');",
        '}',
      ].join('\n'),
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        '  hub: { kind: pubsub, attach: web, path: /hub }',
      ].join('\n'),
    });
    const p = upIn(dir);
    const ready = await p.waitForLog(isReady, 15_000);
    const { web = '', hub = '' } = ready.services as Record<string, string>;
    const client = await HubClient.connect(hub);
    clients.push(client);
    await client.request({ type: 'subscribe', topic: 'news' });
    const slow = await startGet(`${web}/slow`);
    expect(slow.status).toBe(200);
    expect(await (await fetch(`${web}/boom`)).text()).toBe('boom');

    expect(await p.exited()).toBe(5);
    expect(await slow.body).toBe('started finished');
    expect([1001, 1011]).toContain(client.closed?.code ?? (await client.whenClosed()).code);

    const lines = logLines(p);
    const fault = lines.find((l) => l.msg === 'uncaught exception: stopping the graph');
    expect(fault?.service).toBe('web');
    expect(errOf(fault ?? {})).toMatchObject({ code: 'HX_ERR_UNCAUGHT_EXCEPTION', message: 'web: uncaught exception: the app timer threw', at: `${join(dir, 'app.mjs')}:10:30` });
    const msgs = lines.map((l) => `${String(l.service)}: ${String(l.msg)}`);
    expect(msgs.indexOf('web: stopped')).toBeGreaterThan(msgs.indexOf('hub: stopped'));
    expect(msgs[msgs.length - 1]).toBe('hendrix: stopped');
    expect(p.stderr()).toContain('error[HX_ERR_UNCAUGHT_EXCEPTION]: web: uncaught exception: the app timer threw');
    expect(p.stderr()).toContain("setTimeout(() => { throw new Error('the app timer threw'); }, 10);");
    expectNoStack(p);
  });

  it('in a timer an app module set at import, while the plan imports it, ends the run before anything starts: exit 5', async () => {
    const dir = project({
      'app.mjs': [
        "setTimeout(() => { throw new Error('thrown while the plan imports me'); }, 0);",
        'await new Promise((resolve) => setTimeout(resolve, 20));',
        "export default (req, res) => res.end('web');",
      ].join('\n'),
      'hendrix.yaml': 'version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n',
    });
    const p = upIn(dir);
    expect(await p.exited()).toBe(5);
    const lines = logLines(p);
    expect(lines.some((l) => l.msg === 'ready' || l.msg === 'listening')).toBe(false);
    const line = lines.find((l) => l.msg === 'uncaught exception: stopping the graph');
    expect(errOf(line ?? {})).toMatchObject({ code: 'HX_ERR_UNCAUGHT_EXCEPTION', at: `${join(dir, 'app.mjs')}:1:26` });
    expect(p.stderr()).toContain('error[HX_ERR_UNCAUGHT_EXCEPTION]');
    expectNoStack(p);
  });

  it.each([
    ['its own code', 'throw', /^flaky: uncaught exception: flaky threw in its timer$/],
    ["Node's code (no frame of the kind in the stack)", 'throw-native', /^flaky: uncaught exception: .*JSON/],
  ])('in a timer a custom kind set in start() (%s) is blamed on that instance, not its twin; the graph stops, exit 5', async (_what, fault, message) => {
    const dir = project({
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        `  steady: { kind: ${faultyKind} }`,
        `  flaky: { kind: ${faultyKind}, fault: ${fault} }`,
      ].join('\n'),
      'app.mjs': "export default (req, res) => res.end('web');",
    });
    const p = upIn(dir);
    expect(await p.exited()).toBe(5);
    const lines = logLines(p);
    const line = lines.find((l) => l.msg === 'uncaught exception: stopping the graph');
    expect(line?.service).toBe('flaky');
    expect(errOf(line ?? {})).toMatchObject({ code: 'HX_ERR_UNCAUGHT_EXCEPTION' });
    expect(String(errOf(line ?? {}).message)).toMatch(message);
    const msgs = lines.map((l) => `${String(l.service)}: ${String(l.msg)}`);
    for (const service of ['web', 'steady', 'flaky']) expect(msgs).toContain(`${service}: stopped`);
    expectNoStack(p);
  });
});

describe('up() and the process listeners', () => {
  const manifest = (): string =>
    join(
      project({
        'app.mjs': "export default (req, res) => res.end('ok');",
        'hendrix.yaml': 'version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }\n',
      }),
      'hendrix.yaml',
    );
  const counts = (): number[] => [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];

  it('installs them while a graph runs, once for two graphs, and removes them with the last', async () => {
    const before = counts();
    const a = await up(manifest(), { logger: createSilentLogger() });
    const b = await up(manifest(), { logger: createSilentLogger() });
    try {
      expect(counts()).toEqual(before.map((n) => n + 1));
      await a.stop();
      expect(counts()).toEqual(before.map((n) => n + 1));
    } finally {
      await a.stop();
      await b.stop();
    }
    expect(counts()).toEqual(before);
    expect(a.fault).toBeUndefined();
  });

  it('leaves them to the embedding app with handleFaults: false, and removes them after a failed start', async () => {
    const before = counts();
    const app = await up(manifest(), { logger: createSilentLogger(), handleFaults: false });
    expect(counts()).toEqual(before);
    await app.stop();
    // cast: a kind with its own schema type is not assignable to the default ServiceKind (as in test/helpers)
    const broken = defineServiceKind({
      kind: 'broken',
      schema: z.strictObject({}),
      create: () => ({
        start: () => Promise.reject(new Error('cannot start')),
        stop: () => Promise.resolve(),
      }),
    }) as unknown as ServiceKind;
    const dir = project({ 'hendrix.yaml': 'version: 1\nservices:\n  b: { kind: broken }\n' });
    await expect(up(join(dir, 'hendrix.yaml'), { logger: createSilentLogger(), kinds: { broken } })).rejects.toMatchObject({ code: 'HX_ERR_START_FAILED' });
    expect(counts()).toEqual(before);
  });
});
