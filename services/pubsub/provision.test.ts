import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { planIn, planProblems, positionOf } from '../../test/helpers/plan-checks.js';
import { isLoopback } from '../../src/kinds/fields.js';

/**
 * The pubsub kind's provision step through createPlan(): topic schemas and the JWT public key
 * are checked before anything starts, and a hub anyone may use, reachable beyond this
 * machine, is a warning.
 */
const manifestDir = useManifestDirs();
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const PUBLIC_KEY = publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** A manifest with an http service `web` listening on `webListen`, then `services`. */
function manifest(services: string, webListen = '127.0.0.1:18000'): string {
  return ['version: 1', 'services:', '  web:', '    kind: http', `    listen: ${webListen}`, services].join('\n');
}

const files = {
  'schemas/chat.json': JSON.stringify({ type: 'object', required: ['text'], properties: { text: { type: 'string' } } }),
  'schemas/modern.json': JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [{ type: 'number' }] }),
  'schemas/broken.json': '{ "type": ',
  'schemas/invalid.json': JSON.stringify({ type: 12 }),
  'keys/jwt.pub': PUBLIC_KEY,
  'keys/garbage.pub': 'not a key\n',
};

describe('pubsub provision: files', () => {
  it('records the topic schemas and the JWT public key, each with the field that names it', async () => {
    const yaml = manifest(
      [
        '  hub:',
        '    kind: pubsub',
        '    attach: web',
        '    topics:',
        '      chat.*:',
        '        schema: ./schemas/chat.json',
        '      metrics.>:',
        '        schema: ./schemas/modern.json',
        '    auth:',
        '      jwt:',
        '        publicKey: ./keys/jwt.pub',
      ].join('\n'),
    );
    const dir = manifestDir({ 'hendrix.yaml': yaml, ...files });
    const plan = await planIn(dir);
    expect(plan.warnings).toEqual([]);
    const own = plan.services.get('hub')!.files.filter((f) => f.role !== 'manifest');
    expect(own.map((f) => [f.role, f.path, f.field])).toEqual(
      expect.arrayContaining([
        ['schema', join(dir, 'schemas/chat.json'), ['topics', 'chat.*', 'schema']],
        ['schema', join(dir, 'schemas/modern.json'), ['topics', 'metrics.>', 'schema']],
        ['jwt-key', join(dir, 'keys/jwt.pub'), ['auth', 'jwt', 'publicKey']],
      ]),
    );
    expect(own).toHaveLength(3);
    expect(own.every((f) => /^[0-9a-f]{64}$/.test(f.digest ?? ''))).toBe(true);
  });

  it('a missing, a non-JSON and an invalid schema are each HX_ERR_PUBSUB_SCHEMA at their topic; a bad key HX_ERR_PUBSUB_AUTH_KEY', async () => {
    const yaml = manifest(
      [
        '  hub:',
        '    kind: pubsub',
        '    attach: web',
        '    topics:',
        '      a.*:',
        '        schema: ./schemas/missing.json',
        '      b.*:',
        '        schema: ./schemas/broken.json',
        '      c.*:',
        '        schema: ./schemas/invalid.json',
        '    auth:',
        '      jwt:',
        '        publicKey: ./keys/garbage.pub',
      ].join('\n'),
    );
    const problems = await planProblems(manifestDir({ 'hendrix.yaml': yaml, ...files }));
    expect(problems.map((p) => [p.code, p.path, p.location && { line: p.location.line, column: p.location.column }])).toEqual([
      ['HX_ERR_PUBSUB_SCHEMA', ['services', 'hub', 'topics', 'a.*', 'schema'], positionOf(yaml, './schemas/missing.json')],
      ['HX_ERR_PUBSUB_SCHEMA', ['services', 'hub', 'topics', 'b.*', 'schema'], positionOf(yaml, './schemas/broken.json')],
      ['HX_ERR_PUBSUB_SCHEMA', ['services', 'hub', 'topics', 'c.*', 'schema'], positionOf(yaml, './schemas/invalid.json')],
      ['HX_ERR_PUBSUB_AUTH_KEY', ['services', 'hub', 'auth', 'jwt', 'publicKey'], positionOf(yaml, './keys/garbage.pub')],
    ]);
    expect(problems[0]!.message).toMatch(/^the schema of topics `a\.\*` names \.\/schemas\/missing\.json, which does not exist/);
    expect(problems[1]!.message).toMatch(/broken\.json is not JSON/);
    expect(problems[2]!.message).toMatch(/invalid\.json is not a valid JSON Schema/);
    expect(problems[3]!.message).toMatch(/garbage\.pub holds no usable public key/);
  });

  it('a missing JWT public key is HX_ERR_PUBSUB_AUTH_KEY at `auth.jwt.publicKey`', async () => {
    const yaml = manifest(['  hub:', '    kind: pubsub', '    listen: 127.0.0.1:18001', '    auth:', '      jwt:', '        publicKey: ./keys/nope.pub'].join('\n'));
    const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_PUBSUB_AUTH_KEY', path: ['services', 'hub', 'auth', 'jwt', 'publicKey'], service: 'hub' });
    expect(problem!.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, './keys/nope.pub') });
  });
});

