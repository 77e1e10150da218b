import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinKinds } from '../../services/index.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { testKinds } from '../../test/helpers/kinds.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import { REDACTED as CONFIG_REDACTED } from '../cli/config.js';
import type { PathSegment } from '../errors/hendrix-error.js';
import type { PlanFileRole } from '../kinds/contract.js';
import { defineServiceKind } from '../kinds/define-service-kind.js';
import { createKindRegistry, type KindRegistry, type KindSource } from '../kinds/registry.js';
import { createPlan, type Plan } from './plan.js';
import { diffPlans, formatPlanDiff, REDACTED, type PlanDiff } from './plan-diff.js';

/**
 * diffPlans() on real plans: two manifests (or one folder edited between two plans) planned
 * with the built-in kinds, compared service by service as `hendrix reload` will.
 */
const manifestDir = useManifestDirs();
const certDir = useCertDir();
let site: TestCert;

beforeAll(async () => {
  site = await createLeaf(certDir, await createTestCa(certDir), { hosts: ['localhost'], name: 'site' });
}, 30_000);

/** A manifest from service blocks (each a list of lines under `services:`). */
const yaml = (...services: string[][]) => ['version: 1', 'services:', ...services.flat().map((l) => `  ${l}`)].join('\n');

const web = (listen = '127.0.0.1:18000', extra: string[] = []) => ['web:', '  kind: http', `  listen: ${listen}`, '  app: ./app.mjs', ...extra.map((l) => `  ${l}`)];
const secure = ['secure:', '  kind: tls', '  listen: 127.0.0.1:18443', '  serves: web', '  cert: ./certs/site.crt', '  key: ./certs/site.key'];
const APP = "import { greet } from './lib/greet.mjs';\nexport default (req, res) => res.end(greet());\n";
const GREET = "export const greet = () => 'hello';\n";

/** The app files every manifest here may use (an app module importing a project module). */
const appFiles = () => ({ 'app.mjs': APP, 'lib/greet.mjs': GREET, 'certs/site.crt': site.cert, 'certs/site.key': site.key });

interface PairOptions {
  /** Files rewritten in the same folder before the next plan (the manifest included). */
  edit: Record<string, string>;
  env?: Record<string, string>;
  nextEnv?: Record<string, string>;
  kinds?: KindRegistry;
}

