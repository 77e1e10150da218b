import { resolve } from 'node:path';
import type { ServiceContext } from '../../src/kinds/contract.js';
import type { AcmeChallenges } from './acme-challenges.js';
import type { AcmeManager } from './acme.js';
import type { TlsConfig } from './schema.js';
import { TlsCertificates } from './tls-certificates.js';
import { sharedOptions } from './tls-server.js';

/** The certificates of a config, read and checked, with the ACME manager that keeps them (`acme`). */
export interface PreparedCertificates {
  readonly certificates: TlsCertificates;
  readonly acme: AcmeManager | undefined;
}

/** What preparing the certificates of a config needs. */
export interface PrepareOptions {
  readonly ctx: ServiceContext<TlsConfig>;
  /** The config to prepare for: the service's at start, the next one in a reload. */
  readonly config: TlsConfig;
  /** Where the ACME manager publishes http-01 answers (given when `config.acme` is). */
  readonly challenges: AcmeChallenges | undefined;
  readonly signal: AbortSignal;
}

/**
 * Reads and checks every certificate, key and CA a config names — or creates the development
 * certificate, or obtains (or reuses) the ACME one — without touching a running server: the
 * part of a start, and of a reload, that can fail. Problems are HendrixErrors at the manifest
 * path of the file (HX_ERR_TLS_FILE, _PEM, _KEY_MISMATCH, _SELF_SIGNED, _ACME).
 */
export async function prepareCertificates(options: PrepareOptions): Promise<PreparedCertificates> {
  const { ctx, config, challenges, signal } = options;
  const stateDir = resolve(ctx.baseDir, config.stateDir);
  const certificates = new TlsCertificates({ ctx, config, stateDir, shared: sharedOptions(config) });
  await certificates.loadClientCa();
  if (config.acme === undefined) {
    await certificates.load();
    return { certificates, acme: undefined };
  }
  if (challenges === undefined) throw new Error('acme needs the challenges its listeners answer');
  const { AcmeManager } = await import('./acme.js');
  const acme = new AcmeManager({ config: config.acme, baseDir: ctx.baseDir, stateDir, name: ctx.name, challenges, log: ctx.log, location: ctx.locate(['acme']) });
  await certificates.useObtained(await acme.ensure(signal));
  return { certificates, acme };
}
