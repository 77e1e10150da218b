import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { flattenErrors } from '../../src/errors/render.js';
import { createPlan, type Plan } from '../../src/runtime/plan.js';
import { createTestContext } from '../../test/helpers/http/test-context.js';
import { testKinds } from '../../test/helpers/kinds.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { HttpService } from './service.js';

const makeDir = useManifestDirs();

/** A manifest with one http service `web` whose extra lines come after `kind: http`. */
const manifest = (...lines: string[]) => ['version: 1', 'services:', '  web:', '    kind: http', '    listen: 127.0.0.1:0', ...lines.map((l) => `    ${l}`), ''].join('\n');

const HELLO = 'export default (req, res) => res.end("hi");\n';

function plan(dir: string, importModules = true): Promise<Plan> {
  return createPlan(['hendrix.yaml'], { kinds: testKinds, cwd: dir, environment: {}, importModules });
}

async function problems(dir: string, importModules = true): Promise<HendrixError[]> {
  const error = await plan(dir, importModules).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isHendrixError(error)) throw new Error(`expected the plan to fail, got ${String(error)}`);
  expect(error.code).toBe('HX_ERR_MANIFEST');
  return flattenErrors(error);
}

async function problem(dir: string, importModules = true): Promise<HendrixError> {
  const list = await problems(dir, importModules);
  expect(list.map((e) => e.code)).toHaveLength(1);
  return list[0]!;
}

const at = (file: string, line: number, column: number) => expect.objectContaining({ file, line, column });
const namedHere = (line: number) => ({ message: 'named here', location: at('hendrix.yaml', line, 10) });

