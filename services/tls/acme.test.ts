import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHendrixError, type HendrixError } from '../../src/errors/hendrix-error.js';
import { useManifestDirs } from '../../test/helpers/manifest-dir.js';
import { startPebble, type Pebble } from '../../test/helpers/pebble.js';
import { needCommand } from '../../test/helpers/system-command.js';
import { AcmeChallenges } from './acme-challenges.js';
import { AcmeManager, type AcmeManagerOptions } from './acme.js';
import type { PemPair } from './pem-pair.js';
import type { AcmeConfig } from './schema.js';

const YEAR = 365 * 86_400_000;
const HOSTS = ['localhost', '127.0.0.1'];

/** A plain-http server on 127.0.0.1 answering through `answer()`'s challenges, 418 otherwise. */
async function startResponder(answer: () => AcmeChallenges | undefined, port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    if (answer()?.respond(req, res) !== true) res.writeHead(418).end('not a challenge');
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function fetchText(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject).end();
  });
}

/** The certificates of a PEM chain, leaf first. */
function chainOf(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => new X509Certificate(c));
}

describe('AcmeChallenges', () => {
  it('answers only /.well-known/acme-challenge/ and lets every other URL through', async () => {
    const challenges = new AcmeChallenges();
    challenges.set('tok_en-1', 'tok_en-1.thumbprint');
    const server = await startResponder(() => challenges);
    const { port } = server.address() as AddressInfo;
    try {
      expect(await fetchText(port, '/.well-known/acme-challenge/tok_en-1')).toEqual({ status: 200, type: 'text/plain', body: 'tok_en-1.thumbprint' });
      expect(await fetchText(port, '/.well-known/acme-challenge/tok_en-1?x=1')).toMatchObject({ status: 200, body: 'tok_en-1.thumbprint' });
      expect(await fetchText(port, '/.well-known/acme-challenge/tok_en-1', 'HEAD')).toMatchObject({ status: 200, body: '' });
      expect(await fetchText(port, '/.well-known/acme-challenge/other')).toMatchObject({ status: 404 });
      expect(await fetchText(port, '/.well-known/acme-challenge/')).toMatchObject({ status: 404 });
      expect(await fetchText(port, '/.well-known/acme-challenge/tok_en-1', 'POST')).toMatchObject({ status: 405 });
      for (const path of ['/', '/tok_en-1', '/.well-known/acme-challenge', '/.well-known/other/tok_en-1', '/x/.well-known/acme-challenge/tok_en-1']) {
        expect(await fetchText(port, path)).toMatchObject({ status: 418 });
      }
      challenges.delete('tok_en-1');
      expect(await fetchText(port, '/.well-known/acme-challenge/tok_en-1')).toMatchObject({ status: 404 });
    } finally {
      await close(server);
    }
  });
});

