import { get } from 'node:http';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { statusOf, useRunningGraphs, RUNNING_GRAPH } from '../helpers/running-graph.js';

/** `hendrix restart`, `stop` and `start` through the built CLI and the instance's control socket. */
const graphs = useRunningGraphs();

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

const service = async (dir: string, name: string) => (await statusOf(dir)).services.find((s) => s.name === name)!;

describe('hendrix restart, stop SERVICE, start', () => {
  it('restart SERVICE: a new instance of it, ready, serving; the line says how long', async () => {
    const { dir } = await graphs.start();
    const before = await service(dir, 'api');
    expect(await fetchText(before.address!)).toMatch(/^hello from \d+$/);
    const result = await runCli(['restart', 'api'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^api restarted \(ready in \d+ ms\)\n$/);
    const after = await service(dir, 'api');
    expect(after.state).toBe('ready');
    expect(Date.parse(after.since)).toBeGreaterThan(Date.parse(before.since));
    expect(await fetchText(after.address!)).toMatch(/^hello from \d+$/);
  });

  it('stop SERVICE stops it and its dependents (kept stopped), start SERVICE brings both back', async () => {
    const { dir } = await graphs.start();
    const stopped = await runCli(['stop', 'web'], { cwd: dir });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/^web stopped \(in \d+ ms; dependents stopped too: api\)\n$/);
    expect((await service(dir, 'web')).state).toBe('stopped');
    expect((await service(dir, 'api')).state).toBe('stopped');
    const started = await runCli(['start', 'web'], { cwd: dir });
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^web started \(ready in \d+ ms\)\n$/);
    const web = await service(dir, 'web');
    expect(web.state).toBe('ready');
    expect(await fetchText(web.address!)).toMatch(/^hello from/);
    expect((await service(dir, 'api')).state).toBe('ready');
  });

  it('prints the error the instance reported, with its exit code; usage errors are 64', async () => {
    const { dir } = await graphs.start();
    const unknown = await runCli(['restart', 'nope'], { cwd: dir });
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toContain('HX_ERR_UNKNOWN_SERVICE');
    expect(unknown.stderr).toContain('web, api, crashy');
    expect(unknown.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    for (const args of [['restart'], ['start'], ['restart', 'web', 'api'], ['stop', 'web', '--timeout', '5s'], ['stop', '--timeout', 'soon']]) {
      const usage = await runCli(args, { cwd: dir });
      expect(usage.code, args.join(' ')).toBe(64);
      expect(usage.stderr).toContain('HX_ERR_USAGE');
    }
  });

  it('stop: the whole instance stops as on SIGTERM (exit 0), and `stopped` is printed once it has exited', async () => {
    const { dir, up } = await graphs.start();
    const result = await runCli(['stop'], { cwd: dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('stopped\n');
    // the process had exited before `stopped` was printed
    expect(up.process.exitCode ?? up.process.signalCode).not.toBe(null);
    expect(await up.exited()).toBe(0);
    const again = await runCli(['stop'], { cwd: dir });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('HX_ERR_CONTROL_NOT_RUNNING');
  });

  it('says clearly when nothing runs for this manifest (exit 1)', async () => {
    const dir = graphs.makeDir({ 'hendrix.yaml': RUNNING_GRAPH });
    for (const args of [['restart', 'web'], ['stop', 'web'], ['start', 'web'], ['stop']]) {
      const result = await runCli(args, { cwd: dir });
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain('no hendrix runs for this manifest');
    }
  });
});
