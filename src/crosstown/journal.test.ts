import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { JOURNAL_FILE, Journal, type JournalEntry } from './journal.js';

const here = dirname(fileURLToPath(import.meta.url));
type Line = { level: number; msg: string; [key: string]: unknown };

let dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'hx-journal-'));
  dirs.push(dir);
  return dir;
};
const capture = (): { log: Logger; lines: Line[] } => {
  const lines: Line[] = [];
  return { lines, log: pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) }) };
};
const entry = (id: string, data: unknown = { id }): JournalEntry => ({
  id,
  pool: 'thread',
  file: '/app/tasks.mjs',
  exportName: 'resize',
  data,
  name: 'tasks.mjs#resize',
  at: 1_700_000_000_000,
  attempts: 0,
});
const noData = (id: string): JournalEntry => ({ ...entry(id), data: undefined });
const fileLines = (dir: string): string[] => readFileSync(join(dir, JOURNAL_FILE), 'utf8').split('\n').filter(Boolean);

afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe('Journal', () => {
  it('keeps what was added and not done across a reopen, and compacts to just that', () => {
    const dir = join(tempDir(), 'var', 'crosstown'); // created with its parents
    const { log } = capture();
    const first = Journal.open(dir, log);
    expect(first.pending()).toEqual([]);
    first.append(entry('a', { size: [100, 200], nested: { ok: true, none: null } }));
    first.append(entry('b'));
    first.append(noData('c'));
    first.done('b');
    first.close();
    expect(fileLines(dir).map((l) => JSON.parse(l) as unknown)).toEqual([
      { op: 'add', ...entry('a', { size: [100, 200], nested: { ok: true, none: null } }) },
      { op: 'add', ...entry('b') },
      { op: 'add', ...noData('c') },
      { op: 'done', id: 'b' },
    ]);

    const second = Journal.open(dir, log);
    // each open that finds an entry unfinished counts one more attempt
    expect(second.pending()).toEqual([{ ...entry('a', { size: [100, 200], nested: { ok: true, none: null } }), attempts: 1 }, { ...noData('c'), attempts: 1 }]);
    expect(fileLines(dir)).toHaveLength(2);
    second.done('a');
    second.failed('c');
    second.close();
    expect(fileLines(dir).slice(2)).toEqual(['{"op":"done","id":"a"}', '{"op":"done","id":"c","failed":true}']);

    const third = Journal.open(dir, log);
    expect(third.pending()).toEqual([]);
    expect(readFileSync(join(dir, JOURNAL_FILE), 'utf8')).toBe('');
    third.close();
  });

  it('counts attempts on every open until the entry is done', () => {
    const dir = tempDir();
    const { log } = capture();
    const journal = Journal.open(dir, log);
    journal.append(entry('poison'));
    journal.close();
    for (const attempts of [1, 2, 3]) {
      const again = Journal.open(dir, log);
      expect(again.pending().map((e) => [e.id, e.attempts])).toEqual([['poison', attempts]]);
      again.close();
    }
  });

  it('skips corrupt and truncated lines with a warning, and appends cleanly after them', () => {
    const dir = tempDir();
    const file = join(dir, JOURNAL_FILE);
    const add = (id: string): string => JSON.stringify({ op: 'add', ...entry(id) });
    writeFileSync(
      file,
      [add('a'), '{not json', add('b'), '{"op":"add","id":"x"}', '42', '', '{"op":"done","id":"unknown"}', '{"op":"shred","id":"a"}', `${add('c').slice(0, 30)}`].join('\n'),
    );
    const { log, lines } = capture();
    const journal = Journal.open(dir, log);
    expect(journal.pending().map((e) => e.id)).toEqual(['a', 'b']);
    expect(lines.filter((l) => l.msg === 'journal line skipped')).toEqual([2, 4, 5, 8, 9].map((line) => expect.objectContaining({ level: 40, file, line })));
    journal.append(entry('d'));
    journal.close();
    expect(Journal.open(dir, log).pending().map((e) => e.id)).toEqual(['a', 'b', 'd']);
  });

  it('refuses data that would not read back as itself, naming the task and the spot', () => {
    const dir = tempDir();
    const journal = Journal.open(dir, capture().log);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad: [unknown, string][] = [
      [{ when: new Date(0) }, 'data.when is a Date'],
      [new Map(), 'data is a Map'],
      [{ list: [1, () => 2] }, 'data.list[1] is a function'],
      [{ n: 10n }, 'data.n is a bigint'],
      [{ 'a key': Number.NaN }, 'data["a key"] is NaN'],
      [[1, undefined], 'data[1] is undefined'],
      [{ bytes: new Uint8Array(2) }, 'data.bytes is a Uint8Array'],
      [circular, 'data.self is circular'],
      [Symbol('s'), 'data is a symbol'],
    ];
    for (const [data, problem] of bad) {
      const error = (() => {
        try {
          journal.append(entry('bad', data));
        } catch (e) {
          return e as Error;
        }
        throw new Error(`accepted ${String(problem)}`);
      })();
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toMatch(`the data of tasks.mjs#resize cannot be journaled: ${problem}; durable tasks take JSON data`);
    }
    const shared = { x: 1 };
    journal.append(entry('good', { a: shared, b: shared, c: Object.assign(Object.create(null) as object, { k: 'v' }), d: undefined }));
    journal.close();
    expect(fileLines(dir)).toHaveLength(1);
  });

  it('refuses appends once closed; an end recorded after close is replayed next time', () => {
    const dir = tempDir();
    const { log, lines } = capture();
    const journal = Journal.open(dir, log);
    journal.append(entry('a'));
    journal.close();
    journal.close();
    expect(() => journal.append(entry('b'))).toThrow(/^the journal .*journal\.jsonl is closed; tasks\.mjs#resize was not recorded$/);
    journal.done('a');
    expect(lines.at(-1)).toMatchObject({ level: 40, id: 'a', msg: 'journal closed; task end not recorded' });
    expect(Journal.open(dir, log).pending().map((e) => e.id)).toEqual(['a']);
  });

  it('truncates a long journal while running once nothing is pending', () => {
    const dir = tempDir();
    const journal = Journal.open(dir, capture().log);
    const big = 'x'.repeat(300_000);
    for (const id of ['1', '2', '3', '4']) journal.append(entry(id, big));
    for (const id of ['1', '2', '3']) journal.done(id);
    expect(statSync(join(dir, JOURNAL_FILE)).size).toBeGreaterThan(1_200_000);
    journal.done('4');
    expect(statSync(join(dir, JOURNAL_FILE)).size).toBe(0);
    journal.append(entry('5'));
    journal.close();
    expect(fileLines(dir).map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['5']);
  });

  it('after a SIGKILL midway, reopens with exactly the entries that were not done', async () => {
    const dir = tempDir();
    const bundle = join(dir, 'journal.mjs');
    await build({ entryPoints: [join(here, 'journal.ts')], outfile: bundle, bundle: true, format: 'esm', platform: 'node', logLevel: 'silent' });
    const child = fork(join(here, 'fixtures', 'journal-writer.mjs'), [bundle, join(dir, 'var')], { execArgv: [], stdio: 'inherit' });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`the writer exited early with code ${code}`)));
    });
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const { log, lines } = capture();
    const pending = Journal.open(join(dir, 'var'), log).pending().map((e) => Number(e.id));
    // the writer added 0, 1, 2... and marked every third done at once; the kill may have come
    // between an add and its done (that entry is pending), or in the middle of a line (skipped)
    const added = Math.max(...pending) + 1;
    const expected = Array.from({ length: added }, (_, i) => i).filter((i) => i % 3 !== 0 || i === added - 1);
    expect(added).toBeGreaterThan(200);
    expect(pending).toEqual(expected);
    expect(lines.filter((l) => l.msg === 'journal line skipped').length).toBeLessThanOrEqual(1);
  });
});

describe('a journal file used by two runtimes of one process (a replaced service while its old instance drains)', () => {
  it('the second shares the open file and replays nothing; tasks of either are recorded; what is left after both close is replayed once', () => {
    const dir = tempDir();
    const first = Journal.open(dir, capture().log);
    first.append(entry('a'));
    first.append(entry('b'));
    first.close();
    // a new start: a and b are pending for the first runtime only
    const old = Journal.open(dir, capture().log);
    expect(old.pending().map((e) => e.id)).toEqual(['a', 'b']);
    const next = Journal.open(dir, capture().log);
    expect(next.pending()).toEqual([]);
    next.append(entry('c'));
    old.done('a');
    next.done('b'); // the open file knows every task, whoever added it
    old.close(); // the old instance drained: the file stays open for the new one
    next.append(entry('d'));
    next.done('c');
    next.close();
    const after = Journal.open(dir, capture().log);
    expect(after.pending().map((e) => e.id)).toEqual(['d']);
    after.close();
  });
});
