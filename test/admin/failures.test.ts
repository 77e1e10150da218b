import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStatus, StatusJson } from '../../src/admin/types.js';
import { admin, adminEvent, sse, type SseClient } from '../helpers/admin.js';
import { addressOf, runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
// a long backoff: the crashed service stays `restarting` for the test to look at
const manifest = (keepAlive: string) => `services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
    keepAliveTimeout: ${keepAlive}
    restart:
      backoff: { initial: 60s, max: 60s }
`;
const APP = `export default (req, res) => {
  if (req.url === '/crash') Promise.reject(new Error('boom'));
  res.end('hi');
};
`;

function hit(url: string): Promise<void> {
  return new Promise((resolve, reject) => get(url, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject));
}

describe('what the admin API says about failures and reloads', () => {
  let p: CliProcess;
  let dir: string;
  let socket: { socket: string };
  let events: SseClient;
  const web = async (): Promise<ServiceStatus> => ((await admin(socket, 'GET', '/status')).json as StatusJson).services[0]!;
  const typed = (type: string) => events.events.map(adminEvent).filter((e) => e.type === type);

  beforeAll(async () => {
    dir = makeDir({ 'hendrix.yaml': manifest('5s'), 'app.mjs': APP });
    p = spawnCli(['up'], { cwd: dir });
    const ready = await p.waitForLog(isReady, 15_000);
    socket = { socket: String(ready.control) };
    events = await sse(socket, { lastEventId: '0' });
    await hit(`${addressOf(ready, 'web')}/crash`);
  });
  afterAll(() => {
    events?.close();
    if (p.process.exitCode === null) p.process.kill('SIGKILL');
  });

  it('a crashed service: restarting, why, its last error with code and place (no stack), the next restart time; the transition event carries the error', async () => {
    await events.until((list) => list.some((e) => e.event === 'transition' && adminEvent(e).data.to === 'restarting'));
    const s = await web();
    expect(s).toMatchObject({ state: 'restarting', restarts: 1, why: 'HX_ERR_UNHANDLED_REJECTION: web: unhandled rejection: boom', figures: {} });
    expect(s.lastError).toMatchObject({ code: 'HX_ERR_UNHANDLED_REJECTION', message: 'web: unhandled rejection: boom', at: 'app.mjs:2:44' });
    expect(Object.keys(s.lastError!).sort()).toEqual(['at', 'code', 'hint', 'message']);
    expect(Date.parse(s.nextRestartAt!)).toBeGreaterThan(Date.parse(s.since));
    const restarting = typed('transition').find((e) => e.data.to === 'restarting')!;
    expect(restarting.data).toMatchObject({ service: 'web', from: 'ready', attempt: 1, error: { code: 'HX_ERR_UNHANDLED_REJECTION', at: 'app.mjs:2:44' } });
    expect(restarting.data.delay).toBeGreaterThan(0);
    expect(JSON.stringify(events.events)).not.toContain('    at ');

    // the operator does not wait for the backoff; the error stays for whoever looks later
    expect((await admin(socket, 'POST', '/services/web/restart')).json.service).toMatchObject({ state: 'ready', restarts: 1, lastError: { code: 'HX_ERR_UNHANDLED_REJECTION' } });
  });

  it('a reload: begin then applied (with its steps), the instance back to running, counted in hendrix_reloads_total; a dry run is no event', async () => {
    writeFileSync(join(dir, 'hendrix.yaml'), manifest('7s'));
    expect((await admin(socket, 'POST', '/reload?dryRun=1')).json.applied).toBe(false);
    const reload = await runCli(['reload'], { cwd: dir });
    expect(reload.code, reload.stderr).toBe(0);
    await events.until(() => typed('reload').some((e) => e.data.phase === 'applied'));
    expect(typed('reload').map((e) => e.data.phase)).toEqual(['begin', 'applied']);
    expect(typed('reload')[1]!.data.steps).toEqual([expect.objectContaining({ service: 'web', action: 'reload' })]);
    const status = (await admin(socket, 'GET', '/status')).json as StatusJson;
    expect(status.instance.state).toBe('running');
    expect(status.instance.fingerprint).toBe(typed('reload')[1]!.data.fingerprint);
  });

  it('a reload of a broken manifest: begin then failed with the error and its place; the graph runs on', async () => {
    writeFileSync(join(dir, 'hendrix.yaml'), manifest('seven'));
    const reload = await runCli(['reload'], { cwd: dir });
    expect(reload.code).toBe(78);
    await events.until(() => typed('reload').some((e) => e.data.phase === 'failed'));
    const failed = typed('reload').at(-1)!;
    expect(failed.data.error).toMatchObject({ at: 'hendrix.yaml:6:23', path: 'services.web.keepAliveTimeout' });
    expect(failed.data.error.code).toMatch(/^HX_ERR_/);
    expect(failed.data.error.message).toContain('seven');
    expect(typed('reload').map((e) => e.data.phase)).toEqual(['begin', 'applied', 'begin', 'failed']);
    expect((await web()).state).toBe('ready');
    const metrics = (await admin(socket, 'GET', '/metrics')).text;
    expect(metrics).toMatch(/^hendrix_reloads_total\{outcome="applied"\} 1$/m);
    expect(metrics).toMatch(/^hendrix_reloads_total\{outcome="failed"\} 1$/m);
    expect(metrics).toMatch(/^hendrix_service_restarts_total\{service="web"\} 1$/m);
  });

  it('the stop: an instance event, then the services stop, and the stream ends with the instance', async () => {
    p.process.kill('SIGTERM');
    await events.ended;
    const instance = typed('instance').map((e) => e.data.state);
    expect(instance).toEqual(['running', 'stopping']);
    const last = events.events.map(adminEvent).at(-1)!;
    expect(last).toMatchObject({ type: 'transition', data: { service: 'web', to: 'stopped' } });
    expect(await p.exited()).toBe(0);
  });
});

describe('operations while the instance stops', () => {
  it('during the drain delay of POST /stop: status says stopping and draining, an operation is a 409 HX_ERR_SERVICE_OP, a signal forces', async () => {
    const dir = makeDir({ 'hendrix.yaml': `drainDelay: 60s\n${manifest('5s')}`, 'app.mjs': APP });
    const p = spawnCli(['up'], { cwd: dir });
    try {
      const socket = { socket: String((await p.waitForLog(isReady, 15_000)).control) };
      expect((await admin(socket, 'POST', '/stop')).status).toBe(202);
      await p.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('draining'));
      const status = (await admin(socket, 'GET', '/status')).json as StatusJson;
      expect(status.instance).toMatchObject({ state: 'stopping', draining: true });
      expect(status.services[0]!.state).toBe('ready');
      const refused = await admin(socket, 'POST', '/services/web/restart');
      expect(refused.status).toBe(409);
      expect(refused.json.error).toEqual({ code: 'HX_ERR_SERVICE_OP', message: 'restart web refused: the instance is stopping' });
      p.process.kill('SIGTERM');
      expect(await p.exited()).toBe(2);
    } finally {
      if (p.process.exitCode === null) p.process.kill('SIGKILL');
    }
  });
});
