import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { useManifestDirs } from '../helpers/manifest-dir.js';
import { addressOf, ROOT, spawnCli, type CliProcess } from '../helpers/cli.js';

const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

function start(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliProcess {
  const p = spawnCli(args, options);
  running.push(p);
  return p;
}

const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');

const tempProject = useManifestDirs();

describe('hendrix up', () => {
  it('serves the main example, logs start order and addresses, exits 0 on SIGTERM', async () => {
    const p = start(['up', '-f', 'hendrix.yaml.example'], { env: { PORT: '0', TLS_PORT: '0' } });
    const ready = await p.waitForLog(isReady);
    expect(addressOf(ready, 'secure')).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // the example serves this machine only, web included (not 0.0.0.0)
    expect((ready['services'] as Record<string, string>)['web']).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const base = addressOf(ready, 'web');
    const started = p.stdout().split('\n').find((l) => l.includes('"started: web'));
    expect(started).toBeDefined();
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello from hendrix\n');
    const css = await fetch(`${base}/assets/site.css`);
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(p.stdout()).toContain('"msg":"stopped"');
  });

  it('starts only the named services and their dependencies', async () => {
    const dir = tempProject({
      'app.mjs': 'export default (req, res) => res.end("ok")',
      'hendrix.yaml': [
        'version: 1',
        'services:',
        '  a: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
        '  b: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs, dependsOn: [a] }',
        '  c: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs }',
      ].join('\n'),
    });
    const p = start(['up', 'b'], { cwd: dir });
    const ready = await p.waitForLog(isReady);
    expect(Object.keys(ready.services as object).sort()).toEqual(['a', 'b']);
    p.process.kill('SIGINT');
    expect(await p.exited()).toBe(0);
  });

  it('exits 1 and reports the cause when a service cannot start', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const p = start(['up', '-f', 'hendrix.yaml.example', '--set', `services.web.listen=127.0.0.1:${port}`]);
      expect(await p.exited()).toBe(1);
      expect(p.stderr()).toContain('HX_ERR_LISTEN');
      expect(p.stderr()).not.toMatch(/\n\s+at .*\.js:\d+/);
    } finally {
      blocker.close();
    }
  });

  it('exits 78 on a broken manifest and 64 on an unknown service name', async () => {
    const broken = start(['up', '--set', 'services.web.lisen=1', '-f', 'hendrix.yaml.example']);
    expect(await broken.exited()).toBe(78);
    expect(broken.stderr()).toContain('HX_ERR_UNKNOWN_KEY');
    const unknown = start(['up', '-f', 'hendrix.yaml.example', 'nope'], { env: { PORT: '0', TLS_PORT: '0' } });
    expect(await unknown.exited()).toBe(64);
    expect(unknown.stderr()).toContain('HX_ERR_UNKNOWN_SERVICE');
  });

  it('a second signal forces the stop and exits 2', async () => {
    const dir = tempProject({
      'app.mjs': 'export default (req, res) => { res.writeHead(200); res.write("started"); }',
      'hendrix.yaml': 'version: 1\nservices:\n  web: { kind: http, listen: "127.0.0.1:0", app: ./app.mjs, stopTimeout: 30s }\n',
    });
    const p = start(['up'], { cwd: dir });
    const base = addressOf(await p.waitForLog(isReady), 'web');
    const res = await fetch(base); // in flight forever: the handler never ends the response
    expect(res.status).toBe(200);
    p.process.kill('SIGTERM');
    await p.waitForLog((l) => l.msg === 'stopping');
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(2);
    await res.body?.cancel().catch(() => {});
  });

  it('stops every service even when one fails to stop, reports it and exits 3', async () => {
    const p = start(['up', '-f', 'test/fixtures/kinds/stubborn.yaml']);
    await p.waitForLog(isReady);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(3);
    expect(p.stderr()).toContain('HX_ERR_STOP_FAILED');
    expect(p.stderr()).toContain('disk on fire');
    expect(p.stdout()).toMatch(/"service":"web".*"msg":"stopped"/);
  });

  it('runs a custom kind loaded from a module beside the manifest', async () => {
    const p = start(['up', '-f', 'examples/custom-kind/hendrix.yaml'], { env: { WEB_PORT: '0', ECHO_PORT: '0' } });
    const ready = await p.waitForLog(isReady);
    const echo = new URL(addressOf(ready, 'echo').replace('tcp:', 'http:'));
    const socket = net.connect(Number(echo.port), '127.0.0.1');
    const banner = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString())));
    expect(banner).toMatch(/^welcome to the echo server \(web at http:\/\/127\.0\.0\.1:\d+\)/);
    socket.write('ping\n');
    const echoed = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(d.toString())));
    expect(echoed).toBe('ping\n');
    socket.destroy();
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });

  it('reads HENDRIX_ENV and the overlay beside the manifest', async () => {
    const p = start(['up', '-f', `${ROOT}examples/overlay/hendrix.yaml`], { env: { HENDRIX_ENV: 'production', PORT: '0' } });
    const ready = await p.waitForLog(isReady);
    expect(Object.keys(ready.services as object)).toEqual(['web']);
    const res = await fetch(`${addressOf(ready, 'web')}/x`);
    expect(await res.json()).toEqual({ path: '/x', greeting: 'hello' });
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
  });
});
