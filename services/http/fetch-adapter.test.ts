import { Agent } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeRequest, rawExchange, startService, statusOf, stopAll, until } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

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

  it('discards a request body the handler never read, keeping the connection alive', async () => {
    const { url } = await startService({ app: './fetch-stream.mjs' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const unread = await nodeRequest(`${url}/ignored`, { method: 'POST', body: 'x'.repeat(4 * 1024 * 1024), agent });
    expect(unread.body).toBe('fetch POST /ignored');
    const next = await nodeRequest(`${url}/second`, { agent });
    expect(next.body).toBe('fetch GET /second');
    expect(next.socket).toBe(unread.socket);
    agent.destroy();
  });

  it('aborts request.signal and cancels the response body when the client leaves', async () => {
    const { port } = await startService({ app: './fetch-stream.mjs' });
    const flags = globalThis as { __hendrixAborted?: boolean; __hendrixCancelled?: boolean };
    flags.__hendrixAborted = false;
    flags.__hendrixCancelled = false;
    const socket = connect({ host: '127.0.0.1', port });
    socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    socket.destroy();
    await until(() => flags.__hendrixAborted === true && flags.__hendrixCancelled === true);
  });
});
