import { afterEach, describe, expect, it } from 'vitest';
import { createCapturingLogger } from '../../test/helpers/http/test-context.js';
import { startService, stopAll } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

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