/** Plans `files`, applies the edits in the same folder, plans again: the running and the next plan. */
async function planPair(files: Record<string, string>, options: PairOptions): Promise<[Plan, Plan]> {
  const dir = manifestDir(files);
  const plan = (environment: Record<string, string>) => createPlan(['hendrix.yaml'], { kinds: options.kinds ?? testKinds, cwd: dir, environment });
  const running = await plan(options.env ?? {});
  for (const [name, text] of Object.entries(options.edit)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return [running, await plan(options.nextEnv ?? options.env ?? {})];
}

/** Diffs a manifest against its edit (and checks that the diff survives JSON as is). */
async function diffOf(before: string, after: string, options: Omit<PairOptions, 'edit'> & { edit?: Record<string, string> } = {}): Promise<PlanDiff> {
  const files = { 'hendrix.yaml': before, ...appFiles() };
  const [running, next] = await planPair(files, { ...options, edit: { 'hendrix.yaml': after, ...options.edit } });
  const diff = diffPlans(running, next);
  expect(JSON.parse(JSON.stringify(diff))).toEqual(diff);
  return diff;
}

const changeOf = (diff: PlanDiff, name: string) => diff.changed.find((c) => c.name === name)!;

describe('diffPlans: config', () => {
  it('a changed listen address: the service is changed (replaced: http has no canReload), its leaf fields listed, the tls listener serving it affected', async () => {
    const diff = await diffOf(yaml(web(), secure), yaml(web('127.0.0.1:18001'), secure));
    expect(diff.empty).toBe(false);
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
    expect(diff.unchanged).toEqual(['secure']);
    expect(diff.changed).toEqual([
      { name: 'web', oldKind: 'http', kind: 'http', reasons: ['config'], mode: 'replace', fields: [{ path: ['listen', 'port'], old: 18000, new: 18001 }], files: [], affected: ['secure'] },
    ]);
    expect(diff.order).toEqual([{ service: 'web', action: 'replace' }]);
  });

  it('restart.backoff.max: a leaf path three deep, the value after parsing (ms); a field set where it was absent has no old', async () => {
    const after = yaml(web(undefined, ['restart:', '  backoff:', '    max: 5s', 'static:', '  /assets: ./public']));
    const diff = await diffOf(yaml(web()), after, { edit: { 'public/logo.txt': 'logo\n' } });
    const change = changeOf(diff, 'web');
    expect(change.fields).toHaveLength(2);
    expect(change.fields).toContainEqual({ path: ['restart', 'backoff', 'max'], old: 30_000, new: 5_000 });
    expect(change.fields).toContainEqual({ path: ['static', '/assets'], new: './public' });
    expect(change.files).toEqual([{ path: expect.stringMatching(/\/public$/), role: 'static', change: 'added' }]);
  });

  it('added and removed services: removed ones stop first, dependents before their dependency, then added ones in start order', async () => {
    const api = ['api:', '  kind: http', '  listen: 127.0.0.1:18002', '  app: ./app.mjs'];
    const apiTls = ['apiSecure:', '  kind: tls', '  listen: 127.0.0.1:18444', '  serves: api', '  cert: ./certs/site.crt', '  key: ./certs/site.key'];
    const diff = await diffOf(yaml(web(), secure), yaml(apiTls, api));
    expect(diff.removed).toEqual([
      { name: 'web', kind: 'http', affected: [] },
      { name: 'secure', kind: 'tls', affected: [] },
    ]);
    expect(diff.added).toEqual([
      { name: 'apiSecure', kind: 'tls' },
      { name: 'api', kind: 'http' },
    ]);
    expect(diff.order).toEqual([
      { service: 'secure', action: 'stop' },
      { service: 'web', action: 'stop' },
      { service: 'api', action: 'start' },
      { service: 'apiSecure', action: 'start' },
    ]);
  });

  it('a removed service lists the running services that depended on it and stay (their dependsOn changed too)', async () => {
    const worker = (deps: string) => ['worker:', '  kind: http', '  listen: 127.0.0.1:18004', `  dependsOn: ${deps}`];
    const diff = await diffOf(yaml(web(), secure, worker('[secure]')), yaml(web(), worker('[]')));
    expect(diff.removed).toEqual([{ name: 'secure', kind: 'tls', affected: ['worker'] }]);
    expect(changeOf(diff, 'worker').fields).toEqual([{ path: ['dependsOn'], old: ['secure'], new: [] }]);
    expect(diff.order).toEqual([
      { service: 'secure', action: 'stop' },
      { service: 'worker', action: 'reload' },
    ]);
  });

  it('a service whose kind changed is replaced, whatever else changed', async () => {
    const diff = await diffOf(yaml(['edge:', '  kind: http', '  listen: 127.0.0.1:18003']), yaml(['edge:', '  kind: pubsub', '  listen: 127.0.0.1:18003']));
    const change = changeOf(diff, 'edge');
    expect(change).toMatchObject({ oldKind: 'http', kind: 'pubsub', mode: 'replace' });
    expect(change.reasons[0]).toBe('kind');
    expect(change.fields).toContainEqual({ path: ['kind'], old: 'http', new: 'pubsub' });
    expect(formatPlanDiff(diff).split('\n').slice(0, 2)).toEqual(['~ edge (replaced)', '    kind: http → pubsub']);
  });

  it('unchanged plans make an empty diff with nothing to do', async () => {
    const diff = await diffOf(yaml(web(), secure), yaml(web(), secure));
    expect(diff).toMatchObject({ empty: true, added: [], removed: [], changed: [], order: [], unchanged: ['web', 'secure'] });
    expect(formatPlanDiff(diff)).toBe('no changes\n= 2 unchanged: web, secure\n');
  });
});

describe('diffPlans: files', () => {
  it('new app code with the same config: the service is changed for its file alone', async () => {
    const diff = await diffOf(yaml(web(), secure), yaml(web(), secure), { edit: { 'app.mjs': `${APP}// v2\n` } });
    const change = changeOf(diff, 'web');
    expect(change).toMatchObject({ reasons: ['files'], fields: [], mode: 'in-place', affected: ['secure'] });
    expect(change.files).toEqual([{ path: expect.stringMatching(/\/app\.mjs$/), role: 'app', change: 'modified' }]);
    expect(diff.unchanged).toEqual(['secure']);
  });

  it('a project module the app imports changed: that module is listed, not the app', async () => {
    const diff = await diffOf(yaml(web()), yaml(web()), { edit: { 'lib/greet.mjs': "export const greet = () => 'hi';\n" } });
    expect(changeOf(diff, 'web').files).toEqual([{ path: expect.stringMatching(/\/lib\/greet\.mjs$/), role: 'module', change: 'modified' }]);
  });

  it('a manifest edit that changes nothing the service uses (a comment) changes no service', async () => {
    const diff = await diffOf(yaml(web()), `# a comment\n${yaml(web())}`);
    expect(diff.empty).toBe(true);
  });
});

describe('diffPlans: secrets', () => {
  const hub = ['hub:', '  kind: pubsub', '  listen: 127.0.0.1:18100', '  auth:', '    tokens:', '      - token: ${HUB_TOKEN}', "        publish: ['chat.>']", '    jwt:', '      secret: ${HUB_JWT_SECRET}'];
  const env = { HUB_TOKEN: 'old-token-123456', HUB_JWT_SECRET: 'old-secret-0123456789' };
  const nextEnv = { HUB_TOKEN: 'new-token-123456', HUB_JWT_SECRET: 'new-secret-0123456789' };

  it('values from secret variables are redacted as `hendrix config` does: a leaf wholly, an array around them', async () => {
    expect(REDACTED).toBe(CONFIG_REDACTED);
    const diff = await diffOf(yaml(hub), yaml(hub), { env, nextEnv });
    const { fields } = changeOf(diff, 'hub');
    expect(fields).toContainEqual({ path: ['auth', 'jwt', 'secret'], old: REDACTED, new: REDACTED });
    const token = { token: REDACTED, publish: ['chat.>'], subscribe: [] };
    expect(fields).toContainEqual({ path: ['auth', 'tokens'], old: [token], new: [token] });
    const text = `${JSON.stringify(diff)}\n${formatPlanDiff(diff)}`;
    for (const secret of [...Object.values(env), ...Object.values(nextEnv)]) expect(text).not.toContain(secret);
  });

  it('a value that was secret stays redacted when the next plan writes it literally', async () => {
    const literal = hub.map((l) => l.replace('${HUB_JWT_SECRET}', 'literal-secret-0123456789'));
    const diff = await diffOf(yaml(hub), yaml(literal), { env, nextEnv: { HUB_TOKEN: env.HUB_TOKEN } });
    expect(changeOf(diff, 'hub').fields).toEqual([{ path: ['auth', 'jwt', 'secret'], old: REDACTED, new: REDACTED }]);
  });
});

describe('diffPlans: in place or replaced', () => {
  /** A custom kind that reloads its text in place and must be replaced for anything else. */
  const seen: { fields: readonly PathSegment[][]; files: readonly { path: string; role: PlanFileRole }[] }[] = [];
  const greeter = defineServiceKind({
    kind: 'greeter',
    schema: z.strictObject({ text: z.string().default('hello'), port: z.number().int().default(0) }),
    canReload(change) {
      seen.push(change);
      return change.fields.every((f) => f[0] === 'text');
    },
    create: () => ({ start: async () => undefined, stop: async () => undefined }),
  });
  const kinds = createKindRegistry([...builtinKinds, ['greeter', greeter]] as [string, KindSource][]);
  const greet = (text: string, port = 0) => ['hi:', '  kind: greeter', `  text: ${text}`, `  port: ${port}`];

  it("the kind's canReload decides: a change it accepts is applied in place, one it refuses replaces the service", async () => {
    const inPlace = await diffOf(yaml(greet('hello')), yaml(greet('bonjour')), { kinds });
    expect(changeOf(inPlace, 'hi').mode).toBe('in-place');
    expect(inPlace.order).toEqual([{ service: 'hi', action: 'reload' }]);
    expect(seen.at(-1)).toEqual({ fields: [['text']], files: [] });

    const replaced = await diffOf(yaml(greet('hello')), yaml(greet('bonjour', 9)), { kinds });
    expect(changeOf(replaced, 'hi').mode).toBe('replace');
    expect(seen.at(-1)).toEqual({ fields: [['text'], ['port']], files: [] });
  });

  it('a canReload that throws replaces the service (always correct, only slower) instead of failing the diff', async () => {
    const faulty = defineServiceKind({
      kind: 'faulty',
      schema: z.strictObject({ text: z.string().default('hello') }),
      canReload: () => {
        throw new Error('a bug in the kind');
      },
      create: () => ({ start: async () => undefined, stop: async () => undefined }),
    });
    const registry = createKindRegistry([...builtinKinds, ['faulty', faulty]] as [string, KindSource][]);
    const diff = await diffOf(yaml(['f:', '  kind: faulty', '  text: a']), yaml(['f:', '  kind: faulty', '  text: b']), { kinds: registry });
    expect(changeOf(diff, 'f').mode).toBe('replace');
  });

  it('the formatted diff: one block per step, fields old → new, files, affected, then the unchanged line', async () => {
    const long = greet('"a greeting longer than the line allows for one value, cut short"');
    const before = yaml(greet('hello'), web(), secure, ['old:', '  kind: http', '  listen: 127.0.0.1:18005']);
    const after = yaml(long, web('127.0.0.1:18001'), secure, ['new:', '  kind: pubsub', '  listen: 127.0.0.1:18006']);
    const diff = await diffOf(before, after, { kinds, edit: { 'app.mjs': `${APP}// v2\n` } });
    expect(formatPlanDiff(diff)).toMatchInlineSnapshot(`
      "- old
      ~ hi (in place)
          text: "hello" → "a greeting longer than the line allows for one value, cut …
      ~ web (replaced)
          listen.port: 18000 → 18001
          file app.mjs modified
        affected: secure
      + new (pubsub)
      = 1 unchanged: secure
      "
    `);
  });
});
