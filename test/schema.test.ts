import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parseManifestText } from '../src/manifest/load.js';
import { toManifestJsonSchema } from '../src/manifest/json-schema.js';
import { mergeLayers } from '../src/manifest/overlay.js';
import { loadBuiltinKinds } from '../services/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const schemaFile = join(root, 'schemas/hendrix.schema.json');

/** Every example manifest: examples/**\/hendrix*.yaml and hendrix.yaml.example. */
function exampleManifests(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(join(dir, entry.name));
      else if (/^hendrix.*\.ya?ml$/.test(entry.name)) out.push(join(dir, entry.name));
    }
  };
  walk(join(root, 'examples'));
  if (existsSync(join(root, 'hendrix.yaml.example'))) out.push(join(root, 'hendrix.yaml.example'));
  return out.sort();
}

/** The tree an editor sees for a manifest; an overlay (hendrix.<env>.yaml) merged over its base. */
function manifestTree(file: string): unknown {
  const parse = (f: string, first: boolean) => {
    const result = parseManifestText(readFileSync(f, 'utf8'), relative(root, f), { type: first ? 'base' : 'env', allowEmpty: !first });
    expect(result.errors.map((e) => `${e.location?.line}: ${e.message}`)).toEqual([]);
    return result.layer!;
  };
  const base = join(dirname(file), 'hendrix.yaml');
  const isOverlay = /^hendrix\.[^.]+\.ya?ml$/.test(basename(file)) && existsSync(base);
  return mergeLayers(isOverlay ? [parse(base, true), parse(file, false)] : [parse(file, true)]).value;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });

describe('schemas/hendrix.schema.json', () => {
  it('is what toManifestJsonSchema() generates (run `npm run schema` after changing a schema)', async () => {
    const text = readFileSync(schemaFile, 'utf8');
    expect(text).toBe(`${JSON.stringify(toManifestJsonSchema(await loadBuiltinKinds()), null, 2)}\n`);
  });

  const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object);

  it('compiles as a draft 2020-12 schema and checks built-in kinds strictly', () => {
    expect(validate({ version: 1, services: { web: { kind: 'http', listen: 8000, app: './app.mjs' } } })).toBe(true);
    expect(validate({ services: { web: { kind: 'http', listen: '${PORT:-8000}', stopTimeout: '10s' } } })).toBe(true);
    expect(validate({ services: { web: { kind: 'http', lisen: 8000 } } })).toBe(false);
    expect(validate({ services: { web: { kind: 'http', stopTimeout: '10 seconds' } } })).toBe(false);
    expect(validate({ sevices: {} })).toBe(false);
    expect(validate({ version: 2, services: {} })).toBe(false);
  });

  it('lets custom kinds through with their own fields', () => {
    expect(validate({ services: { q: { kind: './queue.mjs', size: 3, dependsOn: ['web'] }, web: { kind: 'http' } } })).toBe(true);
    expect(validate({ services: { q: { kind: '@acme/hendrix-queue', size: 3 } } })).toBe(true);
  });

  const examples = exampleManifests();
  it.each(examples.map((f) => [relative(root, f), f]))('validates %s', (_name, file) => {
    const ok = validate(manifestTree(file));
    expect(ok ? [] : validate.errors).toEqual([]);
  });

  it('finds the example manifests when there are any', () => {
    expect(examples.every((f) => /hendrix.*\.ya?ml(\.example)?$/.test(f))).toBe(true);
  });
});
