import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import type { PemPair } from '../../services/tls/pem-pair.js';

const run = promisify(execFile);

/** A certificate made by this factory: PEM text and the files it was written to. */
export type TestCert = PemPair;

/** What a leaf certificate is for and when it is valid. */
export interface LeafOptions {
  /** DNS names and IP addresses, all put in the subjectAltName; the first is the CN. */
  hosts: readonly string[];
  /** The subject CN and the stem of the file names; default: the first host. */
  name?: string;
  /** Default: an hour ago, so a little clock skew never matters. */
  notBefore?: Date;
  /** Default: 30 days after now; a past date makes an expired certificate. */
  notAfter?: Date;
  /** Default `ec` (P-256): an RSA key takes far longer to generate. */
  keyType?: 'rsa' | 'ec';
  /** A client certificate for mutual TLS (extendedKeyUsage clientAuth) instead of a server one. */
  clientAuth?: boolean;
}

/**
 * Creates a temporary folder for certificates and removes it after the test file finishes.
 * Call it in a `describe` body or at the top of a test file.
 */
export function useCertDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hendrix-certs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Creates a CA certificate (CA:TRUE, keyCertSign, SHA-256, EC P-256) in `dir`: self-signed,
 * or an intermediate when `issuer` is given. Valid for ten years.
 */
export async function createTestCa(dir: string, name = 'Hendrix Test CA', issuer?: TestCert): Promise<TestCert> {
  const stem = join(dir, fileStem(name));
  const certFile = `${stem}.crt`;
  const keyFile = `${stem}.key`;
  if (issuer) {
    await signWithCa(dir, issuer, { name, keyFile, certFile, keyArgs: ecKeyArgs, extensions: CA_EXTENSIONS, days: 3650 });
  } else {
    await withWorkDir(dir, async (work, config) => {
      await writeFile(config, configText(CA_EXTENSIONS));
      await openssl(['req', '-x509', '-new', ...ecKeyArgs, '-noenc', '-keyout', keyFile, '-out', certFile, '-days', '3650', '-sha256', '-subj', subject(name), '-config', config, '-extensions', 'exts'], work);
    });
  }
  return readPair(certFile, keyFile);
}

/**
 * Creates a leaf certificate signed by `ca`, for server or (with `clientAuth`) client use. Any
 * validity window can be asked for, so expired and not-yet-valid certificates are possible.
 * A certificate whose key does not match is simply `{ ...a, key: b.key, keyFile: b.keyFile }`.
 */
export async function createLeaf(dir: string, ca: TestCert, options: LeafOptions): Promise<TestCert> {
  const first = options.hosts[0];
  if (first === undefined) throw new Error('createLeaf needs at least one host');
  const name = options.name ?? first;
  const stem = join(dir, fileStem(name));
  const certFile = `${stem}.crt`;
  const keyFile = `${stem}.key`;
  const rsa = options.keyType === 'rsa';
  const san = options.hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(', ');
  const extensions = [
    'basicConstraints = critical, CA:FALSE',
    // RSA key exchange needs keyEncipherment; an EC key only ever signs
    `keyUsage = critical, digitalSignature${rsa ? ', keyEncipherment' : ''}`,
    `extendedKeyUsage = ${options.clientAuth ? 'clientAuth' : 'serverAuth'}`,
    `subjectAltName = ${san}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
  ];
  await signWithCa(dir, ca, {
    name,
    keyFile,
    certFile,
    keyArgs: rsa ? ['-newkey', 'rsa:2048'] : ecKeyArgs,
    extensions,
    notBefore: options.notBefore ?? new Date(Date.now() - 3_600_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * 86_400_000),
  });
  return readPair(certFile, keyFile);
}

const ecKeyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

const CA_EXTENSIONS = [
  'basicConstraints = critical, CA:TRUE',
  'keyUsage = critical, keyCertSign, cRLSign',
  'subjectKeyIdentifier = hash',
  'authorityKeyIdentifier = keyid',
];

interface SignRequest {
  name: string;
  keyFile: string;
  certFile: string;
  keyArgs: readonly string[];
  extensions: readonly string[];
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Makes a key and a CSR, then signs it with `openssl ca`: OpenSSL 3.0's `x509 -req` cannot set
 * the start date, `ca -startdate/-enddate` can (3.4's `-not_before` would do, Debian 12 has 3.0).
 */
async function signWithCa(dir: string, ca: TestCert, req: SignRequest): Promise<void> {
  await withWorkDir(dir, async (work, config) => {
    await writeFile(config, configText(req.extensions));
    await writeFile(join(work, 'index.txt'), '');
    const csr = join(work, 'request.csr');
    await openssl(['req', '-new', ...req.keyArgs, '-noenc', '-keyout', req.keyFile, '-out', csr, '-subj', subject(req.name), '-config', config], work);
    const validity = req.days !== undefined
      ? ['-days', String(req.days)]
      : ['-startdate', asn1Time(req.notBefore ?? new Date()), '-enddate', asn1Time(req.notAfter ?? new Date())];
    await openssl(
      ['ca', '-batch', '-config', config, '-cert', ca.certFile, '-keyfile', ca.keyFile, '-in', csr, '-out', req.certFile, '-md', 'sha256', '-rand_serial', '-notext', '-outdir', work, '-extensions', 'exts', ...validity],
      work,
    );
  });
}

/** Runs `fn` in a scratch folder inside `dir` (the CA database, the CSR) and removes it after. */
async function withWorkDir(dir: string, fn: (work: string, config: string) => Promise<void>): Promise<void> {
  const work = await mkdtemp(join(dir, '.openssl-'));
  try {
    await fn(work, join(work, 'openssl.cnf'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A config of its own, so neither the system's openssl.cnf nor OPENSSL_CONF changes the certificates. */
function configText(extensions: readonly string[]): string {
  return [
    '[ req ]',
    'distinguished_name = dn',
    'prompt = no',
    '[ dn ]',
    'CN = unused',
    '[ ca ]',
    'default_ca = test_ca',
    '[ test_ca ]',
    'database = index.txt',
    'serial = serial.txt',
    'new_certs_dir = .',
    'policy = policy_any',
    'unique_subject = no',
    'email_in_dn = no',
    '[ policy_any ]',
    'commonName = supplied',
    '[ exts ]',
    ...extensions,
    '',
  ].join('\n');
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd, env: { ...process.env, OPENSSL_CONF: join(cwd, 'openssl.cnf') } });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

async function readPair(certFile: string, keyFile: string): Promise<TestCert> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key, certFile, keyFile };
}

/** A file-safe stem with a random suffix, so equal names never overwrite each other. */
function fileStem(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'cert';
  return `${slug}-${randomBytes(4).toString('hex')}`;
}

function subject(cn: string): string {
  return `/CN=${cn.replace(/[/\\]/g, '\\$&')}`;
}

/** YYYYMMDDHHMMSSZ in UTC, which `openssl ca` turns into UTCTime or GeneralizedTime as X.509 wants. */
function asn1Time(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:T]/g, '');
}
