import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { resolveManifest } from '../../src/manifest/resolve.js';
import { createPlan } from '../../src/runtime/plan.js';
import { buildRootSchema, deepFreeze } from '../../src/manifest/validate.js';
import { loadBuiltinKinds } from '../../services/index.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { testKinds } from '../helpers/kinds.js';

const makeDir = useManifestDirs();
const kindsDir = fileURLToPath(new URL('../fixtures/kinds/', import.meta.url));

async function problems(files: Record<string, string>, cwd?: string): Promise<HendrixError[]> {
  const dir = cwd ?? makeDir(files);
  const error = await resolveManifest({ kinds: testKinds, cwd: dir, environment: {}, ...(cwd ? { files: Object.keys(files) } : {}) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HendrixError);
  expect((error as HendrixError).code).toBe('HX_ERR_MANIFEST');
  return [...(error as HendrixError).errors];
}

describe('validateManifest', () => {
  it('applies every default and freezes the result deeply', async () => {
    const dir = makeDir({ 'hendrix.yaml': 'services:\n  web:\n    kind: http\n' });
    const { manifest } = await resolveManifest({ kinds: testKinds, cwd: dir, environment: {} });
    expect(manifest.version).toBe(1);
    expect(manifest.logging).toEqual({ level: 'info' });
    expect(manifest.services.web).toMatchObject({
      kind: 'http',
      listen: { host: '0.0.0.0', port: 8000 },
      dependsOn: [],
      startTimeout: 30_000,
      stopTimeout: 10_000,
      restart: { policy: 'on-failure', backoff: { initial: 100, factor: 2, max: 30_000, jitter: 0.1 }, limit: { burst: 5, window: 60_000 } },
    });
    expect(Object.isFrozen(manifest)).toBe(true);
    expect(Object.isFrozen(manifest.services.web!.restart.backoff)).toBe(true);
  });

  it('accepts version "1", durations and numbers as strings', async () => {
    const dir = makeDir({
      'hendrix.yaml': 'version: "1"\nservices:\n  web:\n    kind: http\n    listen: "127.0.0.1:9000"\n    stopTimeout: 1m30s\n    restart:\n      limit: { burst: "3" }\n',
    });
    const { manifest } = await resolveManifest({ kinds: testKinds, cwd: dir, environment: {} });
    expect(manifest.version).toBe(1);
    expect(manifest.services.web).toMatchObject({ listen: { host: '127.0.0.1', port: 9000 }, stopTimeout: 90_000, restart: { limit: { burst: 3 } } });
  });

  it('reports unknown keys one by one, at the key, with did-you-mean', async () => {
    const errors = await problems({ 'hendrix.yaml': 'services:\n  web:\n    kind: http\n    lisen: 1\n    apps: x\n    zzzzzz: 1\n' });
    expect(errors.map((e) => [e.code, e.location?.line, e.location?.column, e.message])).toEqual([
      ['HX_ERR_UNKNOWN_KEY', 4, 5, 'unknown key `lisen` in services.web — did you mean `listen`?'],
      ['HX_ERR_UNKNOWN_KEY', 5, 5, 'unknown key `apps` in services.web — did you mean `app`?'],
      ['HX_ERR_UNKNOWN_KEY', 6, 5, 'unknown key `zzzzzz` in services.web'],
    ]);
    expect(errors[0]!.service).toBe('web');
    expect(errors[0]!.path).toEqual(['services', 'web', 'lisen']);
  });

  it('loads a custom kind relative to the manifest and validates its fields and references', async () => {
    const { resolved, graph } = await createPlan(join(kindsDir, 'hendrix.yaml'), { kinds: testKinds, cwd: kindsDir, environment: {} });
    expect(resolved.manifest.services.jobs).toMatchObject({ kind: './queue-kind.mjs', size: 5, feeds: ['web'] });
    expect(resolved.kinds.get('jobs')?.kind).toBe('queue');
    expect(resolved.kinds.get('web')?.kind).toBe('http');
    expect(graph.edges.map((e) => [e.from, e.to, e.via])).toEqual([['jobs', 'web', 'feeds']]);
    expect(graph.order).toEqual(['web', 'jobs']);
  });

  it('reports did-you-mean for the fields of a custom kind', async () => {
    const dir = makeDir({ 'hendrix.yaml': `services:\n  jobs:\n    kind: ${kindsDir}queue-kind.mjs\n    sise: 5\n` });
    const errors = await problems({}, dir);
    expect(errors.map((e) => e.message)).toEqual(['unknown key `sise` in services.jobs — did you mean `size`?']);
  });

  it('reports a custom kind module that is missing or exports no kind', async () => {
    const dir = makeDir({
      'hendrix.yaml': 'services:\n  a:\n    kind: ./nope.mjs\n  b:\n    kind: ./plain.mjs\n',
      'plain.mjs': 'export const x = 1;\n',
    });
    const errors = await problems({}, dir);
    expect(errors.map((e) => [e.code, e.location?.line, e.service])).toEqual([
      ['HX_ERR_KIND_LOAD', 3, 'a'],
      ['HX_ERR_KIND_LOAD', 5, 'b'],
    ]);
    expect(errors[1]!.message).toContain('exports no defineServiceKind');
  });

  it('reports missing keys at the map that lacks them', async () => {
    const errors = await problems({ 'hendrix.yaml': 'version: 1\nservices:\n  web:\n    kind: http\n    static:\n      /a: ./a\n  db:\n    listen: 1\n' });
    expect(errors.map((e) => [e.code, e.location?.line, e.location?.column])).toEqual([['HX_ERR_MISSING_KEY', 7, 3]]);
  });

  it('reports wrong types and values in human words', async () => {
    const errors = await problems({
      'hendrix.yaml': 'logging: verbose\nservices:\n  web:\n    kind: http\n    headersTimeout: [1]\n    restart: { policy: never, limit: { burst: -1 } }\n',
    });
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['HX_ERR_INVALID_TYPE', '`logging` must be a mapping, but found the string "verbose"'],
      ['HX_ERR_INVALID_TYPE', '`headersTimeout` must be a number or a string, but found a list of 1 item'],
      ['HX_ERR_INVALID_VALUE', '`restart.policy` must be one of `no`, `on-failure` or `always`, but found the string "never"'],
      ['HX_ERR_INVALID_VALUE', '`restart.limit.burst` must be at least 0, but found the number -1'],
    ]);
  });
});

const builtins = await loadBuiltinKinds();

describe('buildRootSchema', () => {
  const schema = buildRootSchema(builtins);

  it('checks built-in kinds strictly and lets custom kinds through', () => {
    expect(schema.safeParse({ services: { web: { kind: 'http', listen: 80 } } }).success).toBe(true);
    expect(schema.safeParse({ services: { web: { kind: 'http', lisen: 80 } } }).success).toBe(false);
    expect(schema.safeParse({ services: { q: { kind: './queue.mjs', anything: true } } }).success).toBe(true);
    expect(schema.safeParse({ services: { '1q': { kind: 'http' } } }).success).toBe(false);
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects and arrays and returns the value', () => {
    const value = deepFreeze({ a: { b: [1, { c: 2 }] } });
    expect(Object.isFrozen(value.a.b)).toBe(true);
    expect(Object.isFrozen(value.a.b[1])).toBe(true);
  });
});
