import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { planIn, planProblems, positionOf, problemAt } from '../../test/helpers/plan-checks.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';

/**
 * The tls kind's provision step through createPlan(): every certificate, key and CA file is
 * checked before anything starts, each problem at its file:line:col, all of them at once.
 */
const certDir = useCertDir();
const manifestDir = useManifestDirs();
const DAY = 86_400_000;
let ca: TestCert;
let site: TestCert;
let other: TestCert;
let expired: TestCert;
let future: TestCert;

beforeAll(async () => {
  ca = await createTestCa(certDir);
  [site, other, expired, future] = await Promise.all([
    createLeaf(certDir, ca, { hosts: ['localhost'], name: 'site' }),
    createLeaf(certDir, ca, { hosts: ['api.localhost'], name: 'other' }),
    createLeaf(certDir, ca, { hosts: ['localhost'], name: 'expired', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) }),
    createLeaf(certDir, ca, { hosts: ['localhost'], name: 'future', notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) }),
  ]);
}, 30_000);

/** A manifest with an http service `web` and the given tls service(s) below it. */
function manifest(services: string): string {
  return ['version: 1', 'services:', '  web:', '    kind: http', '    listen: 127.0.0.1:18000', services].join('\n');
}

/** The PEM files of the tests, written into a manifest folder. */
function pemFiles(): Record<string, string> {
  return {
    'certs/site.crt': site.cert,
    'certs/site.key': site.key,
    'certs/other.crt': other.cert,
    'certs/other.key': other.key,
    'certs/expired.crt': expired.cert,
    'certs/expired.key': expired.key,
    'certs/future.crt': future.cert,
    'certs/future.key': future.key,
    'certs/ca.crt': ca.cert,
    'certs/garbage.pem': 'not a certificate\n',
  };
}

