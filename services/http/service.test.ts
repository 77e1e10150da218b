import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { HttpService, type HttpHandle } from './service.js';
import { createCapturingLogger, createTestContext, FIXTURES } from './test-context.js';
import { nodeRequest, rawExchange, startService, statusOf, stopAll, until } from './test-client.js';

afterEach(stopAll);

async function startError(partial: Record<string, unknown>): Promise<HendrixError> {
  const service = new HttpService(createTestContext(partial));
  const error: unknown = await service.start(AbortSignal.timeout(5_000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  await service.stop(AbortSignal.timeout(1_000));
  expect(isHendrixError(error)).toBe(true);
  return error as HendrixError;
}

describe('app shapes', () => {
  it('runs a Node (req, res) listener, request body included', async () => {
    const { url } = await startService({ app: './node-listener.mjs' });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/hello?x=1`, { method: 'POST', body: 'abcd' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-shape')).toBe('node');
    expect(await res.text()).toBe('node POST /hello?x=1 4');
  });

  it('runs an Express-shaped (req, res, next) function', async () => {
    const { url } = await startService({ app: './express-like.mjs' });
    const res = await fetch(`${url}/a`);
    expect(res.headers.get('x-shape')).toBe('express');
    expect(await res.text()).toBe('express /a');
  });

  it("runs a Koa-shaped app.callback() and a Koa-shaped app instance", async () => {
    const callback = await startService({ app: './koa-like.mjs' });
    expect(await (await fetch(`${callback.url}/k`)).text()).toBe('koa /k');
    const instance = await startService({ app: './koa-like.mjs#app' });
    expect(await (await fetch(`${instance.url}/i`)).text()).toBe('koa /i');
  });

  it('runs a { fetch } object, a class instance, and a module exporting fetch', async () => {
    const object = await startService({ app: './fetch-stream.mjs' });
    const res = await fetch(`${object.url}/x`, { method: 'DELETE' });
    expect(res.headers.get('x-shape')).toBe('fetch');
    expect(await res.text()).toBe('fetch DELETE /x');
    const instance = await startService({ app: './fetch-class.mjs' });
    expect(await (await fetch(`${instance.url}/p`)).text()).toBe('hello from a class /p');
    const moduleLevel = await startService({ app: './fetch-named.mjs' });
    expect(await (await fetch(moduleLevel.url)).text()).toBe('module-level fetch');
  });

  it('calls a factory once with the app context and runs what it returns', async () => {
    const { url } = await startService({ app: './factory-fetch.mjs' }, { name: 'site' });
    expect(await (await fetch(url)).text()).toBe('hello from site in a folder listening on {"host":"127.0.0.1","port":0}');
  });

  it('awaits an async factory; its ctx.peer is the service context peer', async () => {
    const { log, lines } = createCapturingLogger();
    const { url } = await startService({ app: './factory-async.mjs' }, { log });
    expect(await (await fetch(url)).text()).toBe('async factory (test context: no peer db)');
    expect(lines.some((l) => l['msg'] === 'factory ran')).toBe(true);
  });

  it('picks a named export with #name', async () => {
    const api = await startService({ app: './named.mjs#api' });
    expect(await (await fetch(`${api.url}/n`)).text()).toBe('named api /n');
    const other = await startService({ app: './named.mjs#other' });
    expect(await (await fetch(other.url)).text()).toBe('named other');
  });

  it('answers 404 to everything when there is neither app nor static', async () => {
    const { url } = await startService({});
    const res = await fetch(`${url}/anything`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('Not Found');
  });
});

describe('fetch adapter', () => {
  it('streams a request body through to the response body', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const parts = ['one ', 'two ', 'three'];
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = parts.shift();
        if (next === undefined) return controller.close();
        await new Promise((r) => setTimeout(r, 10));
        controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await fetch(`${url}/echo`, { method: 'PUT', body, headers: { 'content-type': 'text/x-test' }, duplex: 'half' } as RequestInit);
    expect(res.headers.get('content-type')).toBe('text/x-test');
    expect(res.headers.get('x-method')).toBe('PUT');
    expect(await res.text()).toBe('one two three');
  });

  it('counts a large uploaded body and builds the URL from the Host header', async () => {
    const { url, port } = await startService({ app: './fetch-stream.mjs' });
    const res = await fetch(`${url}/count?q=1`, { method: 'POST', body: new Uint8Array(3 * 1024 * 1024) });
    expect(await res.json()).toEqual({ bytes: 3 * 1024 * 1024, url: `http://127.0.0.1:${port}/count?q=1` });
  });

  it('streams a response body chunk by chunk', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const res = await fetch(`${url}/stream`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe('chunk 0\n');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toBe('chunk 1\nchunk 2\n');
  });

  it('pulls the response body only as fast as the client reads (backpressure)', async () => {
    const { port } = await startService({ app: './fetch-stream.mjs' });
    const pulled = (): number => (globalThis as { __bigPulled?: () => number }).__bigPulled?.() ?? 0;
    const { text } = await new Promise<{ text: string }>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.write('GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      socket.once('data', (c: Buffer) => {
        socket.pause(); // stop reading: the server must stop pulling
        resolve({ text: c.toString('latin1') });
        setTimeout(() => socket.destroy(), 400);
      });
    });
    expect(statusOf(text)).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(pulled()).toBeGreaterThan(0);
    expect(pulled()).toBeLessThan(128); // 8 MiB were never all pulled into memory
  });

  it('keeps every Set-Cookie header apart, and the status text', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const res = await nodeRequest(`${url}/cookies`);
    expect(res.status).toBe(201);
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    const raw = await rawExchange(Number(new URL(url).port), 'GET /cookies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw.text).toMatch(/^HTTP\/1\.1 201 Made\r\n/);
  });

  it('answers HEAD with the headers and no body', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const res = await nodeRequest(`${url}/stream`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(res.body).toBe('');
  });

  it('passes request headers and the method through', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const res = await fetch(`${url}/headers`, { headers: { 'x-custom': 'yes' } });
    expect(await res.json()).toEqual({ host: new URL(url).host, custom: 'yes', method: 'GET' });
  });

  it('answers 500 when fetch returns something that is not a Response', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs', exposeErrors: true });
    const res = await fetch(`${url}/not-a-response`);
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/not a Response/);
  });

  it('cuts the connection when the response body fails after the headers went out', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const res = await fetch(`${url}/broken-stream`);
    await expect(res.text()).rejects.toThrow();
    expect(await (await fetch(url)).text()).toBe('fetch GET /');
  });
});