describe.runIf(needCommand('pebble'))('AcmeManager against pebble', () => {
  const makeDir = useManifestDirs();
  const logs: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  // the responder answers the challenges of whichever manager the test points it at
  let answering: AcmeChallenges | undefined;
  let responder: Server;
  let httpPort: number;
  let pebble: Pebble;

  beforeAll(async () => {
    responder = await startResponder(() => answering);
    httpPort = (responder.address() as AddressInfo).port;
    pebble = await startPebble({ httpPort });
  });
  afterAll(async () => {
    await pebble?.stop();
    if (responder?.listening) await close(responder);
  });

  /** A manager for a fresh (or the given) folder; the responder now answers its challenges. */
  function manager(overrides: Partial<AcmeConfig> = {}, options: Partial<AcmeManagerOptions> & { dir?: string } = {}): AcmeManager {
    const baseDir = options.dir ?? makeDir({});
    const challenges = options.challenges ?? new AcmeChallenges();
    answering = challenges;
    return new AcmeManager({
      config: { directory: pebble.directory, directoryCa: pebble.directoryCaFile, hosts: HOSTS, renewBefore: 30 * 86_400_000, checkInterval: 3_600_000, ...overrides },
      baseDir,
      stateDir: join(baseDir, '.hendrix', 'tls'),
      name: 'web',
      challenges,
      log,
      ...options,
    });
  }

  async function expectIssuedByPebble(pair: PemPair): Promise<void> {
    const [leaf, ...intermediates] = chainOf(pair.cert);
    const root = new X509Certificate(await pebble.root());
    expect(leaf?.subjectAltName?.split(', ').sort()).toEqual(['DNS:localhost', 'IP Address:127.0.0.1']);
    expect(leaf?.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
    // leaf → intermediates → pebble's root, each signed by the next
    const path = [leaf, ...intermediates, root].filter((c) => c !== undefined);
    expect(path.length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i + 1 < path.length; i++) expect(path[i]?.verify((path[i + 1] as X509Certificate).publicKey)).toBe(true);
    expect(await readFile(pair.certFile, 'utf8')).toBe(pair.cert);
    expect(await readFile(pair.keyFile, 'utf8')).toBe(pair.key);
    expect((await stat(pair.keyFile)).mode & 0o777).toBe(0o600);
  }

  it('obtains a certificate for the hosts, stores it, and a new manager reuses it without the CA', async () => {
    const dir = makeDir({});
    const first = await manager({}, { dir }).ensure(AbortSignal.timeout(15_000));
    await expectIssuedByPebble(first);
    expect(first.certFile).toBe(join(dir, '.hendrix', 'tls', 'web.acme.crt'));
    expect(first.keyFile).toBe(join(dir, '.hendrix', 'tls', 'web.acme.key'));

    // a missing directoryCa fails any order at once: only the stored files can answer
    const from = logs.length;
    const reused = await manager({ directoryCa: 'missing-ca.pem' }, { dir }).ensure(AbortSignal.timeout(5_000));
    expect(reused).toEqual(first);
    expect(logs.slice(from).map((l) => l['msg'])).toEqual(['stored certificate used']);
  });

  it('obtains a new certificate when the stored one is within renewBefore, or for other hosts', async () => {
    const dir = makeDir({});
    const first = await manager({}, { dir }).ensure(AbortSignal.timeout(15_000));
    const renewed = await manager({ renewBefore: 10 * YEAR }, { dir }).ensure(AbortSignal.timeout(15_000));
    expect(chainOf(renewed.cert)[0]?.serialNumber).not.toBe(chainOf(first.cert)[0]?.serialNumber);
    await expectIssuedByPebble(renewed);

    const other = await manager({ hosts: ['localhost'] }, { dir }).ensure(AbortSignal.timeout(15_000));
    expect(chainOf(other.cert)[0]?.subjectAltName).toBe('DNS:localhost');
  });

  it('renews in the background when the certificate comes within renewBefore', async () => {
    let offset = 0;
    const acme = manager({ checkInterval: 50 }, { now: () => Date.now() + offset });
    const first = await acme.ensure(AbortSignal.timeout(15_000));
    const renewed = new Promise<PemPair>((resolve) => acme.startRenewal(resolve));
    try {
      await new Promise((resolve) => setTimeout(resolve, 200)); // a few checks with nothing to do
      expect(await readFile(first.certFile, 'utf8')).toBe(first.cert);
      offset = 5 * YEAR - 10 * 86_400_000; // pebble issues for five years; renewBefore is 30 days
      const pair = await renewed;
      expect(chainOf(pair.cert)[0]?.serialNumber).not.toBe(chainOf(first.cert)[0]?.serialNumber);
      expect(await readFile(pair.certFile, 'utf8')).toBe(pair.cert);
    } finally {
      acme.stop();
    }
  });

  it('logs a failed renewal, keeps the old certificate and retries at the next check', async () => {
    const dir = makeDir({});
    const challenges = new AcmeChallenges();
    const first = await manager({}, { dir, challenges }).ensure(AbortSignal.timeout(15_000));
    // the same files, seen by a manager that wants a certificate valid for ten more years
    const stale = manager({ checkInterval: 100, renewBefore: 10 * YEAR }, { dir, challenges });
    answering = undefined; // the CA's requests now get 418
    const from = logs.length;
    let renewedPair: PemPair | undefined;
    stale.startRenewal((pair) => (renewedPair = pair));
    try {
      await expect.poll(() => logs.slice(from).find((l) => l['msg'] === 'certificate renewal failed'), { timeout: 10_000 }).toBeDefined();
      const failure = logs.slice(from).find((l) => l['msg'] === 'certificate renewal failed') as { code: string; err: { message: string } };
      expect(failure.code).toBe('HX_ERR_TLS_ACME');
      expect(failure.err.message).toMatch(/http-01 challenge for (localhost|127\.0\.0\.1) failed: .*418/);
      expect(renewedPair).toBeUndefined();
      expect(await readFile(first.certFile, 'utf8')).toBe(first.cert);

      answering = challenges;
      await expect.poll(() => renewedPair, { timeout: 10_000 }).toBeDefined();
      expect(chainOf((renewedPair as PemPair).cert)[0]?.serialNumber).not.toBe(chainOf(first.cert)[0]?.serialNumber);
    } finally {
      stale.stop();
    }
  });

  it('fails with HX_ERR_TLS_ACME carrying pebble\'s problem when nothing answers the challenge', async () => {
    await close(responder);
    try {
      const error = await manager().ensure(AbortSignal.timeout(15_000)).catch((e: unknown) => e);
      expect(isHendrixError(error) && error.code).toBe('HX_ERR_TLS_ACME');
      const e = error as HendrixError;
      expect(e.path).toEqual(['services', 'web', 'acme']);
      expect(e.service).toBe('web');
      expect(e.message).toMatch(/^the http-01 challenge for (localhost|127\.0\.0\.1) failed: urn:ietf:params:acme:error:connection: .*refused/);
    } finally {
      responder = await startResponder(() => answering, httpPort);
    }
  });

  it('stops an ensure in progress when its signal aborts', async () => {
    const controller = new AbortController();
    const pending = manager().ensure(controller.signal);
    setTimeout(() => controller.abort(new Error('stopped by test')), 5);
    const started = Date.now();
    await expect(pending).rejects.toThrow('stopped by test');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
