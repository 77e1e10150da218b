import { existsSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, logLines, runCli, RUNTIME_DIR, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const isReloaded = (l: Record<string, unknown>) => typeof l.msg === 'string' && /^reload(ed in|:)/.test(l.msg);
const MANIFEST = 'services:\n  web:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n';
const appText = (text: string) => `import { word } from './word.mjs';\nexport default (req, res) => res.end(\`${text} \${word}\`);\n`;

/** A project folder with hendrix.yaml, app.mjs and the module it imports, and `hendrix up` running in it. */
async function project(extraArgs: string[] = []) {
  const dir = makeDir({ 'hendrix.yaml': MANIFEST, 'app.mjs': appText('one'), 'word.mjs': "export const word = 'a';\n" });
  const p = spawnCli(['up', ...extraArgs], { cwd: dir });
  running.push(p);
  const ready = await p.waitForLog(isReady);
  return { dir, p, url: addressOf(ready, 'web'), control: String(ready.control) };
}

function fetchText(url: string, agent: Agent | false = false): Promise<string> {
  return new Promise((done, fail) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done(body));
    }).on('error', fail);
  });
}

async function eventually(url: string, expected: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 300; i++) {
    last = await fetchText(url);
    if (last === expected) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(last).toBe(expected);
}

describe('changing a running graph from the command line', () => {
  it('kill -HUP reloads the edited app in place: same process, same keep-alive connection, new text', async () => {
    const { dir, p, url } = await project();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await fetchText(url, agent)).toBe('one a');
    writeFileSync(join(dir, 'word.mjs'), "export const word = 'b';\n");
    p.process.kill('SIGHUP');
    await p.waitForLog((l) => isReloaded(l) && String(l.msg).includes('web in place'));
    expect(await fetchText(url, agent)).toBe('one b');
    expect(p.process.exitCode).toBe(null);
    agent.destroy();
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });

  it('hendrix reload --dry-run prints the diff and changes nothing; hendrix reload applies it; --format json', async () => {
    const { dir, url } = await project();
    writeFileSync(join(dir, 'app.mjs'), appText('two'));
    writeFileSync(join(dir, 'hendrix.yaml'), `${MANIFEST}    keepAliveTimeout: 7s\n  extra:\n    kind: http\n    listen: 127.0.0.1:0\n    app: ./app.mjs\n`);
    const dry = await runCli(['reload', '--dry-run'], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('~ web (in place)');
    expect(dry.stdout).toContain('keepAliveTimeout: 5000 → 7000');
    expect(dry.stdout).toContain('file app.mjs modified');
    expect(dry.stdout).toContain('+ extra (http)');
    expect(await fetchText(url)).toBe('one a');
    const json = await runCli(['reload', '--dry-run', '--format', 'json'], { cwd: dir });
    const body = JSON.parse(json.stdout) as { applied: boolean; diff: { added: { name: string }[] } };
    expect(body.applied).toBe(false);
    expect(body.diff.added.map((a) => a.name)).toEqual(['extra']);
    const applied = await runCli(['reload'], { cwd: dir });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/reloaded in .*: web in place .*, extra added/);
    expect(await fetchText(url)).toBe('two a');
  });

  it('a broken edit is refused with file:line:col (exit 78), the instance logs it and serves on; a failing start rolls back (exit 1)', async () => {
    const { dir, p, url } = await project();
    writeFileSync(join(dir, 'hendrix.yaml'), MANIFEST.replace('listen:', 'lisen:'));
    const typo = await runCli(['reload'], { cwd: dir });
    expect(typo.code).toBe(78);
    expect(typo.stderr).toContain('HX_ERR_UNKNOWN_KEY');
    expect(typo.stderr).toMatch(/hendrix\.yaml:4:5/);
    writeFileSync(join(dir, 'hendrix.yaml'), MANIFEST);
    writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => { res.end("x")\n');
    const syntax = await runCli(['reload'], { cwd: dir });
    expect(syntax.code).toBe(78);
    expect(syntax.stderr).toMatch(/app\.mjs:2:1/);
    writeFileSync(join(dir, 'app.mjs'), 'throw new Error("boom at import");\n');
    const throws = await runCli(['reload'], { cwd: dir });
    expect(throws.code).toBe(78);
    expect(throws.stderr).toMatch(/boom at import/);
    writeFileSync(join(dir, 'app.mjs'), appText('one'));
    writeFileSync(join(dir, 'missing.yaml'), '');
    writeFileSync(join(dir, 'hendrix.yaml'), `${MANIFEST}    app: ./nope.mjs\n`.replace('    app: ./app.mjs\n', ''));
    const missing = await runCli(['reload'], { cwd: dir });
    expect(missing.code).toBe(78);
    expect(missing.stderr).toContain('nope.mjs');
    // a port some other process holds: the new service cannot start, the reload is rolled back
    const holder = await runCli(['reload', '--format', 'json'], { cwd: dir });
    expect(holder.code).toBe(78);
    const { port } = new URL(url);
    writeFileSync(join(dir, 'hendrix.yaml'), `${MANIFEST}  clash:\n    kind: http\n    listen: 127.0.0.1:${port}\n    app: ./app.mjs\n`);
    const clash = await runCli(['reload'], { cwd: dir });
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('HX_ERR_RELOAD_FAILED');
    expect(await fetchText(url)).toBe('one a');
    expect(logLines(p).some((l) => l.msg === 'reload failed: the running graph is unchanged')).toBe(true);
  });

  it('up --watch reloads on save: a broken save keeps the last good graph, the next good one recovers', async () => {
    const { dir, p, url } = await project(['--watch']);
    writeFileSync(join(dir, 'app.mjs'), appText('watched'));
    await eventually(url, 'watched a');
    writeFileSync(join(dir, 'word.mjs'), 'export const word = ;\n');
    await p.waitForLog((l) => l.msg === 'reload failed: the running graph is unchanged');
    // the rendered diagnostic goes to stderr, which may arrive after the log line
    for (let i = 0; i < 100 && !/word\.mjs:1:/.test(p.stderr()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.stderr()).toMatch(/word\.mjs:1:/);
    expect(await fetchText(url)).toBe('watched a');
    writeFileSync(join(dir, 'word.mjs'), "export const word = 'c';\n");
    await eventually(url, 'watched c');
  });

  it('a second instance for the same manifest is refused before it starts; reload without an instance says so; the socket goes at exit', async () => {
    const { dir, p, control } = await project();
    expect(control.startsWith(join(RUNTIME_DIR, 'hendrix'))).toBe(true);
    const second = await runCli(['up'], { cwd: dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('HX_ERR_CONTROL_IN_USE');
    expect(second.stderr).toContain(`pid ${p.process.pid}`);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(existsSync(control)).toBe(false);
    const none = await runCli(['reload'], { cwd: dir });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no hendrix runs for this manifest');
    expect(existsSync(dir)).toBe(true);
  });
});
