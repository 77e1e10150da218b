import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createProcessPool } from './process-pool.js';
import { createThreadPool } from './thread-pool.js';
import type { TaskPool, TaskSpec } from './pool-types.js';
import { serializeError, toError } from './task-error.js';

const tasksUrl = new URL('./fixtures/tasks.mjs', import.meta.url).href;
const tasks = fileURLToPath(tasksUrl);
const { makeError } = (await import(tasksUrl)) as { makeError: (kind: string) => unknown };

type Where = { threadId: number; pid: number };
type Span = Where & { start: number; end: number };
type Line = { level: number; msg: string; [key: string]: unknown };

const task = (exportName: string, data?: unknown, extra: Partial<TaskSpec> = {}): TaskSpec => ({ file: tasks, exportName, data, ...extra });
const failure = (promise: Promise<unknown>): Promise<Error & Record<string, unknown>> =>
  promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: Error & Record<string, unknown>) => error,
  );

const kinds = [
  ['thread', createThreadPool],
  ['process', createProcessPool],
] as const;

describe.each(kinds)('%s pool', (kind, createPool) => {
  let pools: TaskPool[] = [];
  const make = (size: number): { pool: TaskPool; lines: Line[] } => {
    const lines: Line[] = [];
    const log = pino({ level: 'debug' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
    const pool = createPool({ size, log });
    pools.push(pool);
    return { pool, lines };
  };
  const idOf = (where: Where): number => (kind === 'thread' ? where.threadId : where.pid);
  const whoami = async (pool: TaskPool): Promise<number> => idOf((await pool.run(task('default'))) as Where);

  afterEach(async () => {
    await Promise.all(pools.map((pool) => pool.destroy()));
    pools = [];
  });

  it('runs default and named exports, sync and async, on one lazily started, reused worker', async () => {
    const { pool, lines } = make(2);
    expect([pool.kind, pool.size, pool.available()]).toEqual([kind, 2, 2]);
    expect(lines).toEqual([]); // nothing starts before the first task
    const first = (await pool.run(task('default', { a: [1, 'two'] }))) as Where & { data: unknown };
    expect(first.data).toEqual({ a: [1, 'two'] });
    if (kind === 'thread') expect([first.pid, first.threadId === 0]).toEqual([process.pid, false]);
    else expect([first.pid === process.pid, first.threadId]).toEqual([false, 0]);
    expect(await pool.run(task('double', 21))).toBe(42);
    expect(await pool.run(task('asyncDouble', 4))).toBe(8);
    expect(await whoami(pool)).toBe(idOf(first));
    const started = lines.filter((l) => l.msg === 'worker started');
    expect(started).toEqual([expect.objectContaining({ level: 20, pool: kind, [kind === 'thread' ? 'threadId' : 'pid']: idOf(first) })]);
  });

  it('runs up to `size` tasks at once: two overlap with size 2, never with size 1', async () => {
    const two = make(2).pool;
    const a = two.run(task('span', 300));
    expect(two.available()).toBe(1);
    const b = two.run(task('span', 300));
    expect(two.available()).toBe(0);
    expect(await failure(two.run(task('double', 1)))).toMatchObject({ code: 'HX_TASK_POOL_FULL' });
    const [x, y] = (await Promise.all([a, b])) as [Span, Span];
    expect(idOf(x)).not.toBe(idOf(y));
    expect(y.start < x.end && x.start < y.end).toBe(true);
    expect(two.available()).toBe(2);

    const one = make(1).pool;
    const c = one.run(task('span', 200));
    expect(one.available()).toBe(0);
    expect(await failure(one.run(task('span', 200)))).toMatchObject({ code: 'HX_TASK_POOL_FULL' });
    const first = (await c) as Span;
    const second = (await one.run(task('span', 200))) as Span;
    expect(second.start).toBeGreaterThanOrEqual(first.end);
    expect(one.available()).toBe(1);
  });

  it('brings thrown errors back as real Errors of their class with stack and props; the worker survives', async () => {
    const { pool } = make(1);
    const before = await whoami(pool);
    const plain = await failure(pool.run(task('fail')));
    expect(plain).toBeInstanceOf(Error);
    expect(plain).toMatchObject({ name: 'Error', message: 'task failed on purpose', code: 'E_ON_PURPOSE', detail: { n: 1 } });
    expect(plain.stack).toMatch(/^Error: task failed on purpose\n\s+at makeError \(.*fixtures\/tasks\.mjs:\d+/);
    expect(await failure(pool.run(task('failLater', 'type')))).toBeInstanceOf(TypeError);
    expect(await failure(pool.run(task('fail', 'range')))).toBeInstanceOf(RangeError);
    const custom = await failure(pool.run(task('fail', 'custom')));
    expect(custom).toMatchObject({ name: 'QuotaError', message: 'over quota', code: 'E_QUOTA', limit: 3 });
    expect(custom.stack).toMatch(/^QuotaError: over quota\n/);
    const caused = await failure(pool.run(task('fail', 'cause')));
    expect(caused.cause).toBeInstanceOf(Error);
    expect(caused.cause).toMatchObject({ message: 'inner', code: 'E_INNER' });
    expect(await failure(pool.run(task('fail', 'string')))).toMatchObject({ message: 'task threw a non-error value: "a bare string"', thrown: 'a bare string' });
    expect(await failure(pool.run(task('fail', 'unclonable')))).toMatchObject({ code: 'E_FN', callback: '[not cloneable: function callback]' });
    expect(await whoami(pool)).toBe(before);
  });

  it("serializes errors exactly as task-error.ts does (the runner's copy is in step)", async () => {
    const { pool } = make(1);
    const shape = (e: unknown): unknown => {
      const { stack: _stack, ...own } = Object.getOwnPropertyDescriptors(e);
      const error = e as Error;
      const values = Object.fromEntries(Object.entries(error));
      return { own: Object.keys(own).sort(), values, name: error.name, message: error.message, class: error.constructor.name, cause: error.cause && shape(error.cause) };
    };
    for (const kind of ['plain', 'type', 'custom', 'cause', 'string', 'unclonable']) {
      const remote = await failure(pool.run(task('fail', kind)));
      expect(shape(remote), kind).toEqual(shape(toError(serializeError(makeError(kind)))));
    }
  });

  it('rejects a missing export, unsendable data and an unsendable result with a clear TypeError', async () => {
    const { pool } = make(1);
    const missing = await failure(pool.run(task('nope')));
    expect(missing).toBeInstanceOf(TypeError);
    expect(missing).toMatchObject({ message: 'tasks.mjs has no export "nope"', code: 'HX_TASK_NO_EXPORT' });
    expect(await failure(pool.run(task('notAFunction')))).toMatchObject({ message: 'tasks.mjs exports a non-function as "notAFunction"' });
    const data = await failure(pool.run(task('echo', { f: () => 1 })));
    expect(data).toBeInstanceOf(TypeError);
    expect(data.message).toMatch(new RegExp(`^the data of tasks.mjs#echo cannot be sent to a ${kind === 'thread' ? 'worker thread' : 'child process'}: `));
    expect(data.code).toBe('HX_TASK_DATA');
    expect(pool.available()).toBe(1);
    const result = await failure(pool.run(task('returnsFunction')));
    expect(result).toBeInstanceOf(TypeError);
    expect(result).toMatchObject({ code: 'HX_TASK_DATA', message: expect.stringMatching(/^the result of tasks.mjs#returnsFunction cannot be sent back: /) });
    expect(await pool.run(task('double', 2))).toBe(4);
  });

  it('rejects the task of a worker that exits or crashes, logs it, and replaces the worker', async () => {
    const { pool, lines } = make(1);
    const first = await whoami(pool);
    const exited = await failure(pool.run(task('exit', 7)));
    const what = kind === 'thread' ? 'worker thread' : 'child process';
    expect(exited.message).toBe(`${what} ${first} exited with code 7 while running tasks.mjs#exit`);
    expect(exited).toMatchObject({ code: 'HX_TASK_CRASHED', exitCode: 7, signal: null });
    expect(lines.find((l) => l.msg === 'worker exited')).toMatchObject({ level: 40, pool: kind, code: 7, signal: null });
    expect(pool.available()).toBe(1);
    const second = await whoami(pool);
    expect(second).not.toBe(first);

    const crashed = await failure(pool.run(task('crash')));
    expect(crashed.message).toBe(`${what} ${second} exited with code 1 while running tasks.mjs#crash: uncaught in a timer`);
    expect(crashed.cause).toBeInstanceOf(Error);
    expect((crashed.cause as Error).stack).toMatch(/fixtures\/tasks\.mjs/);
    const third = await whoami(pool);
    expect([third === first, third === second]).toEqual([false, false]);
  });

  it('times a task out: it rejects with HX_TASK_TIMEOUT, its worker is stopped and replaced', async () => {
    const { pool } = make(1);
    const first = await whoami(pool);
    const started = Date.now();
    const timedOut = await failure(pool.run(task('spin'), { timeout: 200 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(timedOut).toMatchObject({ code: 'HX_TASK_TIMEOUT', timeout: 200 });
    expect(timedOut.message).toMatch(/^tasks.mjs#spin timed out after 200 ms; its (worker thread|child process) was stopped$/);
    expect(pool.available()).toBe(1);
    expect(await whoami(pool)).not.toBe(first);
    // a task that ends in time is not affected by its timeout
    expect(await pool.run(task('double', 5), { timeout: 5000 })).toBe(10);
  });

  it('close() waits for running tasks, refuses new ones, then ends every worker', async () => {
    const { pool, lines } = make(2);
    const running = pool.run(task('span', 250));
    const closing = pool.close();
    expect(pool.available()).toBe(0);
    expect(await failure(pool.run(task('double', 1)))).toMatchObject({ code: 'HX_TASK_POOL_CLOSED' });
    const span = (await running) as Span;
    await closing;
    expect(lines.filter((l) => l.msg === 'worker stopped')).toHaveLength(1);
    expect(lines.filter((l) => l.msg === 'worker exited')).toHaveLength(0);
    if (kind === 'process') expect(() => process.kill(span.pid, 0)).toThrow(/ESRCH/);
    await pool.close(); // again: a no-op
  });

  it('destroy() rejects running tasks at once and ends every worker', async () => {
    const { pool } = make(2);
    const spinning = failure(pool.run(task('spin')));
    const idle = await whoami(pool);
    await pool.destroy();
    expect(await spinning).toMatchObject({ code: 'HX_TASK_DESTROYED', message: `the ${kind} pool was destroyed while tasks.mjs#spin was running` });
    if (kind === 'process') expect(() => process.kill(idle, 0)).toThrow(/ESRCH/);
    expect(await failure(pool.run(task('double', 1)))).toMatchObject({ code: 'HX_TASK_POOL_CLOSED' });
  });
});

describe('thread pool', () => {
  it('moves the objects of a transfer list: the parent is left with a detached ArrayBuffer', async () => {
    const pool = createThreadPool({ size: 1, log: pino({ level: 'silent' }) });
    try {
      const copied = new ArrayBuffer(16);
      expect(await pool.run(task('byteLength', copied))).toBe(16);
      expect(copied.byteLength).toBe(16);
      const moved = new ArrayBuffer(32);
      expect(await pool.run(task('byteLength', moved, { transfer: [moved] }))).toBe(32);
      expect(moved.byteLength).toBe(0);
    } finally {
      await pool.close();
    }
  });
});

describe('process pool', () => {
  it('keeps Dates, Maps, Sets, typed arrays and BigInts intact both ways, and ignores transfer lists', async () => {
    const pool = createProcessPool({ size: 1, log: pino({ level: 'silent' }) });
    try {
      const bytes = new Uint8Array([1, 2, 3]);
      const data = { when: new Date(0), map: new Map([['k', 1]]), set: new Set(['s']), bytes, big: 2n ** 70n };
      expect(await pool.run(task('echo', data, { transfer: [bytes.buffer] }))).toEqual(data);
      expect(bytes.byteLength).toBe(3);
    } finally {
      await pool.close();
    }
  });
});
