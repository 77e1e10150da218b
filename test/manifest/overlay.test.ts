import { describe, expect, it } from 'vitest';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { parseManifestText, type LoadedLayer } from '../../src/manifest/load.js';
import { mergeLayers } from '../../src/manifest/overlay.js';
import { explain, resolveManifest } from '../../src/manifest/resolve.js';
import { parseSetFlag } from '../../src/manifest/set.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { rejection } from '../helpers/rejection.js';
import { testKinds } from '../helpers/kinds.js';

const makeDir = useManifestDirs();

function file(text: string, name: string, first = true): LoadedLayer {
  const result = parseManifestText(text, name, { type: first ? 'base' : 'env', allowEmpty: !first });
  expect(result.errors).toEqual([]);
  return result.layer!;
}

function set(flag: string): LoadedLayer {
  const result = parseSetFlag(flag);
  expect(result.errors).toEqual([]);
  return result.layer!;
}

const BASE = `version: 1
services:
  web:
    kind: http
    listen: 8000
    dependsOn: [db, cache]
    restart:
      policy: always
  db:
    kind: http
    listen: 8001
  cache:
    kind: http
    listen: 8002
`;

describe('mergeLayers', () => {
  it('deep-merges maps, replaces scalars and lists', () => {
    const overlay = `services:
  web:
    listen: 9000
    dependsOn: [db]
    restart:
      limit: { burst: 1 }
`;
    const { value } = mergeLayers([file(BASE, 'hendrix.yaml'), file(overlay, 'hendrix.prod.yaml', false)]);
    expect(value.services).toMatchObject({
      web: { kind: 'http', listen: 9000, dependsOn: ['db'], restart: { policy: 'always', limit: { burst: 1 } } },
    });
  });

  it('deletes a key or a whole service with null in an overlay, and keeps the order of the rest', () => {
    const overlay = 'services:\n  cache: null\n  web:\n    restart: null\n';
    const { value } = mergeLayers([file(BASE, 'hendrix.yaml'), file(overlay, 'o.yaml', false)]);
    const services = value.services as Record<string, Record<string, unknown>>;
    expect(Object.keys(services)).toEqual(['web', 'db']);
    expect('restart' in services.web!).toBe(false);
  });

  it('keeps a null of the base file as a value, for validation to reject', () => {
    const { value } = mergeLayers([file('services:\n  web:\n    app:\n', 'hendrix.yaml')]);
    expect(value).toEqual({ services: { web: { app: null } } });
  });

  it('replaces a scalar by a map and a map by a scalar', () => {
    const { value, provenance } = mergeLayers([
      file('a: 1\nb: { c: 2 }\n', 'base.yaml'),
      file('a: { x: 1 }\nb: 3\n', 'o.yaml', false),
    ]);
    expect(value).toEqual({ a: { x: 1 }, b: 3 });
    expect(provenance.origins(['b', 'c'])).toEqual([]);
  });

  it('gives --set values YAML types and the highest precedence', () => {
    const { value } = mergeLayers([
      file(BASE, 'hendrix.yaml'),
      set('services.web.listen=9000'),
      set('services.web.app=./app.mjs#handler'),
      set('services.web.dependsOn=[db]'),
      set('services.db=null'),
      set('services.cache.exposeErrors=true'),
      set('services.cache.app='),
    ]);
    const services = value.services as Record<string, Record<string, unknown>>;
    expect(services.web).toMatchObject({ listen: 9000, app: './app.mjs#handler', dependsOn: ['db'] });
    expect(services.db).toBeUndefined();
    expect(services.cache).toMatchObject({ exposeErrors: true, app: '' });
  });

  it('sets, appends and removes list items by index', () => {
    const { value, provenance } = mergeLayers([
      file(BASE, 'hendrix.yaml'),
      set('services.web.dependsOn[2]=queue'),
      set('services.web.dependsOn[0]=null'),
      set('services.new.dependsOn[0]=web'),
    ]);
    const services = value.services as Record<string, Record<string, unknown>>;
    expect(services.web!.dependsOn).toEqual(['cache', 'queue']);
    expect(services.new).toEqual({ dependsOn: ['web'] });
    // after the removal, item 0 is the base file's `cache` and item 1 the --set `queue`
    expect(provenance.origins(['services', 'web', 'dependsOn', 0])[0]!.location).toMatchObject({ file: 'hendrix.yaml', line: 6 });
    expect(provenance.origins(['services', 'web', 'dependsOn', 1])[0]!.location).toMatchObject({ file: '--set', column: 27 });
  });

  it('reports an index past the end of a list and a key into a list', () => {
    const { errors } = mergeLayers([file(BASE, 'hendrix.yaml'), set('services.web.dependsOn[5]=x'), set('services.web.dependsOn.a=x')]);
    expect(errors.map((e) => e.code)).toEqual(['HX_ERR_SET_SYNTAX', 'HX_ERR_SET_SYNTAX']);
    expect(errors[0]!.message).toContain('has 2 items, so index 5 is past its end');
    expect(errors[1]!.message).toContain('is a list');
  });
});

