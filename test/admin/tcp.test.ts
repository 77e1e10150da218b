import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../helpers/admin.js';
import { runCli, spawnCli, type CliProcess } from '../helpers/cli.js';
import { useManifestDirs } from '../helpers/manifest-dir.js';

const makeDir = useManifestDirs();
const isReady = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('ready:');
const APP = 'export default (req, res) => res.end("hi");\n';
const manifest = (adminSection: string) => `${adminSection}services:
  web:
    kind: http
    listen: 127.0.0.1:0
    app: ./app.mjs
`;

describe('the TCP admin listener (admin.listen): the token, the browser session, CSRF', () => {
  const token = randomBytes(24).toString('base64url');
  let p: CliProcess;
  let tcp: { url: string };
  const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

  beforeAll(async () => {
    const dir = makeDir({ 'hendrix.yaml': manifest(`admin:\n  listen: 0\n  token: \${ADMIN_TOKEN}\n  dashboard: true\n`), 'app.mjs': APP });
    p = spawnCli(['up'], { cwd: dir, env: { ADMIN_TOKEN: token } });
    const line = await p.waitForLog((l) => typeof l.admin === 'string', 15_000);
    await p.waitForLog(isReady);
    tcp = { url: String(line.admin) };
  });
  afterAll(() => {
    if (p.process.exitCode === null) p.process.kill('SIGKILL');
  });

  it('listens on 127.0.0.1 for a bare port', () => {
    expect(tcp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a request without the token or with a wrong one (401, HX_ERR_ADMIN_AUTH), and serves the same routes with it', async () => {
    for (const headers of [{}, bearer('wrong'), bearer(`${token}x`), bearer(token.slice(0, -1)), { authorization: token }]) {
      const answer = await admin(tcp, 'GET', '/status', { headers });
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="hendrix admin"');
      expect(answer.json.error.code).toBe('HX_ERR_ADMIN_AUTH');
    }
    expect((await admin(tcp, 'POST', '/services/web/restart')).status).toBe(401);
    const status = await admin(tcp, 'GET', '/status', { headers: bearer(token) });
    expect(status.status).toBe(200);
    expect(status.json.services.map((s: { name: string }) => s.name)).toEqual(['web']);
    expect((await admin(tcp, 'GET', '/metrics', { headers: bearer(token) })).text).toContain('hendrix_service_state{service="web"');
    expect((await admin(tcp, 'GET', '/plan', { headers: bearer(token) })).status).toBe(200);
    expect((await admin(tcp, 'POST', '/reload?dryRun=1', { headers: bearer(token) })).json.applied).toBe(false);
    expect((await admin(tcp, 'POST', '/services/web/restart', { headers: bearer(token) })).json.service.state).toBe('ready');
  });

  it('GET / redirects to the dashboard (admin.dashboard: true)', async () => {
    const answer = await admin(tcp, 'GET', '/');
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toBe('/dashboard');
  });

  it('the browser path: /dashboard?token= sets an HttpOnly SameSite=Strict session cookie (not the token) and redirects without it; the cookie authenticates GETs and same-origin POSTs only', async () => {
    const wrong = await admin(tcp, 'GET', '/dashboard?token=nope');
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const login = await admin(tcp, 'GET', `/dashboard?token=${token}&view=graph`);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/dashboard?view=graph');
    const cookie = login.headers['set-cookie']?.[0] ?? '';
    expect(cookie).toMatch(/^hendrix_admin=[\w-]+; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(cookie).not.toContain(token);
    const session = { cookie: cookie.split(';')[0]! };

    const page = await admin(tcp, 'GET', '/dashboard', { headers: session });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect((await admin(tcp, 'GET', '/status', { headers: session })).status).toBe(200);
    expect((await admin(tcp, 'GET', '/status', { headers: { cookie: 'hendrix_admin=forged' } })).status).toBe(401);

    const host = new URL(tcp.url).host;
    const crossSite = await admin(tcp, 'POST', '/services/web/restart', { headers: { ...session, origin: 'http://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(crossSite.json.error.code).toBe('HX_ERR_ADMIN_AUTH');
    expect((await admin(tcp, 'POST', '/services/web/restart', { headers: { ...session, origin: `http://${host}` } })).status).toBe(200);
    expect((await admin(tcp, 'POST', '/services/web/restart', { headers: session })).status).toBe(200);
  });
});

describe('the TCP admin listener in the manifest: the token rule and a listen failure', () => {
  let taken: Server;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('admin.listen without admin.token is HX_ERR_ADMIN_TOKEN at admin.listen (exit 78, in check as in up)', async () => {
    const dir = makeDir({ 'hendrix.yaml': manifest('admin:\n  listen: 127.0.0.1:2019\n'), 'app.mjs': APP });
    for (const command of ['check', 'up']) {
      const result = await runCli([command], { cwd: dir });
      expect(result.code).toBe(78);
      expect(result.stderr).toContain('error[HX_ERR_ADMIN_TOKEN]: `admin.listen` opens the admin API over TCP, but `admin.token` is not set');
      expect(result.stderr).toContain('--> hendrix.yaml:2:11  (admin.listen)');
    }
  });

  it('an address it cannot listen on is HX_ERR_ADMIN_LISTEN at admin.listen, before any service starts (exit 78)', async () => {
    const port = (taken.address() as { port: number }).port;
    const dir = makeDir({ 'hendrix.yaml': manifest(`admin:\n  listen: 127.0.0.1:${port}\n  token: abcdefghijklmnopqrstuvwx\n`), 'app.mjs': APP });
    const result = await runCli(['up'], { cwd: dir });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`error[HX_ERR_ADMIN_LISTEN]: the admin API cannot listen on http://127.0.0.1:${port}`);
    expect(result.stderr).toContain('EADDRINUSE');
    expect(result.stderr).toContain('--> hendrix.yaml:2:11  (admin.listen)');
    expect(result.stdout).not.toContain('"msg":"ready"');
  });
});
