import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { planIn, planProblems, positionOf } from '../../test/helpers/plan-checks.js';
import { createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';

/**
 * The irc kind's provision step and typed relay references through createPlan(): the relay's
 * hubs, the CA and the commands module are checked before the bot connects anywhere.
 */
const certDir = useCertDir();
const manifestDir = useManifestDirs();
let ca: TestCert;

beforeAll(async () => {
  ca = await createTestCa(certDir);
}, 30_000);

/** A manifest with an http service `web`, a hub `hub` and the bot `bot` (its extra lines below it). */
function manifest(bot: string): string {
  return [
    'version: 1',
    'services:',
    '  web:',
    '    kind: http',
    '    listen: 127.0.0.1:18000',
    '  hub:',
    '    kind: pubsub',
    '    listen: 127.0.0.1:18001',
    '    auth: {}',
    '  bot:',
    '    kind: irc',
    '    server: 127.0.0.1:16667',
    '    nick: hxbot',
    "    channels: ['#ops']",
    bot,
  ].join('\n');
}

const commandFiles = {
  'bot/commands.mjs': "export function ping() { return 'pong'; }\n",
  'bot/not-functions.mjs': 'export const ping = 42;\n',
  'bot/throws.mjs': "throw new Error('boom at import');\n",
};

describe('irc provision: relay references are typed', () => {
  it('a relay naming a pubsub service is an edge; one naming another kind is HX_ERR_IRC_RELAY at that end', async () => {
    const yaml = manifest(['    relay:', "      - { from: 'hub:alerts', to: '#ops' }", "      - { from: '#ops', to: 'web:irc.ops' }"].join('\n'));
    const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ code: 'HX_ERR_IRC_RELAY', path: ['services', 'bot', 'relay', 1, 'to'], service: 'bot' });
    expect(problem!.location).toMatchObject({ file: 'hendrix.yaml', ...positionOf(yaml, "'web:irc.ops'") });
    expect(problem!.message).toContain('must name a `pubsub` service, but `web` is of kind `http`');
  });

  it('a relay from and to hubs plans, the bot after its hub', async () => {
    const yaml = manifest(['    relay:', "      - { from: 'hub:alerts.>', to: '#ops' }", "      - { from: '#ops', to: 'hub:irc.ops' }"].join('\n'));
    const plan = await planIn(manifestDir({ 'hendrix.yaml': yaml }));
    expect(plan.services.get('bot')!.dependencies).toEqual(['hub']);
    expect(plan.order.indexOf('hub')).toBeLessThan(plan.order.indexOf('bot'));
  });
});

describe('irc provision: files', () => {
  it('records the CA and the commands module', async () => {
    const yaml = manifest(['    tls:', '      ca: ./certs/ca.crt', '    commands: ./bot/commands.mjs'].join('\n'));
    const dir = manifestDir({ 'hendrix.yaml': yaml, 'certs/ca.crt': ca.cert, ...commandFiles });
    const plan = await planIn(dir);
    expect(plan.services.get('bot')!.files.filter((f) => f.role !== 'manifest').map((f) => [f.role, f.path, f.field])).toEqual(
      expect.arrayContaining([
        ['ca', join(dir, 'certs/ca.crt'), ['tls', 'ca']],
        ['commands', join(dir, 'bot/commands.mjs'), ['commands']],
      ]),
    );
  });

  it('a missing CA and a missing commands module are reported at once, each at its line', async () => {
    const yaml = manifest(['    tls:', '      ca: ./certs/nope.crt', '    commands: ./bot/nope.mjs'].join('\n'));
    const problems = await planProblems(manifestDir({ 'hendrix.yaml': yaml }));
    expect(problems.map((p) => [p.code, p.path, p.location && { line: p.location.line, column: p.location.column }])).toEqual([
      ['HX_ERR_IRC_TLS', ['services', 'bot', 'tls', 'ca'], positionOf(yaml, './certs/nope.crt')],
      ['HX_ERR_IRC_COMMANDS', ['services', 'bot', 'commands'], positionOf(yaml, './bot/nope.mjs')],
    ]);
    expect(problems[0]!.message).toMatch(/^the CA `tls.ca` names \.\/certs\/nope\.crt, which does not exist/);
    expect(problems[1]!.message).toMatch(/^the commands module `commands` names \.\/bot\/nope\.mjs, which does not exist/);
  });

  it('a CA file without a PEM certificate is HX_ERR_IRC_TLS', async () => {
    const yaml = manifest(['    tls:', '      ca: ./certs/ca.crt'].join('\n'));
    const [problem] = await planProblems(manifestDir({ 'hendrix.yaml': yaml, 'certs/ca.crt': 'not pem\n' }));
    expect(problem).toMatchObject({ code: 'HX_ERR_IRC_TLS', path: ['services', 'bot', 'tls', 'ca'] });
    expect(problem!.message).toMatch(/holds no PEM certificate/);
  });

  it('imports the commands module: a wrong shape or a failing import is HX_ERR_IRC_COMMANDS', async () => {
    for (const [file, message] of [
      ['./bot/not-functions.mjs', /export `ping` is not a function/],
      ['./bot/throws.mjs', /cannot load the commands module .*: boom at import/],
    ] as const) {
      const yaml = manifest(`    commands: ${file}`);
      const [problem, ...rest] = await planProblems(manifestDir({ 'hendrix.yaml': yaml, ...commandFiles }));
      expect(rest).toEqual([]);
      expect(problem).toMatchObject({ code: 'HX_ERR_IRC_COMMANDS', path: ['services', 'bot', 'commands'] });
      expect(problem!.message).toMatch(message);
      expect(problem!.location).toMatchObject(positionOf(yaml, file));
    }
  });

  it('under `check --no-import` the module must exist but is not imported', async () => {
    const wrong = manifest('    commands: ./bot/throws.mjs');
    const plan = await planIn(manifestDir({ 'hendrix.yaml': wrong, ...commandFiles }), { importModules: false });
    expect(plan.services.get('bot')!.files.map((f) => f.role)).toContain('commands');
    const missing = manifest('    commands: ./bot/nope.mjs');
    const [problem] = await planProblems(manifestDir({ 'hendrix.yaml': missing }), { importModules: false });
    expect(problem).toMatchObject({ code: 'HX_ERR_IRC_COMMANDS', path: ['services', 'bot', 'commands'] });
  });
});
