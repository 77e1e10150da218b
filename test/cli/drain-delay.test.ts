import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, logLines, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
const running: CliProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) if (p.process.exitCode === null) p.process.kill('SIGKILL');
});

const manifest = (drainDelay: string) =>
  ['version: 1', `drainDelay: ${drainDelay}`, 'services:', '  web:', '    kind: http', '    listen: 127.0.0.1:0', '    app: ./app.mjs', '    health: true', ''].join('\n');
const APP = "export default (req, res) => res.end('app ' + req.url);\n";
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const isDraining = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('draining:');

interface Answer {
  status: number;
  body: string;
  connection: string | undefined;
}

/** A GET on a fresh connection (keep-alive asked, so that `Connection: close` is the server's choice). */
function get(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { connection: 'keep-alive' }, agent: false }, (res) => {
      let body = '';
      const socket = res.socket; // gone from res at 'end' when the server closed it
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(drainDelay: string): Promise<{ p: CliProcess; url: string }> {
  const dir = makeDir({ 'hendrix.yaml': manifest(drainDelay), 'app.mjs': APP });
  const p = spawnCli(['up'], { cwd: dir });
  running.push(p);
  const ready = await p.waitForLog(isReady);
  return { p, url: addressOf(ready, 'web') };
}

describe('drainDelay', () => {
  it('on SIGTERM readiness turns 503 while the app still answers, and only then does the graph drain and exit 0', async () => {
    const { p, url } = await start('3s');
    expect((await get(`${url}/readyz`)).status).toBe(200);
    p.process.kill('SIGTERM');
    await p.waitForLog(isDraining);
    const ready = await get(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual(expect.objectContaining({ status: 'not ready', draining: true }));
    expect(ready.connection).toBe('close');
    // the listener is still open and the app answers: no request is lost while balancers catch up
    const page = await get(`${url}/page`);
    expect([page.status, page.body]).toEqual([200, 'app /page']);
    expect((await get(`${url}/healthz`)).status).toBe(200);
    expect(await p.exited()).toBe(0);
    await expect(get(`${url}/page`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const messages = logLines(p).map((l) => String(l.msg));
    expect(messages).toContain('draining: readiness off for 3s before the stop');
    expect(messages.indexOf('draining: readiness off for 3s before the stop')).toBeLessThan(messages.indexOf('stopped'));
  });

  it('a second SIGTERM during the delay skips the rest of it and forces the stop (exit 2)', async () => {
    // a delay far longer than the test may run: only the second signal can end it in time
    const { p, url } = await start('10m');
    p.process.kill('SIGTERM');
    await p.waitForLog(isDraining);
    expect((await get(`${url}/readyz`)).status).toBe(503);
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(2);
    expect(logLines(p).map((l) => l.msg)).toContain('forced quit');
  });

  it('without drainDelay a SIGTERM stops at once, and nothing is logged about draining', async () => {
    const { p } = await start('0');
    p.process.kill('SIGTERM');
    expect(await p.exited()).toBe(0);
    expect(logLines(p).some(isDraining)).toBe(false);
  });
});