describe('http provision: the app module', () => {
  it('a missing app file is HX_ERR_APP_LOAD at the manifest line, with or without import', async () => {
    const dir = makeDir({ 'hendrix.yaml': manifest('app: ./missing.mjs') });
    for (const importModules of [true, false]) {
      const error = await problem(dir, importModules);
      expect(error.code).toBe('HX_ERR_APP_LOAD');
      expect(error.message).toBe(`\`app\` names ./missing.mjs, which does not exist (looked at ${join(dir, 'missing.mjs')})`);
      expect(error.location).toEqual(at('hendrix.yaml', 6, 10));
      expect(error.path).toEqual(['services', 'web', 'app']);
      expect(error.service).toBe('web');
    }
  });

  it("a syntax error is placed at the app's own line and column, the manifest line related", async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.mjs'),
      'app.mjs': 'const greeting = "hi";\n\nexport default function (req, res) {\n  let x = ;\n  res.end(greeting);\n}\n',
    });
    const error = await problem(dir);
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toBe("app module ./app.mjs has a syntax error: Unexpected token ';'");
    expect(error.location).toEqual({ file: join(dir, 'app.mjs'), line: 4, column: 11, endLine: 4, endColumn: 12 });
    expect(error.related).toEqual([namedHere(6)]);
  });

  it('a syntax error in an imported module is placed there, with the import chain', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.mjs'),
      'app.mjs': "import { route } from './routes/index.mjs';\nexport default (req, res) => route(req, res);\n",
      'routes/index.mjs': "export { route } from './users.mjs';\n",
      'routes/users.mjs': 'export function route(req, res) {\n  res.end(}\n}\n',
    });
    const error = await problem(dir);
    expect(error.message).toBe(`app module ./app.mjs cannot load: ${join(dir, 'routes/users.mjs')} has a syntax error: Unexpected token '}'`);
    expect(error.location).toEqual(at(join(dir, 'routes/users.mjs'), 2, 11));
    expect(error.related).toEqual([
      { message: `${join(dir, 'routes/index.mjs')} is imported here`, location: at(join(dir, 'app.mjs'), 1, 24) },
      { message: `${join(dir, 'routes/users.mjs')} is imported here`, location: at(join(dir, 'routes/index.mjs'), 1, 24) },
      namedHere(6),
    ]);
  });

  it('a syntax error in a required CommonJS file is placed there, an unexpected end at its last line', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.cjs'),
      'app.cjs': "const routes = require('./routes');\nmodule.exports = (req, res) => routes(req, res);\n",
      'routes.js': 'module.exports = function (req, res) {\n  if (req.url) {\n    res.end();\n};\n',
    });
    const error = await problem(dir);
    expect(error.message).toBe(`app module ./app.cjs cannot load: ${join(dir, 'routes.js')} has a syntax error: Unexpected end of input`);
    expect(error.location).toEqual({ file: join(dir, 'routes.js'), line: 5, column: 1 });
    expect(error.related).toEqual([{ message: `${join(dir, 'routes.js')} is imported here`, location: at(join(dir, 'app.cjs'), 1, 25) }, namedHere(6)]);
  });

  it('a throw while importing is placed at the throwing line of the app or of the module it imports', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.mjs'),
      'app.mjs': "import { config } from './config.mjs';\n\nif (!config.ready) throw new Error('the app is not configured');\nexport default (req, res) => res.end();\n",
      'config.mjs': 'export const config = { ready: false };\n',
      'deep/hendrix.yaml': manifest('app: ./app.mjs'),
      'deep/app.mjs': "import './setup.mjs';\nexport default (req, res) => res.end();\n",
      'deep/setup.mjs': "const url = undefined;\n\nexport const db = url.split(':');\n",
    });
    const own = await problem(dir);
    expect(own.code).toBe('HX_ERR_APP_LOAD');
    expect(own.message).toBe('app module ./app.mjs failed to load: the app is not configured');
    expect(own.location).toEqual(at(join(dir, 'app.mjs'), 3, 26));
    expect(own.related).toEqual([namedHere(6)]);
    const deep = await problem(join(dir, 'deep'));
    expect(deep.message).toMatch(/^app module \.\/app\.mjs failed to load: Cannot read properties of undefined \(reading 'split'\)$/);
    expect(deep.location).toEqual(at(join(dir, 'deep/setup.mjs'), 3, 23));
    expect(deep.related).toEqual([{ message: `${join(dir, 'deep/setup.mjs')} is imported here`, location: at(join(dir, 'deep/app.mjs'), 1, 9) }, namedHere(6)]);
  });

  it('a module without a usable export is HX_ERR_APP_SHAPE at the manifest line, saying what it exports', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.mjs'),
      'app.mjs': 'export const handler = (req, res) => res.end();\nexport const port = 8000;\n',
      'named.mjs': 'export const api = { routes: [] };\n',
    });
    const error = await problem(dir);
    expect(error.code).toBe('HX_ERR_APP_SHAPE');
    expect(error.message).toBe('app module ./app.mjs has no default export (it exports: handler, port); add one or name an export with ./app.mjs#name');
    expect(error.location).toEqual(at('hendrix.yaml', 6, 10));
    writeFileSync(join(dir, 'hendrix.yaml'), manifest('app: ./named.mjs#api'));
    const named = await problem(dir);
    expect(named.code).toBe('HX_ERR_APP_SHAPE');
    expect(named.message).toMatch(/^app \.\/named\.mjs#api is an object with keys routes, not a \(req, res\) listener/);
  });

  it('recognizes a factory by its shape without calling it', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.mjs'),
      'app.mjs': "import { writeFileSync } from 'node:fs';\nexport default (ctx) => {\n  writeFileSync(new URL('./called', import.meta.url), 'yes');\n  return (req, res) => res.end();\n};\n",
    });
    await expect(plan(dir)).resolves.toBeDefined();
    expect(existsSync(join(dir, 'called'))).toBe(false);
  });

  it('resolves a package app from the manifest folder and reports one that is not installed', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: fake-app'),
      'node_modules/fake-app/package.json': JSON.stringify({ name: 'fake-app', type: 'module', main: 'index.js' }),
      'node_modules/fake-app/index.js': "import './lib.js';\nexport default (req, res) => res.end();\n",
      'node_modules/fake-app/lib.js': 'export {};\n',
    });
    const web = (await plan(dir)).services.get('web')!;
    expect(web.files.filter((f) => f.role !== 'manifest').map((f) => [f.role, f.path])).toEqual([['app', join(dir, 'node_modules/fake-app/index.js')]]);
    writeFileSync(join(dir, 'hendrix.yaml'), manifest('app: not-installed-anywhere'));
    const error = await problem(dir);
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/^`app` names the package not-installed-anywhere, which cannot be found from /);
  });
});

