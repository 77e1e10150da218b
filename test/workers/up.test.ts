import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { answersFrom, fetchBody, isAlive, pidApp, startGraph, until, webManifest, useRunningClis } from '../helpers/workers.js';

// `hendrix up` with workers, run as a user runs it (the built CLI): real worker processes
// forked through node:cluster, one listening socket on 127.0.0.1:0 shared by all of them.

const running = useRunningClis();
const makeDir = useManifestDirs();
const project = (workers: number | undefined) => makeDir({ 'hendrix.yaml': webManifest(workers), 'app.mjs': pidApp('v1') });

describe('hendrix up with workers', () => {
  it('`workers: 2`: two worker processes serve the same port, the ready line lists their pids; SIGTERM stops all (exit 0)', async () => {
    const g = await startGraph(project(2), [], running);
    expect(g.pids).toHaveLength(2);
    expect(new Set(g.pids).size).toBe(2);
    expect(g.pids).not.toContain(g.p.process.pid);
    const ready = g.p.stdout().split('\n').find((l) => l.includes('"ready:'))!;
    expect(ready).toContain(`(2 workers, pids ${g.pids.join(' ')})`);
    // both workers answer on fresh connections to the one address
    const answers = await answersFrom(g.url, g.pids);
    expect([...answers.values()].every((body) => body.startsWith('v1 '))).toBe(true);
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(0);
    await until(() => g.pids.every((pid) => !isAlive(pid)), 'the workers to exit');
  });

  it('`--workers 3` overrides the manifest: three pids, each answers', async () => {
    const g = await startGraph(project(2), ['--workers', '3'], running);
    expect(g.pids).toHaveLength(3);
    await answersFrom(g.url, g.pids);
  });

  it('`--workers auto` runs one worker per core the process may use', async () => {
    const { availableParallelism } = await import('node:os');
    const cores = availableParallelism();
    const g = await startGraph(project(undefined), ['--workers', 'auto'], running);
    if (cores > 1) expect(g.pids).toHaveLength(cores);
    else expect(g.pids).toHaveLength(0); // one core: one process, no workers
  });

  it.each(['0', 'x', '2.5'])('`--workers %s` exits 64 with what it takes, before planning anything', async (value) => {
    const r = await runCli(['up', '--workers', value], { cwd: project(2) });
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`--workers takes \`auto\` or a number from 1 to 1024, not \`${value}\``);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.stdout).toBe('');
  });

  it('`workers: 1` stays one process: the app answers with the pid of the CLI itself', async () => {
    const g = await startGraph(project(1), [], running);
    expect(g.pids).toEqual([]);
    expect(await fetchBody(g.url)).toBe(`v1 ${g.p.process.pid}`);
  });

  it('a graph that cannot start in two stages is refused at once (HX_ERR_WORKERS_GRAPH, exit 78), at its file:line, no stack', async () => {
    const fixtures = fileURLToPath(new URL('../fixtures/workers/', import.meta.url));
    const r = await runCli(['up', '-f', 'both-ways.yaml', '--workers', '2'], { cwd: fixtures });
    expect(r.code).toBe(78);
    expect(r.stderr).toContain('error[HX_ERR_WORKERS_GRAPH]');
    expect(r.stderr).toContain('(bot → web)');
    expect(r.stderr).toContain('(web → store)');
    expect(r.stderr).toContain('both-ways.yaml:5:3');
    expect(r.stderr).not.toMatch(/^\s+at /m);
    // with one process the same graph runs
    const single = await runCli(['check', '-f', 'both-ways.yaml'], { cwd: fixtures });
    expect(single.code).toBe(0);
    // and `hendrix check` of the manifest with workers says what up would: before anything runs
    const checked = await runCli(['check', '-f', 'both-ways.yaml', '--set', 'workers=2'], { cwd: fixtures });
    expect(checked.code).toBe(78);
    expect(checked.stderr).toContain('error[HX_ERR_WORKERS_GRAPH]');
    expect(checked.stderr).toContain('both-ways.yaml:5:3');
  });
});
