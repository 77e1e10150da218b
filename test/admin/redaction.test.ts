import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { admin, sse } from '../helpers/admin.js';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const isReloaded = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('reloaded in');

// written literally in the file: a secret by its place, not by a variable's name
const manifest = (token: string, keepAlive: string) => `admin:
  listen: 127.0.0.1:0
  token: ${token}
services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
    keepAliveTimeout: ${keepAlive}
`;

describe('the admin token never appears in an answer', () => {
  const running: CliProcess[] = [];
  afterAll(() => {
    for (const p of running) if (p.process.exitCode === null) p.process.kill('SIGKILL');
  });

  it('not in /status, /events, /metrics, /plan, GET /, a reload diff (dry or applied), its events, hendrix config, nor the log', async () => {
    const first = `first-${randomBytes(16).toString('hex')}`;
    const second = `second-${randomBytes(16).toString('hex')}`;
    const dir = makeDir({ 'hendrix.yaml': manifest(first, '5s'), 'app.mjs': 'export default (req, res) => res.end("hi");\n' });
    const p = spawnCli(['up'], { cwd: dir });
    running.push(p);
    const tcp = { url: String((await p.waitForLog((l) => typeof l.admin === 'string', 15_000)).admin) };
    const socket = { socket: String((await p.waitForLog(isReady)).control) };
    const answers: string[] = [];
    const take = async (target: { socket: string } | { url: string }, method: string, path: string) => {
      const answer = await admin(target, method, path, 'url' in target ? { headers: { authorization: `Bearer ${first}` } } : {});
      expect(answer.status, `${method} ${path}: ${answer.text}`).toBeLessThan(300);
      answers.push(`${method} ${path}\n${JSON.stringify(answer.headers)}\n${answer.text}`);
    };
    for (const target of [socket, tcp]) for (const path of ['/status', '/metrics', '/plan', '/']) await take(target, 'GET', path);

    // the edit: a new token and a changed service, diffed dry, then applied
    writeFileSync(join(dir, 'hendrix.yaml'), manifest(second, '7s'));
    await take(socket, 'POST', '/reload?dryRun=1');
    for (const args of [['reload', '--dry-run'], ['reload', '--dry-run', '--format', 'json']]) {
      const dry = await runCli(args, { cwd: dir });
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('keepAliveTimeout');
      answers.push(dry.stdout, dry.stderr);
    }
    const applied = await runCli(['reload'], { cwd: dir });
    expect(applied.code, applied.stderr).toBe(0);
    answers.push(applied.stdout, applied.stderr);
    await p.waitForLog(isReloaded);
    await take(socket, 'GET', '/status');

    const events = await sse(socket, { lastEventId: '0' });
    await events.until((list) => list.some((e) => e.event === 'reload' && e.data.includes('"applied"')));
    events.close();
    answers.push(JSON.stringify(events.events));

    for (const args of [['config'], ['config', '--format', 'json'], ['config', '--explain', 'admin.token'], ['config', '--explain', 'admin.token', '--format', 'json'], ['config', '--explain', 'admin']]) {
      const config = await runCli(args, { cwd: dir });
      expect(config.code, config.stderr).toBe(0);
      answers.push(config.stdout, config.stderr);
    }
    expect(answers.join('\n')).toContain('[redacted]');

    expect((await admin(socket, 'POST', '/stop')).status).toBe(202);
    expect(await p.exited()).toBe(0);
    answers.push(p.stdout(), p.stderr());
    for (const secret of [first, second]) expect(answers.filter((a) => a.includes(secret))).toEqual([]);
  });
});