describe('http provision: the module graph', () => {
  const files = {
    'hendrix.yaml': manifest('app: ./app.mjs'),
    'app.mjs': [
      "import { users } from './lib/users.mjs';",
      "import data from './data.json' with { type: 'json' };",
      "import send from 'send';",
      "export * from './lib/reexported.mjs';",
      'export default async (req, res) => {',
      "  const { lazy } = await import('./lib/lazy.mjs');",
      '  res.end(users + data.n + lazy + send.name);',
      '};',
      '',
    ].join('\n'),
    'data.json': '{ "n": 1 }\n',
    'lib/users.mjs': "import legacy from '../legacy/index.cjs';\nimport './users.mjs';\nexport const users = legacy.count;\n",
    'lib/reexported.mjs': 'export const extra = 1;\n',
    'lib/lazy.mjs': "export const lazy = 'lazy';\n",
    'legacy/index.cjs': "const helper = require('./helper');\nconst fake = require('fake-dep');\nmodule.exports = { count: helper.count };\n",
    'legacy/helper.js': 'module.exports = { count: 2 };\n',
    'node_modules/fake-dep/package.json': '{ "name": "fake-dep" }\n',
    'node_modules/fake-dep/index.js': "require('./inner');\n",
    'node_modules/fake-dep/inner.js': 'module.exports = 1;\n',
  };

  it('records the app and every project module it imports, transitively, not node_modules', async () => {
    const dir = makeDir(files);
    for (const importModules of [false, true]) {
      const web = (await plan(dir, importModules)).services.get('web')!;
      const own = web.files.filter((f) => f.role !== 'manifest');
      expect(own.map((f) => [f.role, f.path.slice(dir.length + 1)])).toEqual([
        ['app', 'app.mjs'],
        ['module', 'lib/users.mjs'],
        ['module', 'data.json'],
        ['module', 'lib/reexported.mjs'],
        ['module', 'lib/lazy.mjs'],
        ['module', 'legacy/index.cjs'],
        ['module', 'legacy/helper.js'],
      ]);
      expect(own.every((f) => f.field?.join('.') === 'app' && typeof f.digest === 'string')).toBe(true);
    }
  });

  it('the fingerprint follows an imported module; a comment in the manifest changes neither fingerprint', async () => {
    const dir = makeDir(files);
    const before = (await plan(dir, false)).services.get('web')!;
    writeFileSync(join(dir, 'legacy/helper.js'), 'module.exports = { count: 3 };\n');
    const edited = (await plan(dir, false)).services.get('web')!;
    expect(edited.configFingerprint).toBe(before.configFingerprint);
    expect(edited.fingerprint).not.toBe(before.fingerprint);
    writeFileSync(join(dir, 'hendrix.yaml'), `# the web front\n${files['hendrix.yaml']}`);
    const commented = (await plan(dir, false)).services.get('web')!;
    expect(commented.configFingerprint).toBe(edited.configFingerprint);
    expect(commented.fingerprint).toBe(edited.fingerprint);
  });

  it('a static import of a missing project file is reported where it is written, also without import', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('app: ./app.mjs'),
      'app.mjs': "import { db } from './lib/db.mjs';\nexport default (req, res) => res.end(db);\n",
      'lib/db.mjs': "import { pool } from './pool.mjs';\nexport const db = pool;\n",
    });
    for (const importModules of [false, true]) {
      const error = await problem(dir, importModules);
      expect(error.code).toBe('HX_ERR_APP_LOAD');
      expect(error.message).toBe(`${join(dir, 'lib/db.mjs')} imports ./pool.mjs, which does not exist (looked at ${join(dir, 'lib/pool.mjs')})`);
      expect(error.location).toEqual({ file: join(dir, 'lib/db.mjs'), line: 1, column: 23, endLine: 1, endColumn: 33 });
      expect(error.related).toEqual([{ message: `${join(dir, 'lib/db.mjs')} is imported here`, location: at(join(dir, 'app.mjs'), 1, 21) }, namedHere(6)]);
    }
  });

  it('under --no-import the app is not run: a module that throws at import passes', async () => {
    const dir = makeDir({ 'hendrix.yaml': manifest('app: ./app.mjs'), 'app.mjs': "throw new Error('never run');\n" });
    const web = (await plan(dir, false)).services.get('web')!;
    expect(web.files.map((f) => f.role)).toContain('app');
    expect((await problem(dir, true)).message).toBe('app module ./app.mjs failed to load: never run');
  });
});

