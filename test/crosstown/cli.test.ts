import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, logLines, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { APP, get, until } from './helpers.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});

const dirs = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');

function project(crosstown: Record<string, unknown>): string {
  const web = { kind: 'http', listen: '127.0.0.1:0', app: `${APP}#listener`, stopTimeout: '20s', crosstown };
  return dirs({ 'hendrix.yaml': `version: 1\nlogging: { format: json }\nservices:\n  web: ${JSON.stringify(web)}\n` });
}

async function upIn(dir: string): Promise<{ p: CliProcess; url: string }> {
  const p = spawnCli(['up'], { cwd: dir });
  running.push(p);
  const ready = await p.waitForLog(isReady);
  return { p, url: addressOf(ready, 'web') };
}

/** The lines of the tasks' own record: `start <id>` and `end <id>`. */
const record = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const count = (lines: string[], line: string): number => lines.filter((l) => l === line).length;

describe('crosstown under hendrix up', () => {
  it('SIGTERM: stops accepting, then finishes the running and queued tasks before exiting 0', async () => {
    const dir = project({ threads: 1 });
    const file = join(dir, 'ran.log');
    const { p, url } = await upIn(dir);
    const res = await get(`${url}/thread?id=t&ms=300&n=3&file=${encodeURIComponent(file)}`);
    expect(res.body).toBe('scheduled 3');
    await until(() => record(file).includes('start t-0'));
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(record(file)).toEqual(['start t-0', 'end t-0', 'start t-1', 'end t-1', 'start t-2', 'end t-2']);
    const stats = logLines(p).find((l) => l.msg === 'crosstown stats');
    expect(stats).toMatchObject({ done: 3, failed: 0, queued: 0, running: 0, component: 'crosstown', service: 'web' });
  });

  it('SIGTERM with a short drainTimeout: reports the tasks left by name and exits 3', async () => {
    const dir = project({ threads: 1, drainTimeout: '300ms' });
    const file = join(dir, 'ran.log');
    const { p, url } = await upIn(dir);
    await get(`${url}/thread?id=s&ms=2000&n=3&file=${encodeURIComponent(file)}`);
    await until(() => record(file).includes('start s-0'));
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(3);
    const left = logLines(p).find((l) => l.msg === 'crosstown tasks left undone');
    expect(left).toMatchObject({ level: 40, left: { 'tasks.mjs#slow': 3 }, reason: 'drainTimeout passed' });
    expect(p.stderr()).toContain('HX_ERR_CROSSTOWN_DRAIN_LEFT');
    expect(record(file)).toEqual(['start s-0']);
  });

  it('SIGKILL with a journal: the next start replays each unfinished task exactly once', async () => {
    const dir = project({ threads: 1, journal: './var/crosstown' });
    const file = join(dir, 'ran.log');
    const first = await upIn(dir);
    const res = await get(`${first.url}/thread?id=j&ms=700&n=3&file=${encodeURIComponent(file)}`);
    expect(res.status).toBe(200);
    await until(() => record(file).includes('start j-0'));
    first.p.process.kill('SIGKILL');
    await first.p.exited();
    expect(record(file)).toEqual(['start j-0']);
    expect(existsSync(join(dir, 'var/crosstown/journal.jsonl'))).toBe(true);

    const second = await upIn(dir);
    await until(() => ['j-0', 'j-1', 'j-2'].every((id) => record(file).includes(`end ${id}`)), 10_000, 'the replay');
    const replaying = logLines(second.p).find((l) => l.msg === 'crosstown replaying unfinished tasks');
    expect(replaying).toMatchObject({ count: 3 });
    second.p.process.kill('SIGTERM');
    expect(await second.p.exited()).toBe(0);
    const lines = record(file);
    // j-0 was running when the process died: it ran again; j-1 and j-2 had only been queued
    expect([count(lines, 'start j-0'), count(lines, 'start j-1'), count(lines, 'start j-2')]).toEqual([2, 1, 1]);
    expect([count(lines, 'end j-0'), count(lines, 'end j-1'), count(lines, 'end j-2')]).toEqual([1, 1, 1]);
    expect(logLines(second.p).find((l) => l.msg === 'crosstown stats')).toMatchObject({ replayed: 3, done: 3 });

    // done means done: a third start replays nothing
    const third = await upIn(dir);
    expect(logLines(third.p).some((l) => l.msg === 'crosstown replaying unfinished tasks')).toBe(false);
    third.p.process.kill('SIGTERM');
    expect(await third.p.exited()).toBe(0);
    expect(record(file)).toEqual(lines);
  });
});
