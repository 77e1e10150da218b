import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running Pebble (Let's Encrypt's ACME test server) on loopback. */
export interface Pebble {
  /** The ACME directory URL: `https://127.0.0.1:<port>/dir`. */
  readonly directory: string;
  /** The CA (PEM file) that signed Pebble's own HTTPS certificate: pass it as `directoryCa`. */
  readonly directoryCaFile: string;
  /** The root (PEM) that Pebble's issued certificates chain to; new on every Pebble start. */
  root(): Promise<string>;
  /** What Pebble printed so far, for failure messages. */
  output(): string;
  /** Kills Pebble and removes its files. */
  stop(): Promise<void>;
}

/** How to start Pebble. */
export interface PebbleOptions {
  /** The port Pebble connects to for http-01 validations: where the test's responder listens. */
  httpPort: number;
  /** Extra environment, e.g. `{ PEBBLE_AUTHZREUSE: '50' }` to let orders reuse valid authorizations. */
  env?: Record<string, string>;
}

/** A loopback port nothing listens on right now (bound, read, released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * Starts Debian's `pebble` with a fresh test CA made by `openssl` (the package ships no test
 * certificates), on free loopback ports, validating instantly (PEBBLE_VA_NOSLEEP), never
 * rejecting nonces and never reusing authorizations; resolves once the directory answers.
 */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'hendrix-pebble-'));
  try {
    const ca = await makeCertificates(dir);
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(dir, ca, options);
      } catch (err) {
        // another process may take a port between freePort() and pebble's bind
        if (attempt === 3 || !String((err as Error).message).includes('address already in use')) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** The CA and Pebble's HTTPS certificate for 127.0.0.1 and localhost; returns the CA file. */
async function makeCertificates(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const f = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=hendrix test pebble ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', '-new', ...ec, '-keyout', f('key.pem'), '-out', f('req.csr'), '-subj', '/CN=localhost']);
  await writeFile(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', f('req.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-days', '2', '-extfile', f('ext.cnf'), '-out', f('cert.pem')]);
  return { caFile: f('ca.pem'), certFile: f('cert.pem'), keyFile: f('key.pem') };
}

async function launch(dir: string, files: { caFile: string; certFile: string; keyFile: string }, options: PebbleOptions): Promise<Pebble> {
  const [port, managementPort] = [await freePort(), await freePort()];
  const configFile = join(dir, 'pebble-config.json');
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: files.certFile,
      privateKey: files.keyFile,
      httpPort: options.httpPort,
      tlsPort: await freePort(),
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
    },
  };
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const child = spawn('pebble', ['-config', configFile, '-strict=false'], {
    // no reuse of valid authorizations (pebble's default: half of the time), so every order has a challenge
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let spawnFailed = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      spawnFailed = true;
      output += `\n${err.message}`;
      resolve();
    });
  });

  const ca = await readFile(files.caFile, 'utf8');
  const directory = `https://127.0.0.1:${port}/dir`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (spawnFailed || child.exitCode !== null || child.signalCode !== null) throw new Error(`pebble exited before answering:\n${output}`);
    try {
      await get(directory, ca);
      break;
    } catch {
      if (Date.now() > deadline) {
        await kill(child, exited);
        throw new Error(`pebble did not answer at ${directory} within 10 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    directory,
    directoryCaFile: files.caFile,
    root: () => get(`https://127.0.0.1:${managementPort}/roots/0`, ca),
    output: () => output,
    stop: () =>
      (stopped ??= (async () => {
        await kill(child, exited);
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
}

/** GETs `url` over HTTPS trusting only `ca`; rejects unless 200. */
function get(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 2_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode} ${body}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
