import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { controlErrorOf, controlRequest } from '../cli/control-client.js';
import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { hasCommand } from '../../test/helpers/system-command.js';
import { MAX_SOCKET_PATH_BYTES, checkControlPath, defaultControlPath } from './control-path.js';
import { createControlServer, type ControlRoutes, type ControlServer } from './control-socket.js';

const log = pino({ level: 'silent' });
let dir: string;
const servers: ControlServer[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hx-ctl-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const routes: ControlRoutes = {
  'GET /status': ({ query }) => ({ body: { ok: true, verbose: query.get('verbose') } }),
  'POST /echo': ({ body }) => ({ status: 201, body: { got: body } }),
  'POST /services/{name}/restart': ({ params }) => ({ body: { restarted: params['name'] } }),
  'POST /reload': () => {
    throw new HendrixError('HX_ERR_CYCLE', { message: 'dependency cycle: a → b → a', path: ['services', 'a', 'dependsOn', 0], location: { file: '/x/hendrix.yaml', line: 3, column: 5 } });
  },
  'POST /stop': () => {
    throw new HendrixError('HX_ERR_START_FAILED', { message: 'a reload is running' });
  },
  'GET /boom': () => {
    throw new Error('a bug with a stack');
  },
};

async function started(path = join(dir, 'ctl.sock'), table = routes): Promise<ControlServer> {
  const server = createControlServer({ path, routes: table, log });
  await server.listen();
  servers.push(server);
  return server;
}

async function caught(promise: Promise<unknown> | (() => unknown)): Promise<HendrixError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    if (isHendrixError(error)) return error;
    throw error;
  }
  throw new Error('expected a HendrixError');
}

