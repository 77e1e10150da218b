import { createServer, Agent } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpService } from './service.js';
import { createTestContext } from '../../test/helpers/http/test-context.js';
import { nodeRequest, startService, stopAll, until, type NodeResponse } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

const never = (): AbortSignal => new AbortController().signal;

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('graceful stop', () => {
  it('lets the request in flight finish, refuses new connections and closes idle keep-alive at once', async () => {
    const { service, url, port } = await startService({ app: './slow.mjs', keepAliveTimeout: '30s' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const warm = await nodeRequest(`${url}/fast`, { agent });
    expect(warm.body).toBe('fast');
    const idleSocket = warm.socket;
    const idleClosed = new Promise<void>((r) => idleSocket.once('close', () => r()));

    const inflight = nodeRequest(`${url}/slow?ms=300`, { agent: new Agent({ keepAlive: true }) });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const stopped = service.stop(never());
    await idleClosed; // the idle keep-alive connection does not wait for its 30s timeout
    expect(Date.now() - started).toBeLessThan(200);
    expect(await refused(port)).toBe('ECONNREFUSED');

    const res = await inflight;
    expect(res.status).toBe(200);
    expect(res.body).toBe('slow done after 300');
    expect(res.headers.connection).toBe('close');
    await stopped;
    expect(service.handle().server).toBeUndefined();
    agent.destroy();
  });

  it('closes a keep-alive connection whose response had already started once it ends', async () => {
    const { service, url } = await startService({ app: './fetch-stream.mjs', keepAliveTimeout: '30s' });
    const agent = new Agent({ keepAlive: true });
    const inflight = new Promise<NodeResponse & { closed: Promise<void> }>((resolve, reject) => {
      nodeRequest(`${url}/stream`, { agent }).then((r) => resolve({ ...r, closed: new Promise((c) => r.socket.once('close', () => c())) }), reject);
    });
    await new Promise((r) => setTimeout(r, 10)); // headers and the first chunk are out
    const started = Date.now();
    await service.stop(never());
    expect(Date.now() - started).toBeLessThan(2_000);
    const res = await inflight;
    expect(res.body).toBe('chunk 0\nchunk 1\nchunk 2\n');
    await res.closed;
    agent.destroy();
  });

  it('destroys what is left when the signal aborts', async () => {
    const { service, url } = await startService({ app: './slow.mjs' });
    const inflight = nodeRequest(`${url}/slow?ms=10000`).then(
      () => 'answered',
      (e: NodeJS.ErrnoException) => e.code,
    );
    await new Promise((r) => setTimeout(r, 50));
    const controller = new AbortController();
    const started = Date.now();
    const stopped = service.stop(controller.signal);
    setTimeout(() => controller.abort(), 100);
    await stopped;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await inflight).toBe('ECONNRESET');
  });

  it('waits for upgraded sockets, and destroys them when forced', async () => {
    const { service, port } = await startService({});
    service.handle().onUpgrade((_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
    });
    const socket = connect({ host: '127.0.0.1', port });
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const controller = new AbortController();
    const stopped = service.stop(controller.signal);
    // the upgraded socket keeps the server open until forced
    const early = await Promise.race([stopped.then(() => 'stopped'), new Promise((r) => setTimeout(() => r('waiting'), 100))]);
    expect(early).toBe('waiting');
    controller.abort();
    await stopped;
    await closed;
  });

  it('is safe before start, twice, and after a failed start', async () => {
    const fresh = new HttpService(createTestContext({}));
    await fresh.stop(never());
    await fresh.stop(never());

    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const failed = new HttpService(createTestContext({ listen: `127.0.0.1:${port}` }));
    await expect(failed.start(never())).rejects.toMatchObject({ code: 'HX_ERR_LISTEN' });
    await failed.stop(never());
    await new Promise((r) => taken.close(r));

    const { service } = await startService({});
    await Promise.all([service.stop(never()), service.stop(never())]);
    await service.stop(never());
  });

  it('a stop during start makes the start fail and leaves nothing listening', async () => {
    const service = new HttpService(createTestContext({ app: './factory-async.mjs' }));
    const starting = service.start(never());
    await service.stop(never());
    await expect(starting).rejects.toThrow(/stopped while starting/);
    expect(service.handle().server).toBeUndefined();
  });

  it('an aborted start signal rejects with its reason', async () => {
    const service = new HttpService(createTestContext({ app: './factory-async.mjs' }));
    const controller = new AbortController();
    const starting = service.start(controller.signal);
    const reason = new Error('start timed out');
    controller.abort(reason);
    await expect(starting).rejects.toBe(reason);
    await service.stop(never());
    expect(service.address()).toBeUndefined();
  });

  it('can start again after a stop', async () => {
    const { service } = await startService({ app: './node-listener.mjs' });
    await service.stop(never());
    await service.start(never());
    await until(() => service.address() !== undefined);
    expect((await fetch(service.address()!)).status).toBe(200);
    const agent = new Agent({ keepAlive: true });
    const res = await nodeRequest(service.address()!, { agent });
    expect(res.headers.connection).toBe('keep-alive'); // no longer draining
    agent.destroy();
  });
});
