import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { crosstown } from '../../src/index.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { eventsOf, get, startWeb, until, type Web } from './helpers.js';

const dirs = useManifestDirs();
const running: Web[] = [];
let seq = 0;
const uid = (name: string): string => `${name}${++seq}x${process.pid}`;

async function web(shape: 'listener' | 'fetchApp' | 'factory', fields: Record<string, unknown> = {}): Promise<Web> {
  const w = await startWeb(dirs({}), shape, fields);
  running.push(w);
  return w;
}

afterEach(async () => {
  for (const w of running.splice(0)) await w.app.stop().catch(() => undefined);
});

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => void unhandled.push(reason));

describe('crosstown after the response', () => {
  it.each(['listener', 'fetchApp', 'factory'] as const)('the %s app gets its response before its loop task ends', async (shape) => {
    const { url, handle } = await web(shape);
    const id = uid(shape);
    const res = await get(`${url}/loop?id=${id}&ms=300`);
    expect([res.status, res.body]).toEqual([200, `scheduled ${id}`]);
    await until(() => eventsOf(id, 'result').length === 1);
    const [start] = eventsOf(id, 'start');
    const [end] = eventsOf(id, 'end');
    expect(eventsOf(id, 'result')[0]!.value).toBe(id);
    // the task starts only once the response has finished, and ends well after the client had it
    expect(end!.at - res.at).toBeGreaterThanOrEqual(250);
    expect(start!.at).toBeGreaterThanOrEqual(res.at - 50);
    expect(handle.crosstown.stats()).toMatchObject({ done: 1, failed: 0, running: 0, waiting: 0 });
  });

  it('a thread task starts after the response too, and returns its result', async () => {
    const { url, handle } = await web('fetchApp', { crosstown: { threads: 1 } });
    const id = uid('thread');
    const res = await get(`${url}/thread?id=${id}&ms=300`);
    expect(res.body).toBe('scheduled 1');
    await until(() => eventsOf(id, 'result').length === 1);
    const value = eventsOf(id, 'result')[0]!.value as { start: number; end: number; threadId: number; pid: number };
    expect(value.threadId).toBeGreaterThan(0);
    expect(value.pid).toBe(process.pid);
    expect(value.end - res.at).toBeGreaterThanOrEqual(250);
    expect(handle.crosstown.stats()).toMatchObject({ done: 1, queued: 0, running: 0 });
  });
});

