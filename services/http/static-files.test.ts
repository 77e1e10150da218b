import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../../test/helpers/http/test-context.js';
import { nodeRequest, rawGet, startService, stopAll } from '../../test/helpers/http/test-client.js';

afterEach(stopAll);

let dir = '';
const BIG = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hendrix-static-'));
  const pub = join(dir, 'public');
  await mkdir(join(pub, 'sub'), { recursive: true });
  await mkdir(join(pub, 'nested'), { recursive: true });
  await mkdir(join(dir, 'outside'), { recursive: true });
  await mkdir(join(dir, 'special'), { recursive: true });
  await writeFile(join(pub, 'index.html'), '<h1>home</h1>');
  await writeFile(join(pub, 'style.css'), 'body { color: red }');
  await writeFile(join(pub, 'data.json'), '{"ok":true}');
  await writeFile(join(pub, 'app.js'), 'console.log(1)');
  await writeFile(join(pub, 'letters.txt'), BIG);
  await writeFile(join(pub, 'space name.txt'), 'spaced');
  await writeFile(join(pub, '.env'), 'SECRET=1');
  await writeFile(join(pub, 'sub', 'index.html'), '<h1>sub</h1>');
  await writeFile(join(pub, 'nested', 'file.txt'), 'nested file');
  await writeFile(join(dir, 'secret.txt'), 'TOP SECRET');
  await writeFile(join(dir, 'outside', 'file.txt'), 'OUTSIDE');
  await writeFile(join(dir, 'special', 'only.txt'), 'from special');
  await symlink(join(dir, 'secret.txt'), join(pub, 'link-out.txt'));
  await symlink(join(dir, 'outside'), join(pub, 'dir-out'));
  await symlink('style.css', join(pub, 'link-in.css'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const withApp = (extra: Record<string, unknown> = {}) =>
  startService({ app: join(FIXTURES, 'node-listener.mjs'), static: { '/assets': './public', '/assets/special': './special' }, ...extra }, { baseDir: dir });

describe('static files', () => {
  it('serves files with their content types', async () => {
    const { url } = await withApp();
    const css = await fetch(`${url}/assets/style.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toBe('body { color: red }');
    expect((await fetch(`${url}/assets/data.json`)).headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect((await fetch(`${url}/assets/app.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await (await fetch(`${url}/assets/space%20name.txt?v=1`)).text()).toBe('spaced');
  });

  it('sends ETag and Last-Modified and answers 304 to a matching conditional request', async () => {
    const { url } = await withApp();
    const first = await fetch(`${url}/assets/style.css`);
    const etag = first.headers.get('etag');
    const lastModified = first.headers.get('last-modified');
    expect(etag).toMatch(/^W\/"/);
    expect(lastModified).toBeTruthy();
    // node:http, not fetch: fetch adds `cache-control: no-cache` to conditional requests
    const byTag = await nodeRequest(`${url}/assets/style.css`, { headers: { 'if-none-match': etag! } });
    expect(byTag.status).toBe(304);
    expect(byTag.body).toBe('');
    const byDate = await nodeRequest(`${url}/assets/style.css`, { headers: { 'if-modified-since': lastModified! } });
    expect(byDate.status).toBe(304);
    const changed = await nodeRequest(`${url}/assets/style.css`, { headers: { 'if-none-match': 'W/"other"' } });
    expect(changed.status).toBe(200);
  });

  it('answers a Range request with 206 and Content-Range', async () => {
    const { url } = await withApp();
    const res = await fetch(`${url}/assets/letters.txt`, { headers: { range: 'bytes=10-15' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 10-15/${BIG.length}`);
    expect(await res.text()).toBe('abcdef');
    const unsatisfiable = await fetch(`${url}/assets/letters.txt`, { headers: { range: 'bytes=999-' } });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe(`bytes */${BIG.length}`);
  });

  it('serves index.html for a folder and redirects a folder without its slash', async () => {
    const { url } = await withApp();
    expect(await (await fetch(`${url}/assets/`)).text()).toBe('<h1>home</h1>');
    expect(await (await fetch(`${url}/assets/sub/`)).text()).toBe('<h1>sub</h1>');
    const bare = await fetch(`${url}/assets/sub?x=1`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/assets/sub/?x=1');
    const root = await fetch(`${url}/assets`, { redirect: 'manual' });
    expect(root.headers.get('location')).toBe('/assets/');
  });

  it('answers HEAD with headers and no body', async () => {
    const { url } = await withApp();
    const res = await nodeRequest(`${url}/assets/letters.txt`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(BIG.length));
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toBe('');
  });

  it('falls through to the app when a file is missing, hidden, or a folder has no index', async () => {
    const { url } = await withApp();
    expect(await (await fetch(`${url}/assets/missing.css`)).text()).toBe('node GET /assets/missing.css 0');
    expect(await (await fetch(`${url}/assets/.env`)).text()).toBe('node GET /assets/.env 0');
    expect(await (await fetch(`${url}/assets/nested/`)).text()).toBe('node GET /assets/nested/ 0');
    expect(await (await fetch(`${url}/elsewhere`)).text()).toBe('node GET /elsewhere 0');
    expect(await (await fetch(`${url}/assetsmore`)).text()).toBe('node GET /assetsmore 0');
  });

  it('passes methods other than GET and HEAD to the app, or answers 405 without one', async () => {
    const { url } = await withApp();
    expect(await (await fetch(`${url}/assets/style.css`, { method: 'POST', body: 'x' })).text()).toBe('node POST /assets/style.css 1');
    const bare = await startService({ static: { '/': './public' } }, { baseDir: dir });
    const res = await fetch(`${bare.url}/style.css`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${bare.url}/missing`)).status).toBe(404);
    expect(await (await fetch(`${bare.url}/`)).text()).toBe('<h1>home</h1>');
  });

  it('checks the longest prefix first', async () => {
    const { url } = await withApp();
    expect(await (await fetch(`${url}/assets/special/only.txt`)).text()).toBe('from special');
    expect(await (await fetch(`${url}/assets/style.css`)).text()).toBe('body { color: red }');
  });

  it('follows a symlink that stays inside the folder', async () => {
    const { url } = await withApp();
    expect(await (await fetch(`${url}/assets/link-in.css`)).text()).toBe('body { color: red }');
  });
});

describe('static containment', () => {
  const attempts: [string, number][] = [
    ['/assets/../secret.txt', 400],
    ['/assets/sub/../../secret.txt', 400],
    ['/assets/..%2fsecret.txt', 400],
    ['/assets/%2e%2e/secret.txt', 400],
    ['/assets/%2E%2E/secret.txt', 400],
    ['/assets/.%2e/secret.txt', 400],
    ['/assets/%2e%2e%2fsecret.txt', 400],
    ['/assets/..%5csecret.txt', 400],
    ['/assets/..\\secret.txt', 400],
    ['/assets/style.css%00.png', 400],
    ['/assets/%ff%fe', 400],
    ['/assets/link-out.txt', 404],
    ['/assets/dir-out/file.txt', 404],
  ];

  it.each(attempts)('refuses %s with %i', async (target, status) => {
    const { port } = await startService({ static: { '/assets': './public' } }, { baseDir: dir });
    const res = await rawGet(port, target);
    expect(res.status).toBe(status);
    expect(res.text).not.toMatch(/TOP SECRET|OUTSIDE/);
  });

  it('refuses escapes from a root mount too (/..%2f, /%2e%2e/, raw ..)', async () => {
    const { port } = await startService({ app: join(FIXTURES, 'node-listener.mjs'), static: { '/': './public' } }, { baseDir: dir });
    for (const target of ['/..%2fsecret.txt', '/%2e%2e/secret.txt', '/../secret.txt', '/%2e%2e%2f%2e%2e%2fetc/passwd']) {
      const res = await rawGet(port, target);
      expect(res.status, target).toBe(400);
      expect(res.text).not.toMatch(/TOP SECRET/);
    }
    const dotdot = await rawGet(port, '/link-out.txt');
    expect(dotdot.status).toBe(404);
  });
});
