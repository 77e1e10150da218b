import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { HttpService, type HttpHandle } from './service.js';
import { createCapturingLogger, createTestContext, FIXTURES } from '../../test/helpers/http/test-context.js';
import { rawExchange, startError, startService, statusOf, stopAll, until } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

describe('listen', () => {
  it('applies the limits to the server', async () => {
    const { service } = await startService({ keepAliveTimeout: '2s', headersTimeout: '3s', requestTimeout: '20s', maxHeaderSize: '8kb' });
    const server = service.handle().server!;
    expect(server.keepAliveTimeout).toBe(2_000);
    expect(server.headersTimeout).toBe(3_000);
    expect(server.requestTimeout).toBe(20_000);
    expect((server as unknown as { maxHeaderSize: number }).maxHeaderSize).toBe(8 * 1024);
  });

  it('logs the bound address', async () => {
    const { log, lines } = createCapturingLogger();
    const { url } = await startService({}, { log });
    expect(lines.find((l) => l['msg'] === 'listening')?.['address']).toBe(url);
  });

  it('listens on a unix socket relative to baseDir, removing a stale socket file first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hendrix-http-'));
    try {
      // leave a stale socket file behind, as a crashed process would
      const stale = createServer();
      await new Promise<void>((r) => stale.listen(join(dir, 'app.sock'), r));
      const handle = (stale as unknown as { _handle: { close(): void } | null })._handle;
      handle?.close(); // closes without unlinking, like a crash
      const app = join(FIXTURES, 'node-listener.mjs');
      const { service } = await startService({ app, listen: './app.sock' }, { baseDir: dir });
      expect(service.address()).toBe(`unix:${join(dir, 'app.sock')}`);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpRequest({ socketPath: join(dir, 'app.sock'), path: '/sock' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body).toBe('node GET /sock 0');
      await service.stop(AbortSignal.timeout(1_000));
      await expect(stat(join(dir, 'app.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await stopAll();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to take over a live unix socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hendrix-http-'));
    const live = createServer();
    await new Promise<void>((r) => live.listen(join(dir, 'live.sock'), r));
    try {
      const service = new HttpService(createTestContext({ listen: './live.sock' }, { baseDir: dir }));
      const error = (await service.start(AbortSignal.timeout(5_000)).catch((e: unknown) => e)) as HendrixError;
      expect(error.code).toBe('HX_ERR_LISTEN');
      expect(error.message).toMatch(/EADDRINUSE/);
    } finally {
      await new Promise((r) => live.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports an address this machine does not have as HX_ERR_LISTEN', async () => {
    const error = await startError({ listen: '192.0.2.1:0' }); // TEST-NET-1, never local
    expect(error.code).toBe('HX_ERR_LISTEN');
    expect(error.message).toBe('cannot listen on http://192.0.2.1:0: EADDRNOTAVAIL (address not available on this machine)');
  });

  it('reports a port in use as HX_ERR_LISTEN with the address, errno and location', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const error = await startError({ listen: `127.0.0.1:${port}` });
      expect(error.code).toBe('HX_ERR_LISTEN');
      expect(error.message).toBe(`cannot listen on http://127.0.0.1:${port}: EADDRINUSE (address already in use)`);
      expect(error.service).toBe('web');
      expect(error.location).toEqual({ file: 'hendrix.yaml', line: 4, column: 5 });
      expect((error.cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});

describe('access log', () => {
  it('writes one line per request at the configured level', async () => {
    const { log, lines } = createCapturingLogger();
    const { url } = await startService({ app: './node-listener.mjs', accessLog: 'debug' }, { log });
    await (await fetch(`${url}/path?token=secret`)).text();
    await (await fetch(`${url}/cookies`)).text();
    await until(() => lines.filter((l) => l['msg'] === 'request').length === 2);
    const [first, second] = lines.filter((l) => l['msg'] === 'request');
    // a chunked body: what the socket wrote minus the headers (with the chunk framing)
    const body = 'node GET /path?token=secret 0';
    expect(first).toMatchObject({ level: 20, method: 'GET', path: '/path', status: 200, bytes: `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`.length });
    expect(second).toMatchObject({ path: '/cookies', bytes: 7 });
    expect(typeof first?.['ms']).toBe('number');
    expect(first?.['reqId']).not.toBe(second?.['reqId']);
    expect(JSON.stringify(lines)).not.toContain('secret');
  });

  it('counts streamed bytes of fetch responses', async () => {
    const { log, lines } = createCapturingLogger();
    const { url } = await startService({ app: './fetch-stream.mjs', accessLog: 'info' }, { log });
    await (await fetch(`${url}/stream`)).text();
    await until(() => lines.some((l) => l['msg'] === 'request'));
    expect(lines.find((l) => l['msg'] === 'request')).toMatchObject({ path: '/stream', status: 200, bytes: 24 });
  });

  it('writes nothing when off or when the level is disabled', async () => {
    const off = createCapturingLogger();
    const a = await startService({ app: './node-listener.mjs', accessLog: 'off' }, { log: off.log });
    await (await fetch(a.url)).text();
    const quiet = createCapturingLogger();
    quiet.log.level = 'info';
    const b = await startService({ app: './node-listener.mjs', accessLog: 'debug' }, { log: quiet.log });
    await (await fetch(b.url)).text();
    await new Promise((r) => setTimeout(r, 20));
    expect(off.lines.filter((l) => l['msg'] === 'request')).toEqual([]);
    expect(quiet.lines.filter((l) => l['msg'] === 'request')).toEqual([]);
  });
});

describe('handle', () => {
  it('exposes address, url, server and the composed handler', async () => {
    const { service, url, port } = await startService({ app: './node-listener.mjs' });
    const handle: HttpHandle = service.handle();
    expect(handle.address()).toEqual({ host: '127.0.0.1', port });
    expect(handle.url).toBe(url);
    expect(handle.server?.listening).toBe(true);
    // another server runs the same app through handleRequest
    const other = createServer(handle.handleRequest);
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(other.address() as { port: number }).port}/via-peer`);
      expect(await res.text()).toBe('node GET /via-peer 0');
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('hands upgrade requests to registered listeners; unclaimed ones get 404', async () => {
    const { service, port, url } = await startService({ app: './node-listener.mjs' });
    const handle = service.handle();
    const seen: string[] = [];
    const off = handle.onUpgrade((req, socket) => {
      if (req.url !== '/hub') return false;
      seen.push(`${req.headers.upgrade} ${req.url}`);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nhello');
    });
    const upgrade = (path: string): string =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`;
    const ok = await rawExchange(port, upgrade('/hub'));
    expect(ok.text).toMatch(/^HTTP\/1\.1 101 .*hello$/s);
    expect(seen).toEqual(['test /hub']);
    const declined = await rawExchange(port, upgrade('/other'));
    expect(statusOf(declined.text)).toBe(404);
    off();
    // with no listener left, an Upgrade request is an ordinary request for the app
    const plain = await rawExchange(port, upgrade('/hub'), 300);
    expect(plain.text).toMatch(/^HTTP\/1\.1 200 OK.*node GET \/hub 0/s);
    expect((await fetch(url)).status).toBe(200);
  });
});

describe('upgrades on another server', () => {
  it('attachUpgrades routes a second server (a TLS listener stand-in) while listeners exist', async () => {
    const { service } = await startService({ app: './node-listener.mjs' });
    const handle = service.handle();
    const other = createServer(handle.handleRequest);
    const detach = handle.attachUpgrades(other);
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as { port: number }).port;
    const upgrade = 'GET /hub HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n';
    try {
      const off = handle.onUpgrade((_req, socket) => {
        socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\nvia other');
      });
      expect((await rawExchange(port, upgrade)).text).toMatch(/^HTTP\/1\.1 101 .*via other$/s);
      off();
      expect((await rawExchange(port, upgrade, 300)).text).toMatch(/node GET \/hub 0/);
      detach();
      expect(other.listenerCount('upgrade')).toBe(0);
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  it('answers 503 to upgrades once draining, and 500 when a listener throws', async () => {
    const { Upgrades } = await import('./upgrades.js');
    const { PassThrough } = await import('node:stream');
    const { createSilentLogger } = await import('../../src/log/logger.js');
    const upgrades = new Upgrades(createSilentLogger());
    const answer = async (fn: () => void, socket: InstanceType<typeof PassThrough>): Promise<string> => {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      fn();
      await new Promise((r) => setTimeout(r, 10));
      return Buffer.concat(chunks).toString();
    };
    const req = { url: '/x', headers: {} } as never;
    upgrades.add(() => {
      throw new Error('listener broke');
    });
    const broken = new PassThrough();
    expect(await answer(() => upgrades.dispatch(req, broken, Buffer.alloc(0)), broken)).toMatch(/^HTTP\/1\.1 500 /);
    upgrades.close();
    const late = new PassThrough();
    expect(await answer(() => upgrades.dispatch(req, late, Buffer.alloc(0)), late)).toMatch(/^HTTP\/1\.1 503 /);
  });
});

describe('crash after ready', () => {
  it('reports a server error after listening through ctx.crashed', async () => {
    const { service, ctx } = await startService({});
    const boom = new Error('accept failed');
    service.handle().server!.emit('error', boom);
    expect(ctx.crashes).toEqual([boom]);
  });
});