describe('when crosstown work runs', () => {
  it('skips 4xx and 5xx by default and runs after 2xx and 3xx', async () => {
    const { url, handle } = await web('listener');
    const ids = { ok: uid('ok'), redirect: uid('redirect'), missing: uid('missing'), broken: uid('broken') };
    await get(`${url}/status?id=${ids.ok}&code=200`);
    await get(`${url}/status?id=${ids.redirect}&code=302`);
    await get(`${url}/status?id=${ids.missing}&code=404`);
    await get(`${url}/status?id=${ids.broken}&code=500`);
    await until(() => eventsOf(ids.ok, 'result').length + eventsOf(ids.redirect, 'result').length === 2);
    await until(() => handle.crosstown.stats().skipped === 2);
    expect(eventsOf(ids.missing)).toEqual([expect.objectContaining({ phase: 'result', value: undefined })]);
    expect(eventsOf(ids.broken)).toEqual([expect.objectContaining({ phase: 'result', value: undefined })]);
    expect(eventsOf(ids.ok, 'end')).toHaveLength(1);
    expect(handle.crosstown.stats()).toMatchObject({ done: 2, skipped: 2 });
  });

  it('takes a skipStatus list of codes, ranges and classes from the manifest, and per call', async () => {
    const { url, handle } = await web('factory', { crosstown: { skipStatus: [404, '500-502', '3xx'] } });
    const codes = [200, 302, 404, 418, 500, 501, 503];
    const ids = codes.map((code) => uid(`s${code}-`));
    for (const [i, code] of codes.entries()) await get(`${url}/status?id=${ids[i]}&code=${code}`);
    await until(() => handle.crosstown.stats().done + handle.crosstown.stats().skipped === codes.length);
    const ran = codes.filter((_, i) => eventsOf(ids[i]!, 'end').length === 1);
    expect(ran).toEqual([200, 418, 503]);
    // a call's own list wins: run after a 404, skip after a 200
    const call404 = uid('call404');
    const call200 = uid('call200');
    await get(`${url}/status?id=${call404}&code=404&skip=2xx`);
    await get(`${url}/status?id=${call200}&code=200&skip=200-299`);
    await until(() => eventsOf(call404, 'result').length + eventsOf(call200, 'result').length === 2);
    expect(eventsOf(call404, 'end')).toHaveLength(1);
    expect(eventsOf(call200, 'end')).toHaveLength(0);
  });

  async function abortMidResponse(url: string, id: string, query = ''): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${url}/abort?id=${id}${query}`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
      req.end();
    });
  }

  it('skips work when the client goes away mid-response, unless runOnAbort says otherwise', async () => {
    const { url, handle } = await web('listener');
    const dropped = uid('dropped');
    await abortMidResponse(url, dropped);
    await until(() => eventsOf(dropped, 'result').length === 1);
    expect(eventsOf(dropped, 'start')).toHaveLength(0);
    expect(handle.crosstown.stats().skipped).toBe(1);

    const kept = uid('kept');
    await abortMidResponse(url, kept, '&abort=true');
    await until(() => eventsOf(kept, 'end').length === 1);

    const manifest = await web('listener', { crosstown: { runOnAbort: true } });
    const byManifest = uid('byManifest');
    await abortMidResponse(manifest.url, byManifest);
    await until(() => eventsOf(byManifest, 'end').length === 1);
    const optedOut = uid('optedOut');
    await abortMidResponse(manifest.url, optedOut, '&abort=false');
    await until(() => eventsOf(optedOut, 'result').length === 1);
    expect(eventsOf(optedOut, 'start')).toHaveLength(0);
  });

  it('runs at once when called outside a request (the default runtime)', async () => {
    const order: string[] = [];
    const result = crosstown(() => {
      order.push('task');
      return 42;
    });
    order.push('caller');
    expect(await result).toBe(42);
    expect(order).toEqual(['caller', 'task']);
    const fromThread = await crosstown.thread<{ pid: number; threadId: number; data: unknown }>('./fixtures/tasks.mjs', { script: true });
    expect(fromThread).toMatchObject({ pid: process.pid, data: { script: true } });
    expect(fromThread!.threadId).toBeGreaterThan(0);
  });

  it('outside a request, work goes to the running http service (drained and counted there)', async () => {
    const { handle, app } = await web('listener');
    let ran = false;
    const result = crosstown(async function background() {
      await new Promise((r) => setTimeout(r, 100));
      ran = true;
      return 'bg';
    });
    await until(() => handle.crosstown.stats().running === 1);
    await app.stop();
    expect(ran).toBe(true);
    expect(await result).toBe('bg');
    expect(handle.crosstown.stats()).toMatchObject({ done: 1, running: 0 });
  });
});

describe('thread and process tasks', () => {
  it('move a transfer list to the thread, copy data to the process, and return results', async () => {
    const { url, handle } = await web('listener', { crosstown: { threads: 1, processes: 1 } });
    const id = uid('transfer');
    const res = await get(`${url}/transfer?id=${id}`);
    expect(res.body).toBe('sent 5 bytes');
    await until(() => eventsOf(id, 'result').length === 2);
    // moved, not copied: the buffer is empty here once the task has it
    expect(eventsOf(id, 'result').find((e) => e.id === id)!.value).toEqual({ sum: 15, length: 5, detached: true });
    const child = eventsOf(`${id}-process`, 'result')[0]!.value as { pid: number; threadId: number; data: unknown };
    expect(child.data).toEqual({ hello: 'process' });
    expect(child.pid).not.toBe(process.pid);
    expect(handle.crosstown.stats()).toMatchObject({ done: 2, failed: 0 });
  });

  it('logs and counts a throwing task with the request id and task name; the client is not affected', async () => {
    const { url, handle, lines } = await web('listener', { crosstown: { threads: 1, processes: 1 } });
    const before = unhandled.length;
    const res = await get(`${url}/boom`);
    expect([res.status, res.body]).toEqual([200, 'fine']);
    await until(() => handle.crosstown.stats().failed === 5, 10_000, 'five failures');
    const failures = lines.filter((l) => l.msg === 'crosstown task failed');
    const byTask = Object.fromEntries(failures.map((l) => [l.task, l]));
    expect(Object.keys(byTask).sort()).toEqual(['./missing.mjs#nope', 'loopBoom', 'tasks.mjs#boom', 'tasks.mjs#nope']);
    for (const line of failures) {
      expect(line).toMatchObject({ level: 50, component: 'crosstown', service: 'web' });
      expect(line.reqId).toMatch(/^[0-9a-z]{5}-\d+$/);
    }
    const boom = failures.filter((l) => l.task === 'tasks.mjs#boom');
    expect(boom.map((l) => l.pool).sort()).toEqual(['process', 'thread']);
    expect(boom[0]!.err).toMatchObject({ code: 'HX_ERR_CROSSTOWN_TASK_FAILED', message: 'crosstown task tasks.mjs#boom failed: task boom', cause: { code: 'E_BOOM' } });
    expect(byTask['loopBoom']!.err).toMatchObject({ code: 'HX_ERR_CROSSTOWN_TASK_FAILED', message: 'crosstown task loopBoom failed: loop boom' });
    expect(byTask['./missing.mjs#nope']!.err).toMatchObject({ code: 'HX_ERR_CROSSTOWN_BAD_TASK' });
    expect((byTask['./missing.mjs#nope']!.err as { message: string }).message).toMatch(/^crosstown task module not found: \.\/missing\.mjs \(tried \/.*\/test\/crosstown\/fixtures\/missing\.mjs, \/.*\/missing\.mjs\)$/);
    expect(byTask['tasks.mjs#nope']!.err).toMatchObject({ code: 'HX_ERR_CROSSTOWN_BAD_TASK', message: 'crosstown task tasks.mjs#nope: tasks.mjs has no export "nope"' });
    // the service still answers, and nothing went unhandled
    expect((await get(`${url}/loop?id=${uid('after')}`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled.slice(before)).toEqual([]);
  });

  it('drops what does not fit a full queue: logged, counted, the promise rejects, the response is fine', async () => {
    const { url, handle, lines } = await web('listener', { crosstown: { threads: 1, maxQueue: 1 } });
    const id = uid('full');
    const res = await get(`${url}/thread?id=${id}&ms=200&n=3`);
    expect([res.status, res.body]).toEqual([200, 'scheduled 3']);
    await until(() => eventsOf(id, 'result').length === 2 && eventsOf(id, 'error').length === 1);
    expect(eventsOf(id, 'error')[0]).toMatchObject({ id: `${id}-2`, code: 'HX_ERR_CROSSTOWN_QUEUE_FULL' });
    expect(eventsOf(id, 'error')[0]!.message).toBe('crosstown thread queue is full (maxQueue 1, 1 thread busy): tasks.mjs#slow dropped');
    expect(lines.find((l) => l.msg === 'crosstown task dropped: queue full')).toMatchObject({ level: 40, task: 'tasks.mjs#slow', maxQueue: 1, pool: 'thread' });
    expect(handle.crosstown.stats()).toMatchObject({ done: 2, dropped: 1, queued: 0, running: 0 });
  });
});

describe('nothing lost at stop', () => {
  it('stop() waits for running and queued tasks, and logs the stats', async () => {
    const w = await web('listener', { crosstown: { threads: 1 } });
    const id = uid('drain');
    await get(`${w.url}/thread?id=${id}&ms=150&n=4`);
    await until(() => w.handle.crosstown.stats().running === 1);
    expect(w.handle.crosstown.stats()).toMatchObject({ running: 1, queued: 3 });
    await w.app.stop();
    expect(eventsOf(id, 'result')).toHaveLength(4);
    expect(w.handle.crosstown.stats()).toMatchObject({ done: 4, running: 0, queued: 0 });
    const stats = w.lines.find((l) => l.msg === 'crosstown stats');
    expect(stats).toMatchObject({ level: 30, done: 4, failed: 0, dropped: 0, queued: 0, running: 0 });
    expect(w.lines.some((l) => l.msg === 'crosstown tasks left undone')).toBe(false);
  });

  it('drains the work of responses that finish during the HTTP drain', async () => {
    const w = await web('listener', { crosstown: { threads: 1 } });
    const id = uid('late');
    // the response is held 200 ms: the stop begins while it is in flight
    const pending = get(`${w.url}/loop?id=${id}&ms=200&hold=200`);
    await until(() => w.handle.crosstown.stats().waiting === 1);
    const stopped = w.app.stop();
    expect((await pending).status).toBe(200);
    await stopped;
    expect(eventsOf(id, 'end')).toHaveLength(1);
    expect(w.handle.crosstown.stats()).toMatchObject({ done: 1, waiting: 0 });
  });

  it('gives the tasks all of drainTimeout, however short stopTimeout is (each drain has its own limit)', async () => {
    const w = await web('listener', { stopTimeout: '200ms', crosstown: { threads: 1, drainTimeout: '10s' } });
    const id = uid('long');
    await get(`${w.url}/thread?id=${id}&ms=200&n=4`);
    await until(() => w.handle.crosstown.stats().running === 1);
    const t0 = performance.now();
    await w.app.stop();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(500);
    expect(eventsOf(id, 'result')).toHaveLength(4);
    expect(w.lines.some((l) => l.msg === 'crosstown tasks left undone' || l.msg === 'stop timed out, forcing')).toBe(false);
  });

  it('cuts a request that outlasts stopTimeout with HX_ERR_STOP_TIMEOUT, and still drains the tasks', async () => {
    const w = await web('listener', { stopTimeout: '200ms', crosstown: { threads: 1 } });
    const id = uid('cut');
    await get(`${w.url}/thread?id=${id}&ms=500`);
    await until(() => w.handle.crosstown.stats().running === 1);
    const held = get(`${w.url}/loop?id=${uid('held')}&ms=10&hold=5000`).then(
      () => 'answered',
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const error = await w.app.stop().then(
      () => undefined,
      (e: unknown) => e as { code: string; errors: { code: string; message: string; path: string[] }[] },
    );
    expect(performance.now() - t0).toBeLessThan(4_000);
    expect(await held).toBe('cut');
    expect(error?.code).toBe('HX_ERR_STOP_FAILED');
    expect(error?.errors.map((e) => e.code)).toEqual(['HX_ERR_STOP_TIMEOUT']);
    expect(error?.errors[0]!.message).toBe('web (http): requests in flight outlasted stopTimeout (200 ms); their connections were closed');
    expect(error?.errors[0]!.path).toEqual(['services', 'web', 'stopTimeout']);
    // the thread task, longer than stopTimeout, ran to its end
    expect(eventsOf(id, 'result')).toHaveLength(1);
  });

  it('reports what drainTimeout left undone, by task name and count', async () => {
    const w = await web('listener', { crosstown: { threads: 1, drainTimeout: '200ms' } });
    const id = uid('left');
    await get(`${w.url}/thread?id=${id}&ms=600&n=3`);
    await until(() => w.handle.crosstown.stats().running === 1);
    const error = await w.app.stop().then(
      () => undefined,
      (e: unknown) => e as { code: string; errors: { code: string; message: string; cause?: { code: string; message: string } }[] },
    );
    const left = w.lines.find((l) => l.msg === 'crosstown tasks left undone');
    expect(left).toMatchObject({ level: 40, left: { 'tasks.mjs#slow': 3 }, reason: 'drainTimeout passed' });
    expect(w.lines.find((l) => l.msg === 'crosstown stats')).toMatchObject({ done: 0, running: 0, queued: 0 });
    expect(error?.code).toBe('HX_ERR_STOP_FAILED');
    const cause = JSON.stringify(error);
    expect(cause).toContain('HX_ERR_CROSSTOWN_DRAIN_LEFT');
    await until(() => eventsOf(id, 'error').length === 3);
    expect(eventsOf(id, 'error').map((e) => e.code)).toEqual(['HX_ERR_CROSSTOWN_DRAIN_LEFT', 'HX_ERR_CROSSTOWN_DRAIN_LEFT', 'HX_ERR_CROSSTOWN_DRAIN_LEFT']);
  });
});