describe('tls provision: files', () => {
  it('records the certificate, key and client CA files, and the watched folder, with their digests', async () => {
    const yaml = manifest(
      ['  secure:', '    kind: tls', '    listen: 18443', '    serves: web', '    cert: ./certs/site.crt', '    key: ./certs/site.key', '    clientAuth:', '      ca: ./certs/ca.crt'].join('\n'),
    );
    const dir = manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() });
    const plan = await planIn(dir);
    expect(plan.warnings).toEqual([]);
    const files = plan.services.get('secure')!.files;
    expect(files.filter((f) => f.role !== 'manifest').map((f) => [f.role, f.path, f.field])).toEqual(
      expect.arrayContaining([
        ['cert', join(dir, 'certs/site.crt'), ['cert']],
        ['key', join(dir, 'certs/site.key'), ['key']],
        ['ca', join(dir, 'certs/ca.crt'), ['clientAuth', 'ca']],
        // hot reload watches the folder (renewals rename files into it)
        ['cert', join(dir, 'certs'), ['cert']],
      ]),
    );
    expect(files.filter((f) => f.role !== 'manifest')).toHaveLength(4);
    expect(files.find((f) => f.path === join(dir, 'certs/site.crt'))!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(files.find((f) => f.path === join(dir, 'certs'))!.digest).toBeUndefined();
  });

  it('records no folder when `watch: false`', async () => {
    const yaml = manifest(['  secure:', '    kind: tls', '    listen: 18443', '    serves: web', '    cert: ./certs/site.crt', '    key: ./certs/site.key', '    watch: false'].join('\n'));
    const plan = await planIn(manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() }));
    expect(plan.services.get('secure')!.files.filter((f) => f.role !== 'manifest').map((f) => f.role)).toEqual(['cert', 'key']);
  });

  it('reports a missing certificate and a missing key at once, each at its line', async () => {
    const yaml = manifest(['  secure:', '    kind: tls', '    listen: 18443', '    serves: web', '    cert: ./certs/nope.crt', '    key: ./certs/nope.key'].join('\n'));
    const problems = await planProblems(manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() }));
    expect(problems.map((p) => p.code)).toEqual(['HX_ERR_TLS_FILE', 'HX_ERR_TLS_FILE']);
    const cert = problemAt(problems, 'HX_ERR_TLS_FILE', ['services', 'secure', 'cert'])!;
    expect(cert.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, './certs/nope.crt') });
    expect(cert.message).toMatch(/^`cert` names \.\/certs\/nope\.crt, which does not exist/);
    expect(problemAt(problems, 'HX_ERR_TLS_FILE', ['services', 'secure', 'key'])!.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, './certs/nope.key') });
  });

  it('a key that does not match its certificate is HX_ERR_TLS_KEY_MISMATCH at `key`', async () => {
    const yaml = manifest(['  secure:', '    kind: tls', '    listen: 18443', '    serves: web', '    cert: ./certs/site.crt', '    key: ./certs/other.key'].join('\n'));
    const dir = manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() });
    const [problem, ...rest] = await planProblems(dir);
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_TLS_KEY_MISMATCH', path: ['services', 'secure', 'key'], service: 'secure' });
    expect(problem!.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, './certs/other.key') });
    expect(problem!.message).toContain(`the key ${join(dir, 'certs/other.key')} does not match the certificate ${join(dir, 'certs/site.crt')}`);
  });

  it('a file that is not PEM is HX_ERR_TLS_PEM; a certificate given as the key says so', async () => {
    const yaml = manifest(
      [
        '  secure:',
        '    kind: tls',
        '    listen: 18443',
        '    serves: web',
        '    cert: ./certs/garbage.pem',
        '    key: ./certs/site.key',
        '  swapped:',
        '    kind: tls',
        '    listen: 18444',
        '    serves: web',
        '    cert: ./certs/site.crt',
        '    key: ./certs/site.crt',
      ].join('\n'),
    );
    const problems = await planProblems(manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() }));
    expect(problems.map((p) => [p.code, p.path?.join('.')])).toEqual([
      ['HX_ERR_TLS_PEM', 'services.secure.cert'],
      ['HX_ERR_TLS_PEM', 'services.swapped.key'],
    ]);
    expect(problems[0]!.location).toMatchObject(positionOf(yaml, './certs/garbage.pem'));
    expect(problems[1]!.message).toMatch(/are cert and key swapped\?/);
    expect(problems[1]!.location).toMatchObject(positionOf(yaml, './certs/site.crt', 2));
  });

  it('checks every SNI entry and the client CA, each problem at its own entry', async () => {
    const yaml = manifest(
      [
        '  secure:',
        '    kind: tls',
        '    listen: 18443',
        '    serves: web',
        '    certs:',
        '      - cert: ./certs/site.crt',
        '        key: ./certs/site.key',
        '      - cert: ./certs/other.crt',
        '        key: ./certs/missing.key',
        '      - cert: ./certs/other.crt',
        '        key: ./certs/site.key',
        '    clientAuth:',
        '      ca: ./certs/no-ca.crt',
      ].join('\n'),
    );
    const problems = await planProblems(manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() }));
    expect(problems.map((p) => [p.code, p.path?.join('.'), p.location?.line])).toEqual([
      ['HX_ERR_TLS_FILE', 'services.secure.certs.1.key', positionOf(yaml, './certs/missing.key').line],
      ['HX_ERR_TLS_KEY_MISMATCH', 'services.secure.certs.2.key', positionOf(yaml, './certs/site.key', 2).line],
      ['HX_ERR_TLS_FILE', 'services.secure.clientAuth.ca', positionOf(yaml, './certs/no-ca.crt').line],
    ]);
  });
});

