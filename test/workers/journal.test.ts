import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, logLines, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { APP } from '../crosstown/helpers.js';
import { isReady, until } from '../helpers/workers.js';

// crosstown with workers: each worker slot journals in its own file, and the worker that takes
// a slot after a crash replays what the crash left unfinished there — while the other worker
// goes on with its own tasks. One thread per worker runs its tasks in order.

const REQUESTS = 4;
const PER_REQUEST = 5;
const TASKS = REQUESTS * PER_REQUEST;
const TASK_MS = 150;

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** One GET on a connection of its own, so that node:cluster hands each to the next worker. */
function fresh(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    });
    req.on('error', reject).end();
  });
}

describe('crosstown with workers', () => {
  const dirs = useManifestDirs();

  it('each worker slot has its own journal; the replacement of a killed worker replays its slot only', async () => {
    const web = { kind: 'http', listen: '127.0.0.1:0', app: `${APP}#listener`, stopTimeout: '20s', crosstown: { threads: 1, journal: './var/crosstown' } };
    const dir = dirs({ 'hendrix.yaml': `version: 1\nworkers: 2\nlogging: { format: json }\nservices:\n  web: ${JSON.stringify(web)}\n` });
    const file = join(dir, 'ran.log');
    const p = spawnCli(['up'], { cwd: dir });
    running.push(p);
    const ready = await p.waitForLog(isReady, 20_000);
    const url = addressOf(ready, 'web');
    const workers = ready.workers as { id: number; pid: number }[];
    expect(workers.map((w) => w.id)).toEqual([1, 2]);

    for (let r = 0; r < REQUESTS; r++) {
      expect(await fresh(`${url}/thread?id=r${r}&ms=${TASK_MS}&n=${PER_REQUEST}&file=${encodeURIComponent(file)}`)).toBe(`scheduled ${PER_REQUEST}`);
    }
    const journals = join(dir, 'var/crosstown');
    expect(existsSync(join(journals, 'journal-w1.jsonl')) && existsSync(join(journals, 'journal-w2.jsonl'))).toBe(true);
    expect(existsSync(join(journals, 'journal.jsonl'))).toBe(false);
    const starts = (): number => lines(file).filter((l) => l.startsWith('start ')).length;
    const ends = (): number => lines(file).filter((l) => l.startsWith('end ')).length;
    // both workers have tasks running (one thread each): kill worker 1 in the middle of one
    await until(() => starts() >= 4, 'tasks on both workers');
    process.kill(workers[0]!.pid, 'SIGKILL');

    const replay = await p.waitForLog((l) => l.msg === 'crosstown replaying unfinished tasks', 20_000);
    expect(replay.worker).toBe(1);
    expect(replay.count).toBeGreaterThan(0);
    await until(() => ends() >= TASKS, 'every task', 25_000);
    // worker 2 never replayed anything: its slot's journal was not touched by the crash
    expect(logLines(p).filter((l) => l.msg === 'crosstown replaying unfinished tasks' && l.worker === 2)).toEqual([]);

    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    const record = lines(file);
    const ids = Array.from({ length: REQUESTS }, (_, r) => Array.from({ length: PER_REQUEST }, (_, i) => `r${r}-${i}`)).flat();
    const count = (line: string): number => record.filter((l) => l === line).length;
    expect(ids.filter((id) => count(`end ${id}`) !== 1)).toEqual([]);
    // at most the task running in worker 1 at the kill started twice
    expect(ids.filter((id) => count(`start ${id}`) > 1).length).toBeLessThanOrEqual(1);
  }, 40_000);
});