describe('failing handlers', () => {
  it('answers 500 to a synchronous throw, logs it, and keeps serving', async () => {
    const { log, lines } = createCapturingLogger();
    const { url } = await startService({ app: './throwing.mjs' }, { log });
    const res = await fetch(`${url}/throw`);
    expect(res.status).toBe(500);
    expect(res.headers.get('x-leak')).toBeNull();
    expect(await res.text()).toBe('Internal Server Error');
    expect(await (await fetch(`${url}/ok`)).text()).toBe('still fine');
    const failed = lines.find((l) => l['msg'] === 'handler failed');
    expect(failed?.['level']).toBe(50);
    expect((failed?.['err'] as { message?: string }).message).toBe('boom');
    expect(failed?.['reqId']).toMatch(/^[0-9a-z]{5}-[0-9a-z]+$/);
  });

  it('answers 500 with the message when exposeErrors is on', async () => {
    const { url } = await startService({ app: './throwing.mjs', exposeErrors: true });
    const res = await fetch(`${url}/throw`);
    expect(await res.text()).toBe('boom');
  });

  it('destroys the socket when the handler throws after sending headers', async () => {
    const { url, port } = await startService({ app: './throwing.mjs' });
    const { text, closedByServer } = await rawExchange(port, 'GET /late-throw HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(closedByServer).toBe(true);
    expect(text).not.toMatch(/\r\n0\r\n\r\n$/); // the chunked body never ended: the client sees a cut
    expect(await (await fetch(`${url}/ok`)).text()).toBe('still fine');
  });

  it('answers 500 to an async rejection and keeps serving', async () => {
    const { url } = await startService({ app: './rejecting.mjs' });
    expect((await fetch(`${url}/reject`)).status).toBe(500);
    expect(await (await fetch(`${url}/ok`)).text()).toBe('async fine');
  });

  it('answers 500 when a fetch handler throws or rejects', async () => {
    const { url } = await startService({ app: './fetch-throwing.mjs' });
    expect((await fetch(`${url}/throw`)).status).toBe(500);
    expect((await fetch(`${url}/reject`)).status).toBe(500);
    expect(await (await fetch(`${url}/ok`)).text()).toBe('fetch fine');
  });

  it('answers garbage bytes with 400 and does not crash', async () => {
    const { port, url, ctx } = await startService({ app: './node-listener.mjs' });
    const garbage = await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0xff, 0x00, 0x13, 0x37, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect(statusOf(garbage.text)).toBe(400);
    expect(garbage.closedByServer).toBe(true);
    const bad = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n');
    expect(statusOf(bad.text)).toBe(400);
    expect(ctx.crashes).toEqual([]);
    expect((await fetch(url)).status).toBe(200);
  });

  it('answers an oversized header block with 431 (maxHeaderSize)', async () => {
    const { port } = await startService({ app: './node-listener.mjs', maxHeaderSize: '1kb' });
    const { text } = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2048)}\r\n\r\n`);
    expect(statusOf(text)).toBe(431);
  });

  it('answers a request whose headers never finish with 408 (headersTimeout)', async () => {
    const { port } = await startService({ app: './node-listener.mjs', headersTimeout: '200ms', requestTimeout: '400ms' });
    const started = Date.now();
    const { text, closedByServer } = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 3_000);
    expect(closedByServer).toBe(true);
    expect(statusOf(text)).toBe(408);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

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

describe('load errors', () => {
  it('reports a missing app module as HX_ERR_APP_LOAD at the app location', async () => {
    const ctx = createTestContext({ app: './nope.mjs' });
    const error = (await new HttpService(ctx).start(AbortSignal.timeout(5_000)).catch((e: unknown) => e)) as HendrixError;
    expect(error.code).toBe('HX_ERR_APP_LOAD');
    expect(error.message).toMatch(/app module not found: \.\/nope\.mjs/);
    expect(ctx.located).toContainEqual(['app']);
    expect(error.location).toBeDefined();
  });

  it('reports a bad shape as HX_ERR_APP_SHAPE saying what was found', async () => {
    const error = await startError({ app: './bad-shapes.mjs' });
    expect(error.code).toBe('HX_ERR_APP_SHAPE');
    expect(error.message).toMatch(/is a number \(42\)/);
  });

  it('opens nothing when the app fails to load', async () => {
    const ctx = createTestContext({ app: './throws-on-import.mjs' });
    const service = new HttpService(ctx);
    await expect(service.start(AbortSignal.timeout(5_000))).rejects.toMatchObject({ code: 'HX_ERR_APP_LOAD' });
    expect(service.address()).toBeUndefined();
    expect(service.handle().server).toBeUndefined();
    await service.stop(AbortSignal.timeout(1_000));
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
