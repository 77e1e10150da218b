import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { detectShape, loadApp, parseAppSpec, raceAbort } from './app-loader.js';
import { createTestContext } from '../../test/helpers/http/test-context.js';
import { startService, stopAll } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

const never = (): AbortSignal => new AbortController().signal;

async function loadError(app: string, baseDir?: string): Promise<HendrixError> {
  const ctx = createTestContext({ app }, baseDir === undefined ? {} : { baseDir });
  const error = (await loadApp(ctx, never()).then(
    () => undefined,
    (e: unknown) => e,
  )) as HendrixError | undefined;
  expect(error?.name).toBe('HendrixError');
  expect(error?.service).toBe('web');
  expect(error?.location).toEqual({ file: 'hendrix.yaml', line: 4, column: 5 });
  expect(error?.path).toEqual(['services', 'web', 'app']);
  return error!;
}

describe('parseAppSpec', () => {
  it('splits off the export name', () => {
    expect(parseAppSpec('./app.mjs')).toEqual({ specifier: './app.mjs', exportName: undefined });
    expect(parseAppSpec('./app.mjs#api')).toEqual({ specifier: './app.mjs', exportName: 'api' });
    expect(parseAppSpec('@scope/pkg/sub#handler')).toEqual({ specifier: '@scope/pkg/sub', exportName: 'handler' });
    expect(parseAppSpec('#internal')).toEqual({ specifier: '#internal', exportName: undefined });
    expect(parseAppSpec('./app.mjs#')).toEqual({ specifier: './app.mjs#', exportName: undefined });
  });
});

describe('detectShape', () => {
  it('tells the shapes apart by what they are and their arity', () => {
    expect(detectShape((_req: unknown, _res: unknown) => undefined).type).toBe('node');
    expect(detectShape(function express(_req: unknown, _res: unknown, _next: unknown) {}).type).toBe('node');
    expect(detectShape(async (_req: unknown, _res: unknown) => undefined).type).toBe('node');
    expect(detectShape((_ctx: unknown) => undefined).type).toBe('factory');
    expect(detectShape(() => undefined).type).toBe('factory');
    expect(detectShape({ fetch: () => new Response() }).type).toBe('fetch');
    expect(detectShape(new (class { fetch(): Response { return new Response(); } })()).type).toBe('fetch');
    expect(detectShape({ use() {}, callback: () => (_req: unknown, _res: unknown) => undefined }).type).toBe('node');
  });

  it('says what it found when the shape is unknown', () => {
    expect(detectShape(class Api {})).toMatchObject({ type: 'unknown', found: expect.stringMatching(/^a class Api/) });
    expect(detectShape({ a: 1, b: 2 })).toEqual({ type: 'unknown', found: 'an object with keys a, b' });
    expect(detectShape(null)).toEqual({ type: 'unknown', found: 'null' });
    expect(detectShape('app')).toEqual({ type: 'unknown', found: 'a string (app)' });
    expect(detectShape(new Map())).toEqual({ type: 'unknown', found: 'an instance of Map without a fetch method' });
  });
});

describe('loadApp errors', () => {
  it('a missing module is HX_ERR_APP_LOAD "not found"', async () => {
    const error = await loadError('./no-such-app.mjs');
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/^app module not found: \.\/no-such-app\.mjs/);
  });

  it('a missing package is HX_ERR_APP_LOAD "not found"', async () => {
    const error = await loadError('hendrix-no-such-package-anywhere');
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/^app module not found: hendrix-no-such-package-anywhere/);
  });

  it('a module that throws while loading is HX_ERR_APP_LOAD with the cause', async () => {
    const error = await loadError('./throws-on-import.mjs');
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/failed to load: cannot initialise the app/);
    expect((error.cause as Error).message).toBe('cannot initialise the app');
  });

  it("a module whose own import is missing fails to load (it is not reported as the app missing)", async () => {
    const error = await loadError('./imports-missing.mjs');
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/^app module \.\/imports-missing\.mjs failed to load/);
  });

  it('a missing named export is HX_ERR_APP_LOAD listing the exports', async () => {
    const error = await loadError('./named.mjs#nope');
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toBe('app module ./named.mjs has no export named "nope" (it exports: api, default, other)');
  });

  it('no default export is HX_ERR_APP_SHAPE', async () => {
    const error = await loadError('./no-default.mjs');
    expect(error.code).toBe('HX_ERR_APP_SHAPE');
    expect(error.message).toMatch(/has no default export \(it exports: handler\)/);
  });

  it.each([
    ['./bad-shapes.mjs', /is a number \(42\)/],
    ['./bad-shapes.mjs#Handler', /is a class Handler; export an instance of it instead/],
    ['./bad-shapes.mjs#plainObject', /is an object with keys handler, port/],
    ['./bad-shapes.mjs#noDefault', /is undefined, not a/],
    ['./bad-shapes.mjs#factoryOfFactory', /returned a function with 1 parameter \(a factory may not return another factory\)/],
    ['./bad-shapes.mjs#factoryOfNumber', /returned a number \(7\)/],
  ])('%s is HX_ERR_APP_SHAPE', async (app, message) => {
    const error = await loadError(app);
    expect(error.code).toBe('HX_ERR_APP_SHAPE');
    expect(error.message).toMatch(message);
  });

  it('a factory that throws is HX_ERR_APP_LOAD', async () => {
    const error = await loadError('./bad-shapes.mjs#throwingFactory');
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/app factory \.\/bad-shapes\.mjs#throwingFactory failed: factory exploded/);
  });
});

describe('loadApp', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hendrix-pkg-'));
    const pkg = join(dir, 'node_modules', 'fake-app');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'fake-app', type: 'module', exports: { '.': './index.js', './api': './api.js' } }));
    await writeFile(join(pkg, 'index.js'), 'export default (req, res) => res.end("from a package");\n');
    await writeFile(join(pkg, 'api.js'), 'export const api = { fetch: () => new Response("package subpath") };\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('resolves a package specifier from the base folder, subpaths and #name included', async () => {
    const main = await startService({ app: 'fake-app' }, { baseDir: dir });
    expect(await (await fetch(main.url)).text()).toBe('from a package');
    const sub = await startService({ app: 'fake-app/api#api' }, { baseDir: dir });
    expect(await (await fetch(sub.url)).text()).toBe('package subpath');
  });

  it('calls a factory exactly once however many requests come', async () => {
    const { url } = await startService({ app: './factory-counting.mjs' });
    const before = (globalThis as { __hendrixFactoryCalls?: number }).__hendrixFactoryCalls ?? 0;
    const bodies = await Promise.all([1, 2, 3].map(async () => (await fetch(url)).text()));
    expect(new Set(bodies).size).toBe(1);
    expect((globalThis as { __hendrixFactoryCalls?: number }).__hendrixFactoryCalls).toBe(before);
  });
});

describe('raceAbort', () => {
  it('rejects with the reason when the signal aborts first, and passes results through otherwise', async () => {
    const controller = new AbortController();
    const pending = raceAbort(new Promise(() => undefined), controller.signal);
    controller.abort(new Error('too slow'));
    await expect(pending).rejects.toThrow('too slow');
    await expect(raceAbort(Promise.resolve(5), never())).resolves.toBe(5);
    await expect(raceAbort(Promise.resolve(5), AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
