import { afterEach, describe, expect, it } from 'vitest';
// loading the API turns the request context on, as an app importing `hendrix` does
import { crosstown } from '../../src/crosstown/api.js';
import { figure, figureProblems } from '../../test/helpers/figures.js';
import { createProject, removeProjects } from '../../test/helpers/http/reload-project.js';
import { createTestContext } from '../../test/helpers/http/test-context.js';
import { nodeRequest, startService, stopAll, until } from '../../test/helpers/http/test-client.js';

const shared = globalThis as Record<symbol, unknown>;
shared[Symbol.for('hendrix.test.crosstown.fn')] = crosstown;
/** The thread tasks `hold` wait on this word until the test sets it to 1. */
const gate = new Int32Array(new SharedArrayBuffer(4));
shared[Symbol.for('hendrix.test.figures.gate')] = gate.buffer;

const open = (): void => {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
};

afterEach(async () => {
  open(); // never leave a pool thread waiting
  await stopAll();
  await removeProjects();
  Atomics.store(gate, 0, 0);
});

const TASKS = `export function hold(buffer) { Atomics.wait(new Int32Array(buffer), 0, 0); return 'held'; }
export function fail() { throw new Error('failed on purpose'); }
`;

/** /hold: a thread task that waits for the gate; /fail: a thread task that throws; /skip: a loop task after a 404; else a loop task. */
const APP = `const crosstown = globalThis[Symbol.for('hendrix.test.crosstown.fn')];
const gate = globalThis[Symbol.for('hendrix.test.figures.gate')];
export default function app(req, res) {
  if (req.url === '/hold') crosstown.thread('./tasks.mjs#hold', gate);
  else if (req.url === '/fail') crosstown.thread('./tasks.mjs#fail');
  else crosstown(() => 'done');
  res.statusCode = req.url === '/skip' ? 404 : 200;
  res.end('ok');
}
`;

describe('crosstown figures of an http service', () => {
  it('shows tasks running and queued, and counts done, failed, dropped and skipped ones across a reload that builds a new runtime', async () => {
    const project = await createProject({ 'app.mjs': APP, 'tasks.mjs': TASKS });
    const fields = { app: './app.mjs', crosstown: { threads: 1, maxQueue: 1 } };
    const { service, url } = await startService(fields, { baseDir: project.dir, name: 'ct-figures' });
    expect(figureProblems(service, ['http', 'crosstown'])).toEqual([]);
    const tasks = (outcome: string): number => figure(service, 'crosstown_tasks_total', { outcome });

    await nodeRequest(`${url}/hold`);
    await until(() => figure(service, 'crosstown_running') === 1, 10_000);
    await nodeRequest(`${url}/hold`);
    await until(() => figure(service, 'crosstown_queued') === 1, 10_000);
    // one thread busy, the queue of one full: the third is dropped
    await nodeRequest(`${url}/hold`);
    await until(() => tasks('dropped') === 1, 10_000);
    expect([figure(service, 'crosstown_running'), figure(service, 'crosstown_queued')]).toEqual([1, 1]);

    open();
    await until(() => tasks('done') === 2, 10_000);
    expect([figure(service, 'crosstown_running'), figure(service, 'crosstown_queued')]).toEqual([0, 0]);

    await nodeRequest(`${url}/fail`);
    await until(() => tasks('failed') === 1, 10_000);
    await nodeRequest(`${url}/skip`);
    await until(() => tasks('skipped') === 1, 10_000);

    // a pool change builds a new runtime: the totals go on from where they were
    const next = createTestContext({ ...fields, crosstown: { threads: 2, maxQueue: 1 } }, { baseDir: project.dir }).config;
    await service.reload(next, AbortSignal.timeout(10_000));
    expect([tasks('done'), tasks('failed'), tasks('dropped'), tasks('skipped')]).toEqual([2, 1, 1, 1]);
    await nodeRequest(`${url}/`);
    await until(() => tasks('done') === 3, 10_000);
    expect([tasks('failed'), tasks('dropped'), tasks('skipped')]).toEqual([1, 1, 1]);
  });
});
