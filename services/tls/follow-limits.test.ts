import { copyFileSync, writeFileSync } from 'node:fs';
import { request as plainRequest } from 'node:http';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { up, type Hendrix } from '../../src/index.js';
import { createSilentLogger } from '../../src/log/logger.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { freePort } from '../../test/helpers/pebble.js';
import { createLeaf, createTestCa, useCertDir, type TestCert } from '../../test/helpers/test-certs.js';
import type { TlsHandle } from './handle.js';

/** A TLS listener applies the limits of the http service it serves: also after that service is reloaded in place. */

const dirs = useManifestDirs();
const certDir = useCertDir();
let ca: TestCert;
let leaf: TestCert;
let app: Hendrix | undefined;

beforeAll(async () => {
  ca = await createTestCa(certDir);
  leaf = await createLeaf(certDir, ca, { hosts: ['localhost'], name: 'leaf' });
}, 30_000);

afterEach(async () => {
  await app?.stop();
  app = undefined;
});

const manifest = (keepAlive: string, maxHeader: string, redirect: number) =>
  [
    'services:',
    '  web:',
    '    kind: http',
    '    listen: 127.0.0.1:0',
    '    app: ./app.mjs',
    `    keepAliveTimeout: ${keepAlive}`,
    `    maxHeaderSize: ${maxHeader}`,
    '  secure:',
    '    kind: tls',
    '    listen: 127.0.0.1:0',
    '    serves: web',
    '    cert: ./leaf.crt',
    '    key: ./leaf.key',
    '    redirect:',
    `      listen: 127.0.0.1:${redirect}`,
    '',
  ].join('\n');

/** One HTTPS request on a fresh connection: the status and the Keep-Alive header. */
function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; keepAlive: string | undefined }> {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/', servername: 'localhost', ca: ca.cert, agent: false, headers: { connection: 'keep-alive', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? 0, keepAlive: res.headers['keep-alive'] as string | undefined }));
    });
    req.on('error', fail);
    req.end();
  });
}

/** One plain HTTP request to the redirect listener: its status. */
function redirectStatus(port: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((done, fail) => {
    const req = plainRequest({ host: '127.0.0.1', port, path: '/', agent: false, headers: { host: 'localhost', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('a tls listener follows the limits of the http service it serves', () => {
  it('keepAliveTimeout and maxHeaderSize changed by an in-place reload of the http service apply over TLS and on the redirect listener too', async () => {
    const redirect = await freePort();
    const dir = dirs({ 'hendrix.yaml': manifest('5s', '16kb', redirect), 'app.mjs': 'export default (req, res) => res.end("ok");\n' });
    copyFileSync(leaf.certFile, join(dir, 'leaf.crt'));
    copyFileSync(leaf.keyFile, join(dir, 'leaf.key'));
    app = await up(join(dir, 'hendrix.yaml'), { environment: {}, logger: createSilentLogger(), handleFaults: false });
    const port = (app.handle<TlsHandle>('secure').address() as { port: number }).port;
    const big = { 'x-big': 'a'.repeat(12 * 1024) };
    expect(await get(port)).toMatchObject({ status: 200, keepAlive: 'timeout=5' });
    expect((await get(port, big)).status).toBe(200);
    expect(await redirectStatus(redirect, big)).toBe(308);

    writeFileSync(join(dir, 'hendrix.yaml'), manifest('7s', '8kb', redirect));
    const result = await app.reload();
    expect(result.diff.changed.map((c) => [c.name, c.mode])).toEqual([['web', 'in-place']]);
    expect(await get(port)).toMatchObject({ status: 200, keepAlive: 'timeout=7' });
    expect((await get(port, big)).status).toBe(431);
    expect(await redirectStatus(redirect, big)).toBe(431);
  });
});
