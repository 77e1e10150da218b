import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, logLines, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { APP, get } from '../crosstown/helpers.js';

// The crosstown journal across SIGKILL, as a reliability check: more tasks than
// test/crosstown/cli.test.ts's single kill (3 tasks), killed twice — once during the first run
// and once during the replay — and a control run without the journal that loses tasks, so the
// check is known to see a loss. One thread runs the tasks in order: when task k has written
// `start`, task k-1's `done` is in the journal (the runtime books it before starting the next),
// so each kill lands on exactly one running task, which runs again; every task ends once.

const REQUESTS = 4;
const PER_REQUEST = 5;
const TASKS = REQUESTS * PER_REQUEST;
/** Starts to see before each kill. */
const STEP = 6;
const TASK_MS = 150;

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});

const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

async function until(what: string, predicate: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the crosstown journal across SIGKILL', () => {
  const dirs = useManifestDirs();
  const project = (journal: boolean): string => {
    const web = { kind: 'http', listen: '127.0.0.1:0', app: `${APP}#listener`, stopTimeout: '20s', crosstown: { threads: 1, ...(journal ? { journal: './var/crosstown' } : {}) } };
    return dirs({ 'hendrix.yaml': `version: 1\nlogging: { format: json }\nservices:\n  web: ${JSON.stringify(web)}\n` });
  };
  const upIn = async (dir: string): Promise<{ p: CliProcess; url: string }> => {
    const p = spawnCli(['up'], { cwd: dir });
    running.push(p);
    return { p, url: addressOf(await p.waitForLog(isReady, 15_000), 'web') };
  };
  const schedule = async (url: string, file: string): Promise<void> => {
    for (let r = 0; r < REQUESTS; r++) {
      const res = await get(`${url}/thread?id=r${r}&ms=${TASK_MS}&n=${PER_REQUEST}&file=${encodeURIComponent(file)}`);
      expect(res.body).toBe(`scheduled ${PER_REQUEST}`);
    }
  };
  const starts = (file: string): number => lines(file).filter((l) => l.startsWith('start ')).length;
  const ends = (file: string): number => lines(file).filter((l) => l.startsWith('end ')).length;
  const kill9 = async (p: CliProcess): Promise<void> => {
    p.process.kill('SIGKILL');
    await p.exited();
  };

  it(`${TASKS} tasks, SIGKILL twice (in the run and in the replay): every task done exactly once`, async () => {
    const dir = project(true);
    const file = join(dir, 'ran.log');
    const first = await upIn(dir);
    await schedule(first.url, file);
    await until('the first tasks', () => starts(file) >= STEP);
    await kill9(first.p);
    const doneAtFirstKill = ends(file);

    const second = await upIn(dir);
    expect(logLines(second.p).find((l) => l.msg === 'crosstown replaying unfinished tasks')).toMatchObject({ count: TASKS - doneAtFirstKill });
    await until('the replay', () => starts(file) >= 2 * STEP);
    await kill9(second.p);
    const doneAtSecondKill = ends(file);

    const third = await upIn(dir);
    expect(logLines(third.p).find((l) => l.msg === 'crosstown replaying unfinished tasks')).toMatchObject({ count: TASKS - doneAtSecondKill });
    await until('every task', () => ends(file) >= TASKS);
    third.p.process.kill('SIGTERM');
    expect(await third.p.exited()).toBe(0);

    const record = lines(file);
    const ids = Array.from({ length: REQUESTS }, (_, r) => Array.from({ length: PER_REQUEST }, (_, i) => `r${r}-${i}`)).flat();
    const count = (line: string): number => record.filter((l) => l === line).length;
    expect(ids.filter((id) => count(`end ${id}`) !== 1)).toEqual([]);
    // the task running at each kill started again; no other task did
    expect(ids.filter((id) => count(`start ${id}`) === 2)).toHaveLength(2);
    expect(ids.filter((id) => count(`start ${id}`) > 2)).toEqual([]);

    // done means done: a fourth start replays nothing
    const fourth = await upIn(dir);
    expect(logLines(fourth.p).some((l) => l.msg === 'crosstown replaying unfinished tasks')).toBe(false);
    fourth.p.process.kill('SIGTERM');
    expect(await fourth.p.exited()).toBe(0);
    expect(lines(file)).toEqual(record);
  }, 28_000);

  it('the control: without the journal, a SIGKILL loses the tasks that were queued', async () => {
    const dir = project(false);
    const file = join(dir, 'ran.log');
    const first = await upIn(dir);
    await schedule(first.url, file);
    await until('the first tasks', () => starts(file) >= STEP);
    await kill9(first.p);
    const second = await upIn(dir);
    second.p.process.kill('SIGTERM');
    expect(await second.p.exited()).toBe(0);
    expect(ends(file)).toBeLessThan(STEP);
    expect(TASKS - ends(file)).toBeGreaterThanOrEqual(TASKS - STEP);
  }, 20_000);
});
