import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { logLines, runCli } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { request } from '../helpers/reload/load.js';
import { answersFrom, fetchBody, isAlive, livePids, pidApp, processesMarked, startGraph, startPidLoad, until, webManifest, useRunningClis } from '../helpers/workers.js';

// Reloading a graph served by workers: a change the kind applies in place is applied in every
// worker (same processes); new app code gets new processes, one worker at a time, while the
// others serve; a broken edit changes nothing.

const running = useRunningClis();
const makeDir = useManifestDirs();
const CLIENTS = 6;

/** A keep-alive request on a fresh agent: who answered, and the Keep-Alive header it sent. */
async function keepAliveFrom(url: string): Promise<{ pid: number; keepAlive: string | undefined }> {
  const agent = new Agent({ keepAlive: true });
  try {
    const answer = await request(url, { agent });
    return { pid: Number(answer.body.split(' ')[1]), keepAlive: answer.headers['keep-alive'] as string | undefined };
  } finally {
    agent.destroy();
  }
}

describe('reloading a graph with workers', () => {
  it('a config-only change (keepAliveTimeout, a static route) is applied in place in every worker: same pids, both serve the change', async () => {
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1'), 'public/hello.txt': 'static hello\n' });
    const g = await startGraph(dir, [], running);
    expect((await keepAliveFrom(g.url)).keepAlive).toBe('timeout=5');
    writeFileSync(join(dir, 'hendrix.yaml'), webManifest(2, '    keepAliveTimeout: 7s\n    static: { /assets: ./public }\n'));
    const r = await runCli(['reload'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^reloaded in .*: web in place \d+ ms$/m);
    expect(await livePids(g.control)).toEqual(g.pids);
    // each worker answers with the new keep-alive timeout
    const seen = new Set<number>();
    await until(async () => {
      const { pid, keepAlive } = await keepAliveFrom(g.url);
      expect(keepAlive).toBe('timeout=7');
      seen.add(pid);
      return g.pids.every((p) => seen.has(p));
    }, 'both workers with the new timeout');
    expect([...seen].sort()).toEqual([...g.pids].sort());
    // round robin hands fresh connections to each worker in turn: every one serves the route
    for (let i = 0; i < 6; i++) expect(await fetchBody(`${g.url}/assets/hello.txt`)).toBe('static hello\n');
    await answersFrom(g.url, g.pids);
  });

  it('an app code change replaces the workers one at a time under keep-alive load: 0 failed requests, old or new code only, then only new, new pids', async () => {
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    const load = startPidLoad(g.url, CLIENTS);
    await until(() => new Set(load.hits.map((h) => h.client)).size === CLIENTS && g.pids.every((pid) => load.hits.some((h) => h.pid === pid)), 'load on both workers');
    writeFileSync(join(dir, 'app.mjs'), pidApp('v2'));
    const dry = await runCli(['reload', '--dry-run'], { cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    // what will be done: web gets new instances in new workers
    expect(dry.stdout).toContain('~ web (replaced)');
    expect(dry.stdout).toContain('file app.mjs modified');
    expect(await livePids(g.control)).toEqual(g.pids);
    const r = await runCli(['reload'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^reloaded in .*: worker 1 replaced \d+ ms, worker 2 replaced \d+ ms$/m);
    const reloadedAt = Date.now();
    const fresh = await livePids(g.control);
    expect(fresh).toHaveLength(2);
    for (const pid of fresh) expect(g.pids).not.toContain(pid);
    expect(g.pids.filter(isAlive)).toEqual([]);
    await until(() => load.hits.filter((h) => h.sent > reloadedAt).length > 4 * CLIENTS, 'load after the reload');
    const hits = await load.stop();

    expect(hits.filter((h) => h.error)).toEqual([]);
    expect(new Set(hits.map((h) => h.version))).toEqual(new Set(['v1', 'v2']));
    for (const h of hits) expect([...g.pids, ...fresh]).toContain(h.pid);
    // from the moment the reload answered, only the new code, in the new workers
    const after = hits.filter((h) => h.sent > reloadedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((h) => h.version !== 'v2' || !fresh.includes(h.pid!))).toEqual([]);
    const bodies = await answersFrom(g.url, fresh);
    expect([...bodies.values()].every((b) => b.startsWith('v2 '))).toBe(true);
    expect(processesMarked(g.marker).sort()).toEqual([g.p.process.pid!, ...fresh].sort());
  });

  it('a broken edit changes nothing (exit 78): a manifest typo, an app syntax error, an app that throws at import (found by the new worker)', async () => {
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    writeFileSync(join(dir, 'hendrix.yaml'), webManifest(2).replace('listen:', 'lisen:'));
    const typo = await runCli(['reload'], { cwd: dir });
    expect(typo.code).toBe(78);
    expect(typo.stderr).toContain('HX_ERR_UNKNOWN_KEY');
    writeFileSync(join(dir, 'hendrix.yaml'), webManifest(2));
    writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => { res.end("x")\n');
    const syntax = await runCli(['reload'], { cwd: dir });
    expect(syntax.code).toBe(78);
    expect(syntax.stderr).toMatch(/app\.mjs:2:1/);
    writeFileSync(join(dir, 'app.mjs'), 'throw new Error("boom at import");\n');
    const throws = await runCli(['reload'], { cwd: dir });
    expect(throws.code).toBe(78);
    expect(throws.stderr).toContain('error[HX_ERR_APP_LOAD]: app module ./app.mjs failed to load: boom at import');
    expect(throws.stderr).not.toMatch(/^\s+at /m);
    // the same workers serve the same code; the worker that failed its start is gone
    expect(await livePids(g.control)).toEqual(g.pids);
    const bodies = await answersFrom(g.url, g.pids);
    expect([...bodies.values()].every((b) => b.startsWith('v1 '))).toBe(true);
    expect(processesMarked(g.marker).sort()).toEqual([g.p.process.pid!, ...g.pids].sort());
    expect(g.p.process.exitCode).toBe(null);
  });

  it('`hendrix reload --replace` replaces the workers without any change', async () => {
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    const r = await runCli(['reload', '--replace'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/worker 1 replaced \d+ ms, worker 2 replaced \d+ ms/);
    const fresh = await livePids(g.control);
    expect(fresh.filter((pid) => g.pids.includes(pid))).toEqual([]);
    await answersFrom(g.url, fresh);
    expect(g.pids.filter(isAlive)).toEqual([]);
  });

  it('SIGTERM during a rolling reload: the reload fails as interrupted (exit 1), no new worker is forked, the graph stops (exit 0), none left', async () => {
    const dir = makeDir({ 'hendrix.yaml': webManifest(2), 'app.mjs': pidApp('v1') });
    const g = await startGraph(dir, [], running);
    const reload = runCli(['reload', '--replace'], { cwd: dir });
    // the first new worker listens: the roll is under way
    await until(() => logLines(g.p).filter((l) => l.msg === 'listening').length === 3, 'a new worker listening');
    g.p.process.kill('SIGTERM');
    expect(await g.p.exited()).toBe(0);
    const r = await reload;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[HX_ERR_RELOAD_REFUSED\]: the graph is stopping: the reload was interrupted after [01] of the workers had been replaced$/m);
    expect(processesMarked(g.marker)).toEqual([]);
    expect(g.p.stderr()).not.toMatch(/^\s+at /m);
  });
});