describe('http provision: static folders, listen, exposeErrors', () => {
  it('a static folder that is missing or a file is HX_ERR_HTTP_STATIC at its line', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest('static:', '  /assets: ./public', '  /docs: ./README.md', '  /ok: ./ok'),
      'README.md': '# hi\n',
      'ok/index.html': '<p>ok</p>\n',
    });
    const list = await problems(dir);
    expect(list.map((e) => [e.code, e.message, e.location?.line, e.location?.column])).toEqual([
      ['HX_ERR_HTTP_STATIC', `\`static["/assets"]\` names ./public, which does not exist (looked at ${join(dir, 'public')})`, 7, 16],
      ['HX_ERR_HTTP_STATIC', '`static["/docs"]` names README.md, which is not a folder', 8, 14],
    ]);
  });

  it('the service refuses at start the static folder the plan refuses', async () => {
    const dir = makeDir({ 'README.md': '# hi\n' });
    for (const [folder, what] of [['./public', 'does not exist'], ['./README.md', 'is not a folder']] as const) {
      const ctx = createTestContext({ static: { '/assets': folder } }, { baseDir: dir });
      const service = new HttpService(ctx);
      const error = (await service.start(AbortSignal.timeout(5_000)).catch((e: unknown) => e)) as HendrixError;
      expect(error.code).toBe('HX_ERR_HTTP_STATIC');
      expect(error.message).toBe(`\`static["/assets"]\` names ${join(dir, folder)}, which ${what}`);
      expect(error.path).toEqual(['services', 'web', 'static', '/assets']);
      expect(error.location).toEqual({ file: 'hendrix.yaml', line: 4, column: 5 });
      expect(service.address()).toBeUndefined();
      await service.stop(AbortSignal.timeout(1_000));
    }
  });

  it('records the static folders after the app, in manifest order', async () => {
    const dir = makeDir({ 'hendrix.yaml': manifest('app: ./app.mjs', 'static:', '  /b: ./b', '  /a: ./a'), 'app.mjs': HELLO, 'a/x': '', 'b/x': '' });
    const web = (await plan(dir)).services.get('web')!;
    expect(web.files.filter((f) => f.role !== 'manifest').map((f) => [f.role, f.path.slice(dir.length + 1)])).toEqual([
      ['app', 'app.mjs'],
      ['static', 'b'],
      ['static', 'a'],
    ]);
  });

  it('two services on one port are found by the plan', async () => {
    const dir = makeDir({
      'hendrix.yaml': 'version: 1\nservices:\n  a:\n    kind: http\n    listen: 127.0.0.1:18081\n  b:\n    kind: http\n    listen: 18081\n',
    });
    const error = await problem(dir);
    expect(error.code).toBe('HX_ERR_LISTEN_CONFLICT');
    expect(error.location).toEqual(at('hendrix.yaml', 8, 13));
    expect(error.related).toEqual([{ message: '`a` listens here', location: at('hendrix.yaml', 5, 13) }]);
  });

  it('warns about exposeErrors beyond loopback, not on loopback or a unix socket', async () => {
    const warnings = async (listen: string) => {
      const dir = makeDir({ 'hendrix.yaml': manifest('exposeErrors: true').replace('127.0.0.1:0', listen) });
      return (await plan(dir)).warnings;
    };
    const [open] = await warnings('0.0.0.0:0');
    expect(open?.code).toBe('HX_ERR_HTTP_EXPOSE_ERRORS');
    expect(open?.message).toBe('service `web` sends error messages in its 500 responses (exposeErrors) and listens on http://0.0.0.0:0, beyond loopback');
    expect(open?.location).toEqual(at('hendrix.yaml', 6, 19));
    expect(open?.exitCode).toBe(78);
    expect(await warnings('"[::]:0"')).toHaveLength(1);
    expect(await warnings('127.0.0.1:0')).toEqual([]);
    expect(await warnings('127.0.0.2:0')).toEqual([]);
    expect(await warnings('"[::1]:0"')).toEqual([]);
    expect(await warnings('localhost:0')).toEqual([]);
    expect(await warnings('./web.sock')).toEqual([]);
  });
});
