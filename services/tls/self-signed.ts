import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { generate } from 'selfsigned';
import { HendrixError, type SourceLocation } from '../../src/errors/hendrix-error.js';
import type { PemPair } from './pem-pair.js';

/** What `ensureSelfSigned()` needs: the names, where to keep the files, and who to tell. */
export interface SelfSignedOptions {
  /** Names besides localhost, 127.0.0.1 and ::1, which are always included. */
  hosts: readonly string[];
  /** The absolute folder the certificate is kept in; created when missing. */
  stateDir: string;
  /** The service name: the files are `<stateDir>/<name>.self-signed.crt` and `.key`. */
  name: string;
  /** The service's logger. */
  log: Logger;
  /** The service an error is about. */
  service: string;
  /** Where `selfSigned` is written in the manifest, for errors. */
  location?: SourceLocation | undefined;
  /** The clock; tests move it. */
  now?: () => Date;
}

const ALWAYS = ['localhost', '127.0.0.1', '::1'] as const;
const DAY = 86_400_000;
/** A certificate expiring sooner than this is replaced at start rather than failing mid-session. */
const MIN_REMAINING = 7 * DAY;
const VALIDITY = 365 * DAY;
/** Start a minute in the past so a client whose clock lags a little still accepts it. */
const SKEW = 60_000;

/**
 * Returns a development certificate for localhost, 127.0.0.1, ::1 and `hosts`: the one in
 * `stateDir` when it still fits (every name, a week of validity left, its key), else a new
 * self-signed one (EC P-256, SHA-256, one year) written there.
 */
export async function ensureSelfSigned(options: SelfSignedOptions): Promise<PemPair> {
  const now = options.now?.() ?? new Date();
  const hosts = wantedHosts(options.hosts);
  const certFile = join(options.stateDir, `${options.name}.self-signed.crt`);
  const keyFile = join(options.stateDir, `${options.name}.self-signed.key`);

  const existing = await readReusable(certFile, keyFile, hosts, now, options.log);
  if (existing) return existing;

  const pair = await createCertificate(hosts, now, options);
  await store(options, [
    [keyFile, pair.key, 0o600],
    [certFile, pair.cert, 0o644],
  ]);
  options.log.warn({ file: certFile, hosts }, 'created a self-signed development certificate: browsers will warn, never use it in production');
  return { ...pair, certFile, keyFile };
}

/** The names asked for first (the first becomes the CN), then the loopback ones; no duplicates. */
function wantedHosts(extra: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const host of [...extra, ...ALWAYS]) {
    const key = host.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(host);
  }
  return out;
}

/** The stored pair when it can be used as is; undefined (never an error) when it must be replaced. */
async function readReusable(certFile: string, keyFile: string, hosts: readonly string[], now: Date, log: Logger): Promise<PemPair | undefined> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  } catch {
    return undefined;
  }
  try {
    const x509 = new X509Certificate(cert);
    const validFrom = new Date(x509.validFrom);
    const validTo = new Date(x509.validTo);
    const why =
      validFrom > now ? 'not yet valid'
      : validTo.getTime() - now.getTime() < MIN_REMAINING ? 'expires soon'
      : !hosts.every((h) => covers(x509, h)) ? 'names changed'
      : !x509.checkPrivateKey(createPrivateKey(key)) ? 'key does not match'
      : undefined;
    if (why) {
      log.debug({ file: certFile, reason: why }, 'replacing development certificate');
      return undefined;
    }
    log.info({ file: certFile, hosts, validTo: validTo.toISOString() }, 'reusing development certificate');
    return { cert, key, certFile, keyFile };
  } catch (err) {
    log.debug({ file: certFile, err }, 'replacing unreadable development certificate');
    return undefined;
  }
}

/** Whether the certificate's SAN lists `host`: IPs compared as addresses, names exactly. */
function covers(x509: X509Certificate, host: string): boolean {
  if (isIP(host)) return x509.checkIP(host) !== undefined;
  // checkHost() would let a wildcard entry cover a name; a wanted wildcard must be listed itself
  const names = (x509.subjectAltName ?? '').split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase());
  return names.includes(host.toLowerCase());
}

async function createCertificate(hosts: readonly string[], now: Date, options: SelfSignedOptions): Promise<{ cert: string; key: string }> {
  const notBefore = new Date(now.getTime() - SKEW);
  const commonName = hosts.find((h) => !isIP(h)) ?? 'localhost';
  try {
    const pems = await generate([{ name: 'commonName', value: commonName }], {
      keyType: 'ec',
      curve: 'P-256',
      // selfsigned signs with SHA-1 unless told otherwise
      algorithm: 'sha256',
      notBeforeDate: notBefore,
      notAfterDate: new Date(notBefore.getTime() + VALIDITY),
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: hosts.map((h) => (isIP(h) ? { type: 7 as const, ip: h } : { type: 2 as const, value: h })) },
      ],
    });
    return { cert: pems.cert, key: pems.private };
  } catch (cause) {
    throw failure(options, `cannot create the development certificate: ${errorText(cause)}`, cause);
  }
}

/** Writes each file beside its final name, then renames it, so a crash never leaves half a file. */
async function store(options: SelfSignedOptions, files: readonly (readonly [path: string, text: string, mode: number])[]): Promise<void> {
  const temps: string[] = [];
  try {
    await mkdir(options.stateDir, { recursive: true });
    // the key first: a crash between the renames leaves a mismatched pair, which the next start replaces
    for (const [path, text, mode] of files) {
      const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      temps.push(temp);
      await writeFile(temp, text, { mode, flag: 'wx' });
      await rename(temp, path);
    }
  } catch (cause) {
    await Promise.all(temps.map((t) => rm(t, { force: true }).catch(() => undefined)));
    throw failure(options, `cannot store the development certificate in ${options.stateDir}: ${errorText(cause)}`, cause);
  }
}

function failure(options: SelfSignedOptions, message: string, cause: unknown): HendrixError {
  return new HendrixError('HX_ERR_TLS_SELF_SIGNED', {
    service: options.service,
    path: ['services', options.service, 'selfSigned'],
    location: options.location,
    message,
    cause,
  });
}

function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.message : String(err);
}
