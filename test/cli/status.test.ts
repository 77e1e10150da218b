import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { BIN, RUNTIME_DIR, runCli, spawnCli } from '../helpers/cli.js';
import { needCommand } from '../helpers/system-command.js';
import { statusUntil, useRunningGraphs, waitForOutput, RUNNING_GRAPH } from '../helpers/running-graph.js';

/** `hendrix status` of a running instance, through the built CLI and the instance's control socket. */
const graphs = useRunningGraphs();

describe('hendrix status', () => {
  it('says clearly that nothing runs for this manifest (exit 1)', async () => {
    const dir = graphs.makeDir({ 'hendrix.yaml': RUNNING_GRAPH });
    for (const args of [['status'], ['status', '--json'], ['status', '--watch']]) {
      const result = await runCli(args, { cwd: dir });
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain('HX_ERR_CONTROL_NOT_RUNNING');
      expect(result.stderr).toContain('no hendrix runs for this manifest');
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
      expect(result.stdout).toBe('');
    }
  });

  it('prints every service in start order with state, restarts, address and why, within 80 columns; --json as the instance sent it', async () => {
    const { dir, up } = await graphs.start();
    const status = await statusUntil(dir, (s) => s.services.find((x) => x.name === 'crashy')?.state === 'restarting');
    expect(status.instance.pid).toBe(up.process.pid);
    expect(status.services.map((s) => s.name).sort()).toEqual(['api', 'crashy', 'web']);
    const text = await runCli(['status'], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^hendrix \\S+ · pid ${up.process.pid} · up \\d+s · running · plan [0-9a-f]{8}`));
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(text.stdout).not.toContain('\x1b'); // not a terminal: no colours
    const web = status.services.find((s) => s.name === 'web')!;
    expect(text.stdout).toMatch(new RegExp(`^web\\s+http\\s+ready\\s+\\d+s\\s+0\\s+${web.address!.replace(/\./g, '\\.')}$`, 'm'));
    expect(text.stdout).toMatch(/^crashy\s+crashy-kind\.mjs\s+restarting\s+\d+s\s+1$/m);
    // the WHY of a restarting service: when, and the error with its manifest place (line 12 declares crashy)
    expect(text.stdout).toMatch(/^ {2}next restart in \d+s · HX_ERR_SERVICE_CRASHED at hendrix\.yaml:12:3: /m);
    // the rows in the instance's start order
    const rows = lines.filter((line) => /^(web|api|crashy) /.test(line)).map((line) => line.split(' ')[0]);
    expect(rows).toEqual(status.services.map((s) => s.name));
    // a wide terminal (COLUMNS) gets WHY as a column
    const wide = await runCli(['status'], { cwd: dir, env: { COLUMNS: '160' } });
    expect(wide.stdout).toMatch(/^NAME\s+KIND\s+STATE\s+SINCE\s+RESTARTS\s+ADDRESS\s+WHY$/m);
    expect(wide.stdout).toMatch(/^crashy\s+crashy-kind\.mjs\s+restarting\s+\d+s\s+1\s+next restart in/m);
    // --json: the StatusJson itself
    const json = await runCli(['status', '--json'], { cwd: dir });
    const parsed = JSON.parse(json.stdout) as typeof status;
    expect(parsed.instance.pid).toBe(up.process.pid);
    expect(parsed.services.find((s) => s.name === 'api')?.dependsOn).toEqual(['web']);
    expect(typeof parsed.lastEventId).toBe('number');
  });

  it('--watch draws a frame per change from the events, until ^C (exit 0) or until the instance stops (exit 0)', async () => {
    const { dir } = await graphs.start();
    await statusUntil(dir, (s) => s.services.some((x) => x.name === 'crashy' && x.state === 'restarting'));
    const watcher = graphs.track(spawnCli(['status', '--watch'], { cwd: dir }));
    const second = graphs.track(spawnCli(['status', '-w'], { cwd: dir }));
    const json = graphs.track(spawnCli(['status', '--watch', '--json'], { cwd: dir }));
    await waitForOutput(watcher, /^api\s+http\s+ready/m);
    await waitForOutput(second, /^api\s+http\s+ready/m);
    await waitForOutput(json, /^\{.*\}\n/m);
    // no clock redraws a pipe: a frame with api stopped comes from the events of the stop
    const stopped = await runCli(['stop', 'api'], { cwd: dir });
    expect(stopped.code, stopped.stderr).toBe(0);
    await waitForOutput(watcher, /^api\s+http\s+stopped/m);
    await waitForOutput(second, /^api\s+http\s+stopped/m);
    expect(watcher.stdout()).toMatch(/^ {2}stopped by /m);
    // --json: one StatusJson per line, the last one with api stopped
    await waitForOutput(json, /"name":"api","kind":"http","state":"stopped"/);
    const frames = json.stdout().trimEnd().split('\n').map((line) => JSON.parse(line) as { services: { name: string; state: string }[] });
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.at(-1)!.services.find((s) => s.name === 'api')?.state).toBe('stopped');
    json.process.kill('SIGTERM');
    expect(await json.exited()).toBe(0);
    watcher.process.kill('SIGINT');
    expect(await watcher.exited()).toBe(0);
    // the instance goes away: the watch says so and ends cleanly
    expect((await runCli(['stop'], { cwd: dir })).code).toBe(0);
    expect(await second.exited()).toBe(0);
    expect(second.stdout()).toMatch(/hendrix stopped: nobody answers on .+ any more\n$/);
    expect(second.stderr()).toBe('');
  });
});

describe.runIf(needCommand('script', 'util-linux'))('hendrix status --watch on a terminal', () => {
  it('draws on a screen of its own, state in colour, redrawn in place; ^C restores the screen, leaves the last frame and exits 0', async () => {
    const { dir } = await graphs.start();
    // util-linux `script` gives the CLI a real pseudo-terminal; ^C on it sends SIGINT
    const child = spawn('script', ['-qfec', `exec ${process.execPath} ${BIN} status --watch`, '/dev/null'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm', XDG_RUNTIME_DIR: RUNTIME_DIR, COLUMNS: '100' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const deadline = Date.now() + 15_000;
    // two frames: the first, and one redrawn by the clock (SINCE moves) or an event
    while ((out.match(/\x1b\[H/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    child.stdin.write('\x03');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(out.startsWith('\x1b[?1049h\x1b[?25l')).toBe(true); // the alternate screen, no cursor
    expect((out.match(/\x1b\[H/g) ?? []).length).toBeGreaterThanOrEqual(2); // redrawn in place
    expect(out).toMatch(/^web\s+http\s+\x1b\[32mready\x1b\[0m/m);
    const restored = out.lastIndexOf('\x1b[?25h\x1b[?1049l');
    expect(restored).toBeGreaterThan(0);
    expect(out.slice(restored)).toMatch(/^api\s+http\s+\x1b\[32mready/m); // the last frame stays on the normal screen
  });
});
