import { describe, expect, it } from 'vitest';
import { interpolateString, isSecretName } from '../../src/manifest/interpolate.js';
import { resolveManifest } from '../../src/manifest/resolve.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { rejection } from '../helpers/rejection.js';
import { testKinds } from '../helpers/kinds.js';

const makeDir = useManifestDirs();

const vars = { A: 'a', EMPTY: '', PORT: '8000' };
const value = (text: string, v: Record<string, string | undefined> = vars) => {
  const r = interpolateString(text, v);
  expect(r.problems).toEqual([]);
  return r.value;
};
const problem = (text: string, v: Record<string, string | undefined> = vars) => {
  const r = interpolateString(text, v);
  expect(r.problems).toHaveLength(1);
  return r.problems[0]!;
};

describe('interpolateString', () => {
  it.each([
    ['${A}', 'a'],
    ['x-${A}-${PORT}', 'x-a-8000'],
    ['${MISSING:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${A:-d}', 'a'],
    ['${MISSING-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${A:+set}', 'set'],
    ['${EMPTY:+set}', ''],
    ['${EMPTY+set}', 'set'],
    ['${MISSING:-}', ''],
    ['$${A}', '${A}'],
    ['cost: $$5', 'cost: $5'],
    ['^/api$', '^/api$'],
    ['$A', '$A'],
    ['${MISSING:-${A}}', 'a'],
    ['${MISSING:-${OTHER:-x}}', 'x'],
    ['${A:-${UNSET_BUT_UNUSED}}', 'a'],
    ['${MISSING:-a:b-c}', 'a:b-c'],
  ])('%s → %s', (text, expected) => {
    expect(value(text)).toBe(expected);
  });

  it('reports an unset variable without a default at its offset', () => {
    expect(problem('host:${HOST}')).toMatchObject({ code: 'HX_ERR_VAR_UNSET', offset: 5, length: 7 });
    expect(problem('${MISSING:-${NOPE}}')).toMatchObject({ code: 'HX_ERR_VAR_UNSET', offset: 11, length: 7 });
  });

  it('reports a required variable with its message, also when empty', () => {
    expect(problem('${TOKEN:?the API token}')).toMatchObject({
      code: 'HX_ERR_VAR_REQUIRED',
      message: 'required variable `TOKEN` is not set: the API token',
    });
    expect(problem('${EMPTY:?}').message).toBe('required variable `EMPTY` is empty');
    expect(value('${EMPTY?must exist}')).toBe('');
    expect(problem('${NOPE?must exist}').code).toBe('HX_ERR_VAR_REQUIRED');
  });

  it.each([
    ['${A', 0, 'missing the closing `}`'],
    ['x ${}', 2, 'is empty'],
    ['${1A}', 0, 'does not start with a variable name'],
    ['${A:x}', 0, 'unexpected `:`'],
    ['${A B}', 0, 'unexpected ` `'],
    ['${A:-${B}', 0, 'missing the closing `}`'],
  ])('reports malformed %s', (text, offset, message) => {
    const p = problem(text);
    expect(p.code).toBe('HX_ERR_VAR_SYNTAX');
    expect(p.offset).toBe(offset);
    expect(p.message).toContain(message);
  });

  it('lists the variables whose values were used', () => {
    expect(interpolateString('${A}${MISSING:-x}${PORT:-1}', vars).used).toEqual(['A', 'PORT']);
  });

  it('knows secret-looking names', () => {
    expect(['DB_PASSWORD', 'api_token', 'SECRET', 'SSH_KEY', 'KeyFile'].every(isSecretName)).toBe(true);
    expect(['PORT', 'HOST', 'USER'].some(isSecretName)).toBe(false);
  });
});

describe('interpolation in the pipeline', () => {
  const manifest = `version: 1
services:
  web:
    kind: http
    listen: \${PORT}
    app: \${APP:-./app.mjs}
    static:
      /\${NOT_INTERPOLATED}: ./public
`;

  it('takes .env, then .env.<env>, then the process environment', async () => {
    const dir = makeDir({
      'hendrix.yaml': manifest,
      'hendrix.prod.yaml': '',
      '.env': 'PORT=1000\nAPP=./from-env-file.mjs\n',
      '.env.prod': 'PORT=2000\n',
    });
    const base = await resolveManifest({ kinds: testKinds, cwd: dir, environment: {} });
    expect(base.manifest.services.web).toMatchObject({ listen: { port: 1000 }, app: './from-env-file.mjs' });
    const prod = await resolveManifest({ kinds: testKinds, cwd: dir, env: 'prod', environment: {} });
    expect(prod.manifest.services.web).toMatchObject({ listen: { port: 2000 } });
    const proc = await resolveManifest({ kinds: testKinds, cwd: dir, env: 'prod', environment: { PORT: '3000', APP: undefined } });
    expect(proc.manifest.services.web).toMatchObject({ listen: { port: 3000 }, app: './from-env-file.mjs' });
    // keys are never interpolated
    expect(Object.keys(proc.manifest.services.web!.static as object)).toEqual(['/${NOT_INTERPOLATED}']);
  });

  it('points at the ${ of each problem: plain, quoted, in an overlay and in --set', async () => {
    const dir = makeDir({
      'hendrix.yaml': 'version: 1\nservices:\n  web:\n    kind: http\n    listen: ${PORT}\n    app: "./${DIR}/${APP}.mjs"\n',
      'hendrix.prod.yaml': "services:\n  web:\n    stopTimeout: '${STOP:?say how long}'\n",
    });
    const error = await rejection(
      resolveManifest({ kinds: testKinds, cwd: dir, env: 'prod', set: ['services.web.startTimeout=${START}'], environment: { DIR: 'src' } }),
    );
    expect(error.errors.map((e) => [e.code, e.location?.file, e.location?.line, e.location?.column])).toEqual([
      ['HX_ERR_VAR_UNSET', 'hendrix.yaml', 5, 13],
      ['HX_ERR_VAR_UNSET', 'hendrix.yaml', 6, 20],
      ['HX_ERR_VAR_REQUIRED', 'hendrix.prod.yaml', 3, 19],
      ['HX_ERR_VAR_UNSET', '--set', 1, 27],
    ]);
    // an unset variable is reported once, not again as the invalid value it leaves behind
    expect(error.errors.some((e) => e.code === 'HX_ERR_INVALID_VALUE')).toBe(false);
  });

  it('records the paths whose values came from secret-looking variables', async () => {
    const dir = makeDir({
      'hendrix.yaml': `version: 1
services:
  web:
    kind: http
    app: ./app.mjs#\${HANDLER_TOKEN}
    static:
      /s: \${STATIC_SECRET:-./public}
      /p: \${PUBLIC_DIR}
`,
    });
    const resolved = await resolveManifest({ kinds: testKinds, cwd: dir, environment: { HANDLER_TOKEN: 'abc', PUBLIC_DIR: './p' } });
    // a default is written in the manifest, so it is not a secret
    expect(resolved.secretPaths).toEqual([['services', 'web', 'app']]);
  });
});
