import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '');
const crashyKind = fileURLToPath(new URL('../fixtures/kinds/crashy-kind.mjs', import.meta.url));
const tempProject = useManifestDirs();
const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

/** A project with an http service and a crashy service (the kind by absolute path: zod resolves from here). */
function crashyProject(onFailed: 'stop' | 'keep'): string {
  const dir = tempProject({
    'app.mjs': 'export default (req, res) => res.end("ok")',
    'hendrix.yaml': [
      'version: 1',
      'services:',
      '  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
      `  worker: { kind: ${crashyKind}, after: 100, restart: { policy: "no" }, onFailed: ${onFailed} }`,
    ].join('\n'),
  });
  return dir;
}

describe('a service that ends failed', () => {
  it('stops the graph gracefully and exits 4 by default (onFailed: stop), so a supervisor restarts it', async () => {
    const p = spawnCli(['up'], { cwd: crashyProject('stop') });
    running.push(p);
    expect(await p.exited()).toBe(4);
    const lines = p.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const msgs = lines.map((l) => `${String(l.service)}: ${String(l.msg)}`);
    expect(msgs).toContain('worker: crashed');
    expect(msgs.some((m) => m.startsWith('hendrix: worker failed: stopping the graph'))).toBe(true);
    // the rest of the graph was drained, not dropped
    expect(msgs.indexOf('web: stopped')).toBeGreaterThan(msgs.findIndex((m) => m.startsWith('hendrix: worker failed')));
    expect(msgs[msgs.length - 1]).toBe('hendrix: stopped');
    expect(p.stderr()).toContain('HX_ERR_SERVICE_CRASHED');
  });

  it('keeps the rest running with onFailed: keep; a later stop exits 0', async () => {
    const p = spawnCli(['up'], { cwd: crashyProject('keep') });
    running.push(p);
    await p.waitForLog((l) => l.service === 'worker' && l.msg === 'crashed');
    await new Promise((r) => setTimeout(r, 300));
    expect(p.process.exitCode).toBeNull();
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });
});

describe('a failed start on a terminal', () => {
  it('prints the diagnostic only: no stack trace for a port in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = tempProject({
      'app.mjs': 'export default (req, res) => res.end("ok")',
      'hendrix.yaml': `version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:${port}", app: ./app.mjs }\n`,
    });
    try {
      const child = spawn('script', ['-qfec', `exec ${process.execPath} ${BIN} up`, '/dev/null'], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TERM: 'xterm' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const [code] = (await once(child, 'exit')) as [number | null];
      const text = strip(out);
      expect(code).toBe(1);
      expect(text).toContain('error[HX_ERR_LISTEN]');
      expect(text).toMatch(/hendrix\.yaml:3:\d+/);
      expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(text.split('\n').length).toBeLessThan(40);
    } finally {
      blocker.close();
    }
  });
});
