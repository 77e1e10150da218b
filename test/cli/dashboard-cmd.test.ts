import { request, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { createEventParser, type ServerEvent } from '../../src/cli/events-client.js';
import { statusOf, useRunningGraphs, waitForOutput, RUNNING_GRAPH } from '../helpers/running-graph.js';

/** `hendrix dashboard` through the built CLI: the URL it prints, its token, the instance behind it. */
const graphs = useRunningGraphs();

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function send(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('hendrix dashboard', () => {
  it('prints a tokened URL on 127.0.0.1; 401 without the token; with it the page, the status and the live events of the instance; exits 0 when the instance stops', async () => {
    const { dir, up } = await graphs.start();
    const dashboard = graphs.track(spawnCli(['dashboard'], { cwd: dir }));
    const line = await waitForOutput(dashboard, /^dashboard: \S+\n/m);
    const url = new URL(line.slice('dashboard: '.length).trim());
    expect(url.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url.pathname).toBe('/dashboard');
    const token = url.searchParams.get('token')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/); // 24 random bytes, base64url
    // without the token: nothing
    for (const path of ['/dashboard', '/status', '/events', '/metrics']) {
      const refused = await send(`${url.origin}${path}`);
      expect(refused.status, path).toBe(401);
      expect(refused.body).toContain('HX_ERR_ADMIN_AUTH');
    }
    // the browser's way in: the token URL sets the cookie and leaves the token out of the address
    const login = await send(url.href);
    expect(login.status).toBe(302);
    expect(login.headers.location).toBe('/dashboard');
    const cookie = String(login.headers['set-cookie']?.[0]).split(';')[0]!;
    const page = await send(`${url.origin}/dashboard`, { cookie });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    // the instance's own status, through the proxy
    const status = await send(`${url.origin}/status`, { authorization: `Bearer ${token}` });
    expect(status.status).toBe(200);
    const body = JSON.parse(status.body) as Awaited<ReturnType<typeof statusOf>>;
    expect(body.instance.pid).toBe(up.process.pid);
    expect(body.services.map((s) => s.name).sort()).toEqual(['api', 'crashy', 'web']);
    // the event stream passes through as it comes: a restart's transitions arrive while it stays open
    const events: ServerEvent[] = [];
    const stream = await new Promise<IncomingMessage>((resolve, reject) => {
      request(`${url.origin}/events`, { headers: { cookie, 'last-event-id': String(body.lastEventId) }, agent: false }, resolve).on('error', reject).end();
    });
    expect(stream.statusCode).toBe(200);
    expect(stream.headers['content-type']).toContain('text/event-stream');
    let arrived: () => void = () => undefined;
    const readyAgain = new Promise<void>((resolve) => (arrived = resolve));
    stream.setEncoding('utf8').on(
      'data',
      createEventParser((event) => {
        events.push(event);
        if (event.type === 'transition' && /"service":"web"/.test(event.data) && /"to":"ready"/.test(event.data)) arrived();
      }),
    );
    expect((await runCli(['restart', 'web'], { cwd: dir })).code).toBe(0);
    await readyAgain;
    const ids = events.map((e) => Number(e.id));
    expect(ids[0]).toBe(body.lastEventId + 1); // resumed right after the status it had: nothing missed
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    stream.destroy();
    // the instance stops: so does the dashboard, with a line, exit 0
    expect((await runCli(['stop'], { cwd: dir })).code).toBe(0);
    expect(await dashboard.exited()).toBe(0);
    expect(dashboard.stdout()).toContain('the instance stopped: dashboard closed\n');
    expect(dashboard.stderr()).toBe('');
  });

  it('^C stops it (exit 0); without an instance it says so (exit 1); a bad --port is a usage error', async () => {
    const { dir } = await graphs.start();
    const dashboard = graphs.track(spawnCli(['dashboard', '--port', '0', '--host', '127.0.0.1'], { cwd: dir }));
    await waitForOutput(dashboard, /^dashboard: \S+\n/m);
    dashboard.process.kill('SIGINT');
    expect(await dashboard.exited()).toBe(0);
    const empty = graphs.makeDir({ 'hendrix.yaml': RUNNING_GRAPH });
    const none = await runCli(['dashboard'], { cwd: empty });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('HX_ERR_CONTROL_NOT_RUNNING');
    const bad = await runCli(['dashboard', '--port', 'http'], { cwd: dir });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('HX_ERR_USAGE');
  });
});