describe('pubsub provision: references and listen addresses', () => {
  it('`attach` naming a service that is not http is HX_ERR_PUBSUB_ATTACH at `attach`', async () => {
    const yaml = manifest(['  secure:', '    kind: tls', '    listen: 18443', '    serves: web', '    selfSigned: true', '  hub:', '    kind: pubsub', '    attach: secure'].join('\n'));
    const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_PUBSUB_ATTACH', path: ['services', 'hub', 'attach'] });
    expect(problem!.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, 'secure', 2) });
    expect(problem!.message).toContain('`secure` is of kind `tls`');
  });

  it('lists its own `listen`: two hubs on one port is HX_ERR_LISTEN_CONFLICT', async () => {
    const yaml = manifest(
      ['  a:', '    kind: pubsub', '    listen: 127.0.0.1:18001', '    auth: {}', '  b:', '    kind: pubsub', '    listen: 18001', '    auth: {}'].join('\n'),
    );
    const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_LISTEN_CONFLICT', path: ['services', 'b', 'listen'] });
  });
});

describe('pubsub provision: a hub without auth beyond loopback is a warning', () => {
  it('warns at `listen` for a hub on every interface, not for loopback or a unix socket', async () => {
    const yaml = manifest(
      [
        '  open:',
        '    kind: pubsub',
        '    listen: 18001',
        '  local:',
        '    kind: pubsub',
        '    listen: 127.0.0.1:18002',
        '  local6:',
        '    kind: pubsub',
        '    listen: "[::1]:18003"',
        '  socket:',
        '    kind: pubsub',
        '    listen: ./hub.sock',
        '  guarded:',
        '    kind: pubsub',
        '    listen: 18004',
        '    auth:',
        '      anonymous: { subscribe: [news.>] }',
      ].join('\n'),
    );
    const plan = await planIn(manifestDir({ 'hendrix.yaml': yaml }));
    expect(plan.warnings.map((w) => [w.code, w.path?.join('.'), w.location?.line])).toEqual([['HX_ERR_PUBSUB_OPEN', 'services.open.listen', positionOf(yaml, '18001').line]]);
    expect(plan.warnings[0]!.message).toBe('hub `open` has no `auth` and listens on ws://0.0.0.0:18001: anyone who reaches it may publish and subscribe to every topic');
    expect(plan.warnings[0]!.hint).toMatch(/add `auth`/);
  });

  it('warns at `attach` when the attached http service listens beyond loopback', async () => {
    const open = manifest(['  hub:', '    kind: pubsub', '    attach: web'].join('\n'), '8000');
    const plan = await planIn(manifestDir({ 'hendrix.yaml': open }));
    expect(plan.warnings.map((w) => [w.code, w.path?.join('.'), w.location?.line])).toEqual([['HX_ERR_PUBSUB_OPEN', 'services.hub.attach', positionOf(open, 'attach: web').line]]);
    expect(plan.warnings[0]!.message).toContain('attached to `web`, which listens on http://0.0.0.0:8000');

    const local = manifest(['  hub:', '    kind: pubsub', '    attach: web'].join('\n'), '127.0.0.1:18000');
    expect((await planIn(manifestDir({ 'hendrix.yaml': local }))).warnings).toEqual([]);
  });

  it('knows loopback: 127.0.0.0/8, ::1, localhost and unix sockets', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback({ host, port: 1 }), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '', '10.0.0.1', '128.0.0.1', 'example.com']) expect(isLoopback({ host, port: 1 }), host).toBe(false);
    expect(isLoopback({ path: '/run/hub.sock' })).toBe(true);
  });
});