describe('parseSetFlag', () => {
  it.each([
    ['services.web.listen', 'has no `=`'],
    ['=8000', 'empty path'],
    ['services..web=1', 'empty segment'],
    ['services.web[x]=1', 'neither an index'],
    ['services.web.dependsOn=[a', 'not a valid YAML value'],
  ])('rejects %s', (flag, message) => {
    const { errors } = parseSetFlag(flag);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('HX_ERR_SET_SYNTAX');
    expect(errors[0]!.message).toContain(message);
    expect(errors[0]!.location).toMatchObject({ file: '--set', line: 1 });
  });

  it('accepts quoted keys and locates the value within the flag', () => {
    const layer = set('services["my.web"].listen=9000');
    expect(layer.at).toEqual(['services', 'my.web', 'listen']);
    expect(layer.locate(['services', 'my.web', 'listen'])).toMatchObject({ line: 1, column: 27, endColumn: 31 });
    expect(layer.locate(['services', 'my.web', 'listen'], 'key')).toMatchObject({ column: 20 });
    expect(layer.locate(['services', 'my.web'])).toMatchObject({ column: 9 });
  });
});

describe('provenance', () => {
  it('lists every layer that set a path, the winner last, with file:line:column', async () => {
    const dir = makeDir({
      'hendrix.yaml': BASE,
      'extra.yaml': 'services:\n  web:\n    listen: 8500\n',
      'hendrix.production.yaml': '# prod\nservices:\n  web:\n    listen: "9000"\n',
    });
    const resolved = await resolveManifest({ kinds: testKinds,
      cwd: dir,
      files: ['hendrix.yaml', 'extra.yaml'],
      env: 'production',
      set: ['services.web.listen=9100'],
      environment: {},
    });
    const { origins, value } = explain(resolved, 'services.web.listen');
    expect(value).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(origins.map((o) => [o.layer.type, o.location.file, o.location.line, o.location.column])).toEqual([
      ['base', 'hendrix.yaml', 5, 13],
      ['file', 'extra.yaml', 3, 13],
      ['env', 'hendrix.production.yaml', 4, 13],
      ['set', '--set', 1, 21],
    ]);
    expect(resolved.manifest.services.web!.listen).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(resolved.layers.map((l) => l.type)).toEqual(['base', 'file', 'env', 'set']);
    // a block map is located at its key, in the file that declared it even when overlays merge into it
    expect(resolved.provenance.locate(['services', 'web'])).toMatchObject({ file: 'hendrix.yaml', line: 3, column: 3 });
    expect(resolved.provenance.locate(['services', 'web', 'restart', 'nothing'])).toMatchObject({ line: 7, column: 5 });
    expect(resolved.provenance.source('hendrix.production.yaml')).toContain('# prod');
  });

  it('explains a default as a value no layer set; a misspelt path is HX_ERR_EXPLAIN_PATH', async () => {
    const resolved = await resolveManifest({ kinds: testKinds, cwd: makeDir({ 'hendrix.yaml': BASE }), environment: {} });
    expect(explain(resolved, 'services.web.keepAliveTimeout')).toEqual({ path: ['services', 'web', 'keepAliveTimeout'], value: 5000, origins: [] });
    expect(() => explain(resolved, 'services.web.nothingLikeIt')).toThrow(/no value at `services\.web\.nothingLikeIt`/);
    const error = (() => {
      try {
        explain(resolved, 'services.web.lisen');
      } catch (e) {
        return e as HendrixError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('HX_ERR_EXPLAIN_PATH');
    expect(error?.hint).toBe('did you mean `services.web.listen`?');
    expect(() => explain(resolved, 'services..web')).toThrow(/malformed path/);
  });

  it('requires the environment overlay when an env is given', async () => {
    const error = await rejection(resolveManifest({ kinds: testKinds, cwd: makeDir({ 'hendrix.yaml': BASE }), env: 'staging', environment: {} }));
    expect(error.errors.map((e) => e.code)).toEqual(['HX_ERR_OVERLAY_NOT_FOUND']);
  });

  it('reports a missing base manifest', async () => {
    const error = await rejection(resolveManifest({ kinds: testKinds, cwd: makeDir({}), environment: {} }));
    expect(error.errors.map((e) => [e.code, e.message])).toEqual([['HX_ERR_MANIFEST_NOT_FOUND', 'manifest file not found: hendrix.yaml']]);
  });

  it('accepts an empty overlay file', async () => {
    const dir = makeDir({ 'hendrix.yaml': BASE, 'hendrix.dev.yaml': '# nothing yet\n' });
    const resolved = await resolveManifest({ kinds: testKinds, cwd: dir, env: 'dev', environment: {} });
    expect(Object.keys(resolved.manifest.services)).toEqual(['web', 'db', 'cache']);
  });
});
