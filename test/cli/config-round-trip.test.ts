import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

// `hendrix config` prints a manifest: saved beside the base manifest, it checks, resolves its
// relative paths to the same files, and prints itself again unchanged. The built CLI (`npm run
// build` first).

const written: string[] = [];
afterAll(() => {
  for (const file of written) rmSync(file, { force: true });
});

/** Every example manifest: examples/<name>/hendrix.yaml and hendrix.yaml.example. */
const EXAMPLES = [
  ...readdirSync(join(ROOT, 'examples'))
    .map((name) => `examples/${name}/hendrix.yaml`)
    .filter((file) => existsSync(join(ROOT, file))),
  'hendrix.yaml.example',
].sort();

/** The production overlays, with the variables they require. */
const OVERLAYS: Record<string, Record<string, string>> = {
  'examples/overlay/hendrix.yaml': { PORT: '8080' },
  'examples/tls/hendrix.yaml': { ACME_EMAIL: 'ops@example.com', DOMAIN: 'example.com' },
};

/**
 * The fingerprints of each service and the files it depends on (the manifest aside), as
 * `check --format json` plans them: a printed manifest must plan to the same.
 */
async function resolvedFiles(file: string, cwd = ROOT): Promise<Record<string, unknown>> {
  const r = await runCli(['check', '-f', file, '--format', 'json'], { cwd });
  expect(r.code, `check -f ${file}\n${r.stdout}${r.stderr}`).toBe(0);
  type Planned = { fingerprint: string; configFingerprint: string; files: { path: string; role: string }[] };
  const report = JSON.parse(r.stdout) as { services: Record<string, Planned> };
  return Object.fromEntries(
    Object.entries(report.services).map(([name, s]) => [name, { fingerprint: s.fingerprint, configFingerprint: s.configFingerprint, files: s.files.filter((f) => f.role !== 'manifest') }]),
  );
}

/** Runs `config` with `args`, writes its output beside `file` and returns the printed manifest's path. */
async function configBeside(file: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<{ text: string; copy: string }> {
  const r = await runCli(['config', '-f', file, ...args], { cwd, env });
  expect(r.code, r.stderr).toBe(0);
  const copy = join(dirname(file), `.config-round-trip-${process.pid}-${written.length}.yaml`);
  writeFileSync(join(cwd, copy), r.stdout);
  written.push(join(cwd, copy));
  return { text: r.stdout, copy };
}

describe('hendrix config prints a manifest that reads back the same', () => {
  for (const example of EXAMPLES) {
    it(example, async () => {
      const { text, copy } = await configBeside(example, []);
      expect(text).not.toMatch(/\n\s+listen:\n\s+host:/); // a listen address is written as text, not a mapping
      const check = await runCli(['check', '-f', copy]);
      expect(check.code, check.stderr).toBe(0);
      expect(await resolvedFiles(copy)).toEqual(await resolvedFiles(example));
      // a fixed point: the printed manifest prints itself
      expect((await runCli(['config', '-f', copy])).stdout).toBe(text);
    });
  }

  for (const [example, env] of Object.entries(OVERLAYS)) {
    it(`${example} with --env production`, async () => {
      const { text, copy } = await configBeside(example, ['--env', 'production'], env);
      const check = await runCli(['check', '-f', copy]);
      expect(check.code, check.stderr).toBe(0);
      expect((await runCli(['config', '-f', copy])).stdout).toBe(text);
    });
  }
});

const project = useManifestDirs();

describe('hendrix config round-trips the field kinds of every built-in kind', () => {
  it('listen addresses, durations, sizes, MACs, EtherTypes, VLAN tags, true-or-object fields and `$` in strings', async () => {
    const dir = project({
      'app.mjs': 'export default (req, res) => res.end("ok");\n',
      'public/index.html': '<p>hi</p>\n',
      'hendrix.yaml': `version: 1
logging: { level: warn, format: json }
services:
  web:
    kind: http
    listen: '[::1]:8100'
    app: ./app.mjs
    static: { /: ./public }
    requestTimeout: 1m30s
    maxHeaderSize: 32kb
    crosstown: { threads: 1, taskTimeout: 2s }
    restart: { policy: always, backoff: { initial: 250ms, max: 1m } }
  sock:
    kind: http
    listen: ./var/web.sock
    app: ./app.mjs
  secure:
    kind: tls
    serves: web
    listen: 0.0.0.0:8443
    selfSigned: true
    hsts: true
    redirect: { listen: 8080 }
  hub:
    kind: pubsub
    listen: 127.0.0.1:8160
    maxPayload: 1mb
    heartbeat: 45s
    topics: { 'news.*': { history: 10, ttl: 10m } }
    auth:
      tokens: [{ token: reader-token-1, subscribe: ['news.>'] }]
      anonymous: { subscribe: ['public.*'] }
  bot:
    kind: irc
    server: 127.0.0.1:6697
    tls: true
    nick: hxbot
    channels: ['#ops', { name: '#keyed', key: k3y }]
    relay: [{ from: 'hub:news.*', to: '#ops', format: 'costs $$5: {data}' }]
  beacon:
    kind: raw
    interface: lo
    source: 02-00-00-00-00-42
    ethertype: '0x88b6'
    vlan: 7
    every: 1s
    payload: 'beacon $\${seq} at $\${ts}'
    from: hub:news.*
`,
    });
    const first = await runCli(['config'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('listen: "[::1]:8100"');
    expect(first.stdout).toContain('listen: ./var/web.sock');
    expect(first.stdout).toContain('listen: 0.0.0.0:8080');
    expect(first.stdout).toContain('payload: beacon $${seq} at $${ts}');
    expect(first.stdout).toContain('format: "costs $$5: {data}"');
    writeFileSync(join(dir, 'resolved.yaml'), first.stdout);
    const check = await runCli(['check', '-f', 'resolved.yaml'], { cwd: dir });
    expect(check.code, `${first.stdout}\n${check.stderr}`).toBe(0);
    expect((await runCli(['config', '-f', 'resolved.yaml'], { cwd: dir })).stdout).toBe(first.stdout);
    expect(await resolvedFiles('resolved.yaml', dir)).toEqual(await resolvedFiles('hendrix.yaml', dir));
  });
});

describe('hendrix config --explain', () => {
  it('shows the value, and says default where no layer set it', async () => {
    const r = await runCli(['config', '-f', 'examples/overlay/hendrix.yaml', '--explain', 'services.web.keepAliveTimeout']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual(['services.web.keepAliveTimeout', '  → default  no layer sets it', '  = 5000', '']);
    const json = await runCli(['config', '-f', 'examples/overlay/hendrix.yaml', '--explain', 'services.web.restart.backoff', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ path: 'services.web.restart.backoff', default: true, origins: [], value: { initial: 100, factor: 2 } });
  });

  it('shows the value a layer set, as the manifest writes it', async () => {
    const r = await runCli(['config', '-f', 'examples/overlay/hendrix.yaml', '--explain', 'services.web.listen']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/→ base\s+examples\/overlay\/hendrix\.yaml:\d+:\d+\s+listen: 127\.0\.0\.1:\$\{PORT:-8000\}\s+\(wins\)/);
    expect(lines[2]).toBe('  = 127.0.0.1:8000');
  });

  it('keeps HX_ERR_EXPLAIN_PATH, with its did-you-mean, for a path that holds nothing', async () => {
    const r = await runCli(['config', '-f', 'examples/overlay/hendrix.yaml', '--explain', 'services.web.lisen']);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain('error[HX_ERR_EXPLAIN_PATH]');
    expect(r.stderr).toContain('did you mean `services.web.listen`?');
  });
});