/** Leaves a socket file nobody answers on: a child binds it and is SIGKILLed (no cleanup runs). */
async function staleSocket(path: string): Promise<void> {
  const script = `require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))`;
  const child = spawn(process.execPath, ['-e', script, path], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  expect(lstatSync(path).isSocket()).toBe(true);
}

describe('the control server', () => {
  it('listens on a 0600 socket, answers a route through the client, and removes the file at close', async () => {
    const server = await started();
    expect(statSync(server.path).mode & 0o777).toBe(0o600);
    expect(await controlRequest(server.path, 'GET', '/status?verbose=1')).toEqual({ status: 200, body: { ok: true, verbose: '1' } });
    expect(await controlRequest(server.path, 'POST', '/echo', { a: [1, 2] })).toEqual({ status: 201, body: { got: { a: [1, 2] } } });
    expect(await controlRequest(server.path, 'POST', '/services/web/restart')).toEqual({ status: 200, body: { restarted: 'web' } });
    const root = await controlRequest(server.path, 'GET', '/');
    expect(root.body).toMatchObject({ pid: process.pid, routes: expect.arrayContaining(['GET /status', 'POST /reload']) });
    await server.close();
    expect(existsSync(server.path)).toBe(false);
    await server.close(); // a second close is a no-op
  });

  it('answers an unknown route with a 404 in JSON that lists the routes', async () => {
    const server = await started();
    const res = await controlRequest(server.path, 'GET', '/nope');
    expect(res.status).toBe(404);
    expect(controlErrorOf(res)?.code).toBe('HX_ERR_CONTROL_REQUEST');
    expect(JSON.stringify(res.body)).toContain('GET /status');
    expect((await controlRequest(server.path, 'DELETE', '/status')).status).toBe(404);
  });

  it("answers a handler's HendrixError as its JSON, with a fitting status and no stack", async () => {
    const server = await started();
    const res = await controlRequest(server.path, 'POST', '/reload');
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      errors: [{ code: 'HX_ERR_CYCLE', message: 'dependency cycle: a → b → a', hint: expect.any(String), path: 'services.a.dependsOn[0]', file: '/x/hendrix.yaml', line: 3, column: 5, service: null, related: [] }],
      error: { code: 'HX_ERR_CYCLE', message: 'dependency cycle: a → b → a' },
    });
    const error = controlErrorOf(res)!;
    expect([error.code, error.exitCode, error.location?.line]).toEqual(['HX_ERR_CYCLE', 78, 3]);
    expect((await controlRequest(server.path, 'POST', '/stop')).status).toBe(409);
    const bug = await controlRequest(server.path, 'GET', '/boom');
    expect(bug.status).toBe(500);
    expect(controlErrorOf(bug)?.code).toBe('HX_ERR_INTERNAL');
    for (const body of [res.body, bug.body]) expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  it('refuses a body that is not JSON (400) or over 1 MiB (413)', async () => {
    const server = await started();
    const big = await controlRequest(server.path, 'POST', '/echo', 'x'.repeat(1024 * 1024 + 10));
    expect([big.status, controlErrorOf(big)?.message]).toEqual([413, expect.stringContaining('over 1048576 bytes')]);
    const text = await new Promise<number>((resolve, reject) => {
      const req = request({ socketPath: server.path, method: 'POST', path: '/echo' }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{not json');
    });
    expect(text).toBe(400);
  });

  it('takes over a stale socket file left by a killed instance', async () => {
    const path = join(dir, 'ctl.sock');
    await staleSocket(path);
    const client = await caught(controlRequest(path, 'GET', '/status'));
    expect([client.code, client.message]).toEqual(['HX_ERR_CONTROL_NOT_RUNNING', expect.stringContaining('nobody answers')]);
    const server = await started(path);
    expect((await controlRequest(server.path, 'GET', '/status')).status).toBe(200);
  });

  it('lets one of two instances take over the same stale socket at once, and refuses the other', async () => {
    const path = join(dir, 'ctl.sock');
    await staleSocket(path);
    const a = createControlServer({ path, routes, log });
    const b = createControlServer({ path, routes, log });
    servers.push(a, b);
    const results = await Promise.allSettled([a.listen(), b.listen()]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason as HendrixError;
    expect(refused.code).toBe('HX_ERR_CONTROL_IN_USE');
    expect((await controlRequest(path, 'GET', '/status')).status).toBe(200);
  });

  it('aborts the signal of a request in flight when it closes, and close() does not wait for it', async () => {
    let aborted: (reason: unknown) => void = () => {};
    const seen = new Promise((resolve) => (aborted = resolve));
    const server = await started(join(dir, 'ctl.sock'), {
      'POST /reload': ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            aborted(signal.reason);
            reject(signal.reason);
          });
        }),
    });
    const pending = controlRequest(server.path, 'POST', '/reload').catch((e: unknown) => e);
    await expect.poll(async () => (await controlRequest(server.path, 'GET', '/')).status).toBe(200);
    await server.close();
    expect(String(await seen)).toContain('closing');
    expect(isHendrixError(await pending)).toBe(true);
    expect(existsSync(server.path)).toBe(false);
  });

  it('refuses a socket another live instance answers on, naming its pid, and leaves it alone', async () => {
    const first = await started();
    const error = await caught(started(first.path));
    expect(error.code).toBe('HX_ERR_CONTROL_IN_USE');
    expect(error.message).toContain(`pid ${process.pid}`);
    expect((await controlRequest(first.path, 'GET', '/status')).status).toBe(200);
  });

  it('will not remove a file that is not a socket', async () => {
    const path = join(dir, 'ctl.sock');
    writeFileSync(path, 'precious');
    const error = await caught(started(path));
    expect([error.code, error.exitCode]).toEqual(['HX_ERR_CONTROL_PATH', 78]);
    expect(readFileSync(path, 'utf8')).toBe('precious');
  });

  it('says HX_ERR_CONTROL_NOT_RUNNING with a hint when nothing listens', async () => {
    const error = await caught(controlRequest(join(dir, 'none.sock'), 'GET', '/status'));
    expect(error.code).toBe('HX_ERR_CONTROL_NOT_RUNNING');
    expect(error.message).toContain(`no control socket at ${join(dir, 'none.sock')}`);
    expect(error.hint).toMatch(/hendrix up.*--control PATH/);
  });

  it.runIf(process.getuid?.() === 0 && hasCommand('setpriv'))('refuses a client of another uid: the socket is 0600', async () => {
    chmodSync(dir, 0o755); // let uid 65534 reach the socket: only its own mode stands in the way
    const server = await started();
    const script = `require('http').get({ socketPath: process.argv[1], path: '/status' }, (r) => console.log(r.statusCode)).on('error', (e) => console.log(e.code))`;
    // spawned, not spawnSync: should the mode ever let it in, the server must be free to answer
    const child = spawn('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', process.execPath, '-e', script, server.path]);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((resolve) => child.once('close', resolve));
    expect(out.trim()).toBe('EACCES');
  });
});

