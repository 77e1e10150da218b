import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HendrixError, type PathSegment, type SourceLocation } from '../../src/errors/hendrix-error.js';
import type { PemPair } from './pem-pair.js';

/** Where certificate problems are reported: the service and how to locate a config path. */
export interface CertErrorContext {
  readonly service: string;
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
}

/** A certificate/key pair named in the config, with the config path it came from. */
export interface CertSource {
  /** Absolute path of the certificate file. */
  readonly certFile: string;
  /** Absolute path of the key file. */
  readonly keyFile: string;
  /** The SNI names configured for it; undefined: the names in the certificate. */
  readonly hosts?: readonly string[] | undefined;
  /** Whether it answers clients with no or an unknown server name. */
  readonly isDefault: boolean;
  /** The config path of the entry (`[]` for top-level cert/key, `['certs', 2]`). */
  readonly path: readonly PathSegment[];
}

/** A certificate that was read and checked: the PEM pair, its parsed leaf and its names. */
export interface LoadedCert {
  readonly source: CertSource;
  readonly pair: PemPair;
  readonly leaf: X509Certificate;
  /** The names it answers (lowercase): configured hosts or the certificate's own names. */
  readonly hosts: readonly string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function errorAt(code: 'HX_ERR_TLS_FILE' | 'HX_ERR_TLS_PEM' | 'HX_ERR_TLS_KEY_MISMATCH', where: CertErrorContext, path: readonly PathSegment[], message: string, cause?: unknown): HendrixError {
  return new HendrixError(code, {
    service: where.service,
    path: ['services', where.service, ...path],
    location: where.locate(path),
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Reads one PEM file; a missing or unreadable file is HX_ERR_TLS_FILE at the config path. */
export async function readPemFile(file: string, what: string, where: CertErrorContext, path: readonly PathSegment[]): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (error as Error).message;
    throw errorAt('HX_ERR_TLS_FILE', where, path, `cannot read the ${what} ${file}: ${code} (${reason})`, error);
  }
}

/** Parses every certificate of a PEM chain (leaf first); HX_ERR_TLS_PEM when there is none or one is broken. */
export function parseChain(pem: string, file: string, where: CertErrorContext, path: readonly PathSegment[]): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw errorAt('HX_ERR_TLS_PEM', where, path, `${file} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw errorAt('HX_ERR_TLS_PEM', where, path, `certificate ${index + 1} in ${file} cannot be parsed: ${(error as Error).message}`, error);
    }
  });
}

function parseKey(pem: string, file: string, where: CertErrorContext, path: readonly PathSegment[]): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    const hint = /-----BEGIN CERTIFICATE-----/.test(pem) ? ' (it holds a certificate: are cert and key swapped?)' : '';
    throw errorAt('HX_ERR_TLS_PEM', where, path, `${file} holds no PEM private key${hint}`);
  }
  try {
    return createPrivateKey(pem);
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(pem) ? ' (it is encrypted: give the key without a passphrase)' : '';
    throw errorAt('HX_ERR_TLS_PEM', where, path, `the private key in ${file} cannot be read${encrypted}: ${(error as Error).message}`, error);
  }
}

/** The DNS names and IP addresses a certificate is for (lowercase), from SAN or else the CN. */
export function certificateNames(cert: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(entry.trim());
    if (m?.[2]) names.push(m[2].toLowerCase());
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn) names.push(cn.toLowerCase());
  }
  return names;
}

/**
 * Checks a PEM pair read from `source`: the chain parses and the key matches its leaf
 * (HX_ERR_TLS_PEM, HX_ERR_TLS_KEY_MISMATCH otherwise).
 */
export function checkPair(pair: PemPair, source: CertSource, where: CertErrorContext): LoadedCert {
  const certPath = [...source.path, 'cert'];
  const keyPath = [...source.path, 'key'];
  const chain = parseChain(pair.cert, pair.certFile, where, certPath);
  const leaf = chain[0] as X509Certificate;
  const key = parseKey(pair.key, pair.keyFile, where, keyPath);
  if (!leaf.checkPrivateKey(key)) {
    throw errorAt('HX_ERR_TLS_KEY_MISMATCH', where, keyPath, `the key ${pair.keyFile} does not match the certificate ${pair.certFile} (${leaf.subject.replace(/\n/g, ', ')})`);
  }
  const hosts = (source.hosts ?? certificateNames(leaf)).map((h) => h.toLowerCase());
  return { source, pair, leaf, hosts };
}

/** Reads and checks the pair of `source`. */
export async function loadCert(source: CertSource, where: CertErrorContext): Promise<LoadedCert> {
  const [cert, key] = await Promise.all([
    readPemFile(source.certFile, 'certificate', where, [...source.path, 'cert']),
    readPemFile(source.keyFile, 'private key', where, [...source.path, 'key']),
  ]);
  return checkPair({ cert, key, certFile: source.certFile, keyFile: source.keyFile }, source, where);
}

/** Why a certificate cannot be used now, or undefined when it is valid at `now`. */
export function validityProblem(leaf: X509Certificate, now = Date.now()): string | undefined {
  const from = Date.parse(leaf.validFrom);
  const to = Date.parse(leaf.validTo);
  if (now > to) return `expired on ${new Date(to).toISOString()}`;
  if (now < from) return `not valid before ${new Date(from).toISOString()}`;
  return undefined;
}

/** The certificate sources a config names (`cert`/`key` or `certs`), resolved against `baseDir`. */
export function configuredSources(
  config: { cert?: string | undefined; key?: string | undefined; certs?: readonly { cert: string; key: string; hosts?: readonly string[] | undefined; default?: boolean | undefined }[] | undefined },
  baseDir: string,
): CertSource[] {
  if (config.cert !== undefined && config.key !== undefined) {
    return [{ certFile: resolve(baseDir, config.cert), keyFile: resolve(baseDir, config.key), isDefault: true, path: [] }];
  }
  const entries = config.certs ?? [];
  const explicit = entries.findIndex((e) => e.default === true);
  const defaultIndex = explicit >= 0 ? explicit : 0;
  return entries.map((entry, index) => ({
    certFile: resolve(baseDir, entry.cert),
    keyFile: resolve(baseDir, entry.key),
    hosts: entry.hosts,
    isDefault: index === defaultIndex,
    path: ['certs', index],
  }));
}
