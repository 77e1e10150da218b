import { afterEach, describe, expect, it } from 'vitest';
import type { HendrixError } from '../../src/errors/hendrix-error.js';
import { HttpService } from './service.js';
import { createCapturingLogger, createTestContext } from '../../test/helpers/http/test-context.js';
import { rawExchange, startError, startService, statusOf, stopAll } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

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
