import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardProxy, type DashboardProxy } from '../../src/cli/dashboard-proxy.js';
import { createEventParser, type ServerEvent } from '../../src/cli/events-client.js';
import { createControlServer, type ControlServer } from '../../src/runtime/control-socket.js';

/**
 * The proxy of `hendrix dashboard` against a real control server on a unix socket (the
 * instance's own server code, with routes of the test's): the token gate, the cookie, CSRF,
 * requests and bodies forwarded, and an event stream passed through event by event.
 */
const TOKEN = 'k3y-for-this-test-only-0123456789abcdef';
let dir: string;
let control: ControlServer;
let proxy: DashboardProxy;
const seen: { route: string; body?: unknown }[] = [];
/** The test's lever on the event stream: each call writes one more event to every open stream. */
const streams = new Set<(text: string) => void>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hx-dash-'));
  control = createControlServer({
    path: join(dir, 'ctl.sock'),
    log: pino({ level: 'silent' }),
    routes: {
      'GET /status': () => ({ body: { instance: { pid: 1 }, services: [] } }),
      'GET /dashboard': () => ({ headers: { 'content-type': 'text/html; charset=utf-8' }, stream: (res) => void res.end('<!doctype html><title>hendrix</title>') }),
      'POST /services/{name}/restart': ({ params, body }) => {
        seen.push({ route: `restart ${params.name}`, body });
        return { body: { service: { name: params.name, state: 'ready' } } };
      },
      'GET /events': () => ({
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' },
        stream: (res, signal) =>
          new Promise<void>((resolve) => {
            const write = (text: string) => void res.write(text);
            streams.add(write);
            res.write(': hello\n\n');
            signal.addEventListener('abort', () => {
              streams.delete(write);
              resolve();
            });
          }),
      }),
    },
  });
  await control.listen();
  proxy = await startDashboardProxy({ controlPath: control.path, host: '127.0.0.1', port: 0, token: TOKEN });
});

afterAll(async () => {
  await proxy?.close();
  await control?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${proxy.origin}${path}`, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The cookie the token URL sets, as a browser sends it back. */
async function login(): Promise<string> {
  const first = await send(`/dashboard?token=${TOKEN}`);
  const cookie = String(first.headers['set-cookie']?.[0] ?? '');
  return cookie.split(';')[0]!;
}

describe('hendrix dashboard: the proxy to the control socket', () => {
  it('prints a URL on 127.0.0.1 with a token', () => {
    expect(proxy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard\?token=/);
    expect(proxy.url.endsWith(TOKEN)).toBe(true);
  });

  it('refuses every route without the token (401, HX_ERR_ADMIN_AUTH), and a wrong token', async () => {
    for (const path of ['/dashboard', '/status', '/events', `/status?token=${TOKEN}`]) {
      const answer = await send(path);
      expect(answer.status, path).toBe(401);
      expect(answer.body).toContain('HX_ERR_ADMIN_AUTH');
    }
    expect((await send('/dashboard?token=nope')).status).toBe(401);
    expect((await send('/status', { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await send('/services/web/restart', { method: 'POST' })).status).toBe(401);
    expect(seen).toEqual([]);
  });

  it('the token URL sets an HttpOnly SameSite=Strict cookie and redirects to the page without the token', async () => {
    const first = await send(`/dashboard?token=${TOKEN}`);
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe('/dashboard');
    const cookie = String(first.headers['set-cookie']?.[0]);
    expect(cookie).toMatch(/^hendrix_dashboard_\d+=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const page = await send('/dashboard', { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<title>hendrix</title>');
  });

  it('forwards GET and POST with the cookie or a Bearer token, never passing the token on', async () => {
    const cookie = await login();
    const status = await send('/status', { headers: { cookie } });
    expect(status.status).toBe(200);
    expect(JSON.parse(status.body)).toEqual({ instance: { pid: 1 }, services: [] });
    const bearer = await send('/status', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bearer.status).toBe(200);
    const body = JSON.stringify({ why: 'test' });
    const restart = await send('/services/web/restart', { method: 'POST', headers: { cookie, origin: proxy.origin, 'content-type': 'application/json' }, body });
    expect(restart.status).toBe(200);
    expect(JSON.parse(restart.body)).toEqual({ service: { name: 'web', state: 'ready' } });
    expect(seen.at(-1)).toEqual({ route: 'restart web', body: { why: 'test' } });
  });

  it('refuses a POST from another origin (CSRF), with the cookie', async () => {
    const cookie = await login();
    const before = seen.length;
    const cross = await send('/services/web/restart', { method: 'POST', headers: { cookie, origin: 'http://evil.example' } });
    expect(cross.status).toBe(403);
    expect(cross.body).toContain('HX_ERR_ADMIN_AUTH');
    expect(seen.length).toBe(before);
    expect((await send('/status', { method: 'DELETE', headers: { cookie } })).status).toBe(405);
  });

  it('passes an event stream through as it comes: each event arrives before the next is written', async () => {
    const cookie = await login();
    const events: ServerEvent[] = [];
    let wake: () => void = () => undefined;
    const parse = createEventParser((event) => {
      events.push(event);
      wake();
    });
    const next = () => new Promise<void>((resolve) => (wake = resolve));
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request(`${proxy.origin}/events`, { headers: { cookie }, agent: false }, resolve).on('error', reject).end();
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    res.setEncoding('utf8').on('data', parse);
    while (streams.size === 0) await new Promise((r) => setImmediate(r));
    for (let id = 1; id <= 3; id++) {
      const arrived = next();
      for (const write of streams) write(`id: ${id}\nevent: transition\ndata: {"service":"web","to":"ready"}\n\n`);
      await arrived; // the proxy held nothing back: the stream is still open, the next event not written yet
    }
    expect(events.map((e) => [e.id, e.type, JSON.parse(e.data).to])).toEqual([
      ['1', 'transition', 'ready'],
      ['2', 'transition', 'ready'],
      ['3', 'transition', 'ready'],
    ]);
    // the browser goes away: so does the stream on the control socket
    res.destroy();
    while (streams.size > 0) await new Promise((r) => setTimeout(r, 5));
  });
});

describe('the event-stream parser', () => {
  it('reads ids, types, multi-line data and comments across chunk borders and CRLF', () => {
    const out: ServerEvent[] = [];
    const parse = createEventParser((e) => out.push(e));
    for (const chunk of [': ping\n\nid: 7\nev', 'ent: reset\ndata: a\r\ndata: b\r\n', '\r\ndata:x\n', '\n']) parse(chunk);
    expect(out).toEqual([
      { id: '7', type: 'reset', data: 'a\nb' },
      { id: undefined, type: 'message', data: 'x' },
    ]);
  });
});