describe('tls provision: validity is a warning', () => {
  it('an expired and a not-yet-valid certificate plan, each with HX_ERR_TLS_CERT_EXPIRED at its `cert`', async () => {
    const yaml = manifest(
      [
        '  secure:',
        '    kind: tls',
        '    listen: 18443',
        '    serves: web',
        '    certs:',
        '      - cert: ./certs/expired.crt',
        '        key: ./certs/expired.key',
        '      - cert: ./certs/future.crt',
        '        key: ./certs/future.key',
      ].join('\n'),
    );
    const plan = await planIn(manifestDir({ 'hendrix.yaml': yaml, ...pemFiles() }));
    const warnings = [...plan.warnings].sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0));
    expect(warnings.map((w) => [w.code, w.path?.join('.'), w.location?.line])).toEqual([
      ['HX_ERR_TLS_CERT_EXPIRED', 'services.secure.certs.0.cert', positionOf(yaml, './certs/expired.crt').line],
      ['HX_ERR_TLS_CERT_EXPIRED', 'services.secure.certs.1.cert', positionOf(yaml, './certs/future.crt').line],
    ]);
    expect(warnings[0]!.message).toMatch(/^the certificate \.\/certs\/expired\.crt expired on /);
    expect(warnings[1]!.message).toMatch(/^the certificate \.\/certs\/future\.crt not valid before /);
  });
});

describe('tls provision: references, listen addresses, made-at-start certificates', () => {
  it('`serves` naming a service that is not http is HX_ERR_TLS_SERVES at `serves`', async () => {
    const yaml = manifest(
      ['  hub:', '    kind: pubsub', '    attach: web', '  secure:', '    kind: tls', '    listen: 18443', '    serves: hub', '    selfSigned: true'].join('\n'),
    );
    const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_TLS_SERVES', path: ['services', 'secure', 'serves'] });
    expect(problem!.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, 'hub', 2) });
    expect(problem!.message).toContain('`hub` is of kind `pubsub`');
  });

  it('`selfSigned` and `acme` need no file at plan time, and the state folder is not created', async () => {
    const yaml = manifest(
      [
        '  dev:',
        '    kind: tls',
        '    listen: 18443',
        '    serves: web',
        '    selfSigned: true',
        '  public:',
        '    kind: tls',
        '    listen: 18444',
        '    serves: web',
        '    stateDir: ./acme-state',
        '    acme:',
        '      directory: https://127.0.0.1:14000/dir',
        '      directoryCa: ./certs/ca.crt',
        '      hosts: [example.com]',
      ].join('\n'),
    );
    const dir = manifestDir({ 'hendrix.yaml': yaml, 'certs/ca.crt': ca.cert });
    const plan = await planIn(dir);
    expect(plan.services.get('dev')!.files.filter((f) => f.role !== 'manifest')).toEqual([]);
    expect(plan.services.get('public')!.files.filter((f) => f.role !== 'manifest').map((f) => [f.role, f.field])).toEqual([['ca', ['acme', 'directoryCa']]]);
    expect(existsSync(join(dir, '.hendrix'))).toBe(false);
    expect(existsSync(join(dir, 'acme-state'))).toBe(false);
  });

  it('a missing `acme.directoryCa` is HX_ERR_TLS_FILE at its line', async () => {
    const yaml = manifest(
      ['  public:', '    kind: tls', '    listen: 18444', '    serves: web', '    acme:', '      directory: https://127.0.0.1:14000/dir', '      directoryCa: ./nope.crt', '      hosts: [example.com]'].join('\n'),
    );
    const [problem] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(problem).toMatchObject({ code: 'HX_ERR_TLS_FILE', path: ['services', 'public', 'acme', 'directoryCa'] });
    expect(problem!.location).toMatchObject(positionOf(yaml, './nope.crt'));
  });

  it('lists `listen` and `redirect.listen` for the plan: a redirect on another listener\'s port is HX_ERR_LISTEN_CONFLICT', async () => {
    const yaml = manifest(
      [
        '  a:',
        '    kind: tls',
        '    listen: 18443',
        '    serves: web',
        '    selfSigned: true',
        '    redirect:',
        '      listen: 127.0.0.1:18080',
        '  b:',
        '    kind: tls',
        '    listen: 18080',
        '    serves: web',
        '    selfSigned: true',
      ].join('\n'),
    );
    const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_LISTEN_CONFLICT', path: ['services', 'b', 'listen'] });
    expect(problem!.related[0]!.location).toMatchObject(positionOf(yaml, '127.0.0.1:18080'));
  });
});
