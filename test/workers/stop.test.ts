import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { logLines, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { answersFrom, isAlive, pidApp, processesMarked, slowRequest, spawnMarked, startGraph, webManifest } from '../helpers/workers.js';

// Stopping a graph served by workers: the primary orders the stop, each worker drains as a
// single process would, and signals that reach the workers themselves (a terminal's ^C reaches
// the whole process group) do not make them stop ahead of the primary's order.

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
});
const makeDir = useManifestDirs();
const project = () => makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });

describe('stopping a graph with workers', () => {
  it('SIGTERM while a slow request runs in a worker: the request completes, every worker exits, exit 0, the control socket is removed', async () => {
    const g = await startGraph(project(), [], running);
    expect(existsSync(g.control)).toBe(true);
    const slow = slowRequest(g.url, 1500);
    await slow.started;
    g.p.process.kill('SIGTERM');
    expect(await slow.body).toMatch(/^v1 \d+$/);
    expect(g.pids).toContain(Number((await slow.body).split(' ')[1]));
    expect(await g.p.exited()).toBe(0);
    expect(g.pids.filter(isAlive)).toEqual([]);
    expect(processesMarked(g.marker)).toEqual([]);
    expect(existsSync(g.control)).toBe(false);
    const lines = logLines(g.p).map((l) => String(l.msg));
    expect(lines.filter((m) => m === 'stopped')).toHaveLength(3); // web in each worker, then the graph
    expect(lines).not.toContainEqual(expect.stringMatching(/replacing it|killed by|exited with/));
  });

  it('SIGTERM while the workers start (the order reaches a worker before it listens to the primary): no worker starts serving, exit 0, none left', async () => {
    const { p, marker } = spawnMarked(project());
    running.push(p);
    await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('starting 2 workers'));
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(processesMarked(marker)).toEqual([]);
    const lines = logLines(p).map((l) => String(l.msg));
    expect(lines).toContain('stopped');
    expect(lines).not.toContainEqual(expect.stringMatching(/^ready:/));
  });

  it('a second SIGTERM forces: the slow request is cut, every worker exits, exit 2', async () => {
    const g = await startGraph(project(), [], running);
    const slow = slowRequest(g.url, 60_000);
    await slow.started;
    g.p.process.kill('SIGTERM');
    // the worker serving the slow request drains (its log says so): then the second signal
    await g.p.waitForLog((l) => l.msg === 'draining');
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(2);
    await expect(slow.body).rejects.toThrow();
    expect(processesMarked(g.marker)).toEqual([]);
    expect(logLines(g.p).some((l) => l.msg === 'forced quit')).toBe(true);
  });

  it('SIGINT to the workers (as ^C sends it to the whole group) does not stop them; the primary\'s order does, gracefully', async () => {
    const g = await startGraph(project(), [], running);
    for (const pid of g.pids) process.kill(pid, 'SIGINT');
    // they serve on, on new connections, and neither stops nor is replaced
    await answersFrom(g.url, g.pids);
    await answersFrom(g.url, g.pids);
    const lines = () => logLines(g.p).map((l) => String(l.msg));
    expect(lines()).not.toContainEqual(expect.stringMatching(/^stopp|replacing it|exited with|killed by/));
    // ^C: the whole group at once, a request in flight
    const slow = slowRequest(g.url, 1000);
    await slow.started;
    for (const pid of [g.p.process.pid!, ...g.pids]) process.kill(pid, 'SIGINT');
    expect(await slow.body).toMatch(/^v1 \d+$/);
    expect(await g.p.exited()).toBe(0);
    expect(processesMarked(g.marker)).toEqual([]);
    expect(lines()).not.toContainEqual(expect.stringMatching(/replacing it|exited with|killed by|forced/));
  });
});
