import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { pidApp, processesMarked, spawnMarked } from '../helpers/workers.js';

// A graph with workers that fails to start: the worker reports the failure (the primary runs no
// app code and binds nothing itself), the primary renders it once, as a single process would,
// exits with the same code, and leaves no worker behind.

const makeDir = useManifestDirs();
const holders: Server[] = [];
afterAll(() => holders.forEach((s) => s.close()));

/** A port some other socket holds. */
async function takenPort(): Promise<number> {
  const server = createServer();
  holders.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Runs `hendrix up` to its end; the processes of its graph still alive right after it exited. */
async function upToEnd(dir: string): Promise<CliResult & { left: number[] }> {
  const { p, marker } = spawnMarked(dir);
  const code = await p.exited();
  return { code, signal: p.process.signalCode, stdout: p.stdout(), stderr: p.stderr(), left: processesMarked(marker) };
}

function manifest(workers: number, listen: string, app: string): string {
  return `workers: ${workers}\nservices:\n  web:\n    kind: http\n    listen: ${listen}\n    app: ${app}\n`;
}

describe('a graph with workers that fails to start', () => {
  it('the port is taken: exit 1, HX_ERR_LISTEN at the listen line printed once, as in one process; no stack, no worker left', async () => {
    const port = await takenPort();
    const listen = `127.0.0.1:${port}`;
    const single = await upToEnd(makeDir({ 'hendrix.yaml': manifest(1, listen, './app.mjs'), 'app.mjs': pidApp('v1') }));
    const workers = await upToEnd(makeDir({ 'hendrix.yaml': manifest(2, listen, './app.mjs'), 'app.mjs': pidApp('v1') }));
    expect(single.code).toBe(1);
    expect(workers.code).toBe(1);
    expect(workers.stderr.match(/error\[HX_ERR_LISTEN\]/g)).toHaveLength(1);
    expect(workers.stderr).toContain(`error[HX_ERR_LISTEN]: cannot listen on http://${listen}: EADDRINUSE (address already in use)`);
    expect(workers.stderr).toContain('--> hendrix.yaml:5:13  (services.web.listen)');
    expect(workers.stderr).toContain('error[HX_ERR_START_FAILED]: the graph failed to start (1 error)');
    // the error crosses the IPC channel whole (caret width, cause, related places); only the
    // cause's own words differ: in a worker node:cluster's primary binds (`bind EADDRINUSE`)
    const cause = /^  cause: .*$/m;
    expect(workers.stderr).toMatch(/^  cause: bind EADDRINUSE 127\.0\.0\.1:\d+$/m);
    expect(workers.stderr.replace(cause, '')).toBe(single.stderr.replace(cause, ''));
    expect(workers.stderr).not.toMatch(/^\s+at /m);
    expect(workers.left).toEqual([]);
  });

  it('the app throws at import (in the workers: the primary imports no app code): exit 78, the rendered error once, as in one process; no stack, no worker left', async () => {
    const files = (workers: number) => ({ 'hendrix.yaml': manifest(workers, '127.0.0.1:0', './bad.mjs'), 'bad.mjs': 'throw new Error("boom at import");\n' });
    const single = await upToEnd(makeDir(files(1)));
    const workers = await upToEnd(makeDir(files(2)));
    expect(single.code).toBe(78);
    expect(workers.code).toBe(78);
    expect(workers.stderr.match(/error\[HX_ERR_APP_LOAD\]/g)).toHaveLength(1);
    expect(workers.stderr).toContain('error[HX_ERR_APP_LOAD]: app module ./bad.mjs failed to load: boom at import');
    expect(workers.stderr).toContain('--> bad.mjs:1:7  (services.web.app)');
    expect(workers.stderr).toContain('error[HX_ERR_MANIFEST]: the manifest has a problem');
    // the error crosses the IPC channel whole: caret width, cause and related places included
    expect(workers.stderr).toBe(single.stderr);
    expect(workers.stderr).not.toMatch(/^\s+at /m);
    expect(workers.left).toEqual([]);
  });

  it('a worker that exits during its start (process.exit at import): a failed start (exit 1) naming the worker, its pid and how it ended; no worker left', async () => {
    const files = { 'hendrix.yaml': manifest(2, '127.0.0.1:0', './exits.mjs'), 'exits.mjs': 'process.exit(3);\n' };
    const workers = await upToEnd(makeDir(files));
    expect(workers.code).toBe(1);
    expect(workers.stderr).toMatch(/^error\[HX_ERR_START_FAILED\]: worker [12] \(pid \d+\) exited with code 3 before it was ready$/m);
    expect(workers.stderr.match(/HX_ERR_START_FAILED/g)).toHaveLength(1);
    expect(workers.stderr).not.toMatch(/^\s+at /m);
    expect(workers.left).toEqual([]);
  });
});