describe('the control socket path', () => {
  it('is stable for one folder (whatever path leads to it), differs for two, and fits 107 bytes in a 0700 folder', () => {
    const env = { XDG_RUNTIME_DIR: join(dir, 'run') };
    mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'b'));
    symlinkSync(join(dir, 'a'), join(dir, 'link'));
    const a = defaultControlPath(join(dir, 'a'), env);
    expect(defaultControlPath(join(dir, 'link'), env)).toBe(a);
    expect(defaultControlPath(join(dir, 'b'), env)).not.toBe(a);
    expect(a).toMatch(new RegExp(`^${env.XDG_RUNTIME_DIR}/hendrix/[0-9a-f]{16}\\.sock$`));
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    expect(statSync(dirname(a)).mode & 0o777).toBe(0o700);
    const fallback = defaultControlPath(join(dir, 'a'), {});
    expect(fallback).toBe(`/tmp/hendrix-${process.getuid?.()}/${a.split('/').pop()}`);
    expect(statSync(dirname(fallback)).mode & 0o777).toBe(0o700);
  });

  it('refuses a folder open to others or owned by another uid', async () => {
    const env = { XDG_RUNTIME_DIR: dir };
    mkdirSync(join(dir, 'hendrix'), { mode: 0o700 });
    chmodSync(join(dir, 'hendrix'), 0o777);
    const open = await caught(() => defaultControlPath(dir, env));
    expect([open.code, open.message]).toEqual(['HX_ERR_CONTROL_PATH', expect.stringContaining('open to other users (mode 0777)')]);
    if (process.getuid?.() === 0) {
      chmodSync(join(dir, 'hendrix'), 0o700);
      chownSync(join(dir, 'hendrix'), 65534, 65534);
      const foreign = await caught(() => defaultControlPath(dir, env));
      expect([foreign.code, foreign.message]).toEqual(['HX_ERR_CONTROL_PATH', expect.stringContaining('belongs to uid 65534')]);
    }
  });

  it('refuses an override over 107 bytes, in a missing folder, or in a folder others may write to', async () => {
    const long = await caught(() => checkControlPath(join(dir, `${'x'.repeat(100)}.sock`)));
    expect([long.code, long.message]).toEqual(['HX_ERR_CONTROL_PATH', expect.stringMatching(/is \d+ bytes; .* at most 107/)]);
    const server = createControlServer({ path: join(dir, `${'x'.repeat(100)}.sock`), routes, log });
    expect((await caught(server.listen())).code).toBe('HX_ERR_CONTROL_PATH');
    expect((await caught(() => checkControlPath(join(dir, 'missing', 'c.sock')))).message).toContain('does not exist');
    mkdirSync(join(dir, 'shared'));
    chmodSync(join(dir, 'shared'), 0o777);
    expect((await caught(() => checkControlPath(join(dir, 'shared', 'c.sock')))).message).toContain('other users may write');
    chmodSync(join(dir, 'shared'), 0o1777); // sticky like /tmp: others cannot replace our file
    expect(checkControlPath(join(dir, 'shared', 'c.sock'))).toBe(join(dir, 'shared', 'c.sock'));
  });
});
