import { dirname } from 'node:path';
import { HendrixError, type PathSegment } from '../../src/errors/hendrix-error.js';
import type { CommonServiceConfig, ProvisionContext } from '../../src/kinds/contract.js';
import { configuredSources, loadCert, parseChain, readPemFile, validityProblem, type CertErrorContext, type CertSource } from './certs.js';
import type { TlsConfig } from './schema.js';

/** The provision context of a `tls` service. */
type TlsProvisionContext = ProvisionContext<TlsConfig & CommonServiceConfig>;

/**
 * The plan-time checks of a `tls` service, the same start runs (certs.ts): every certificate,
 * key and CA file it names exists, is PEM, and each key matches its certificate; a certificate
 * outside its validity window is a warning. `selfSigned` and `acme` certificates are made at
 * start, so they need nothing here (but `acme.directoryCa`, a file the manifest names, does).
 */
export async function provisionTls(ctx: TlsProvisionContext): Promise<void> {
  const { config } = ctx;
  const where: CertErrorContext = { service: ctx.name, locate: (path) => ctx.locate(path) };
  const folders = new Set<string>();
  const pairs = configuredSources(config, ctx.baseDir).map(async (source) => {
    const written = writtenPair(config, source);
    const [certFile, keyFile] = await Promise.all([
      ctx.need(written.cert, 'cert', [...source.path, 'cert'], { code: 'HX_ERR_TLS_FILE' }),
      ctx.need(written.key, 'key', [...source.path, 'key'], { code: 'HX_ERR_TLS_FILE' }),
    ]);
    // hot reload watches the folders of the files (renewals replace files by renaming)
    if (config.watch) {
      for (const [file, role] of [[certFile, 'cert'], [keyFile, 'key']] as const) {
        if (file === undefined || folders.has(dirname(file))) continue;
        folders.add(dirname(file));
        ctx.file(dirname(file), role, [...source.path, role]);
      }
    }
    await ctx.check(async () => {
      if (certFile !== undefined && keyFile !== undefined) {
        const { leaf } = await loadCert(source, where);
        const problem = validityProblem(leaf);
        if (problem !== undefined) {
          ctx.warn(
            new HendrixError('HX_ERR_TLS_CERT_EXPIRED', {
              path: [...source.path, 'cert'],
              message: `the certificate ${written.cert} ${problem} (valid ${leaf.validFrom} to ${leaf.validTo}): clients will refuse it`,
            }),
          );
        }
      } else if (certFile !== undefined) {
        // the key is missing (reported): the certificate alone can still be checked
        parseChain(await readPemFile(certFile, 'certificate', where, [...source.path, 'cert']), certFile, where, [...source.path, 'cert']);
      }
    });
  });
  await Promise.all([
    ...pairs,
    config.clientAuth === undefined ? undefined : checkCa(ctx, where, config.clientAuth.ca, ['clientAuth', 'ca'], 'client CA'),
    config.acme?.directoryCa === undefined ? undefined : checkCa(ctx, where, config.acme.directoryCa, ['acme', 'directoryCa'], 'ACME directory CA'),
  ]);
}

/** The certificate and key of a source as the manifest wrote them (relative paths read better). */
function writtenPair(config: TlsConfig, source: CertSource): { cert: string; key: string } {
  const index = source.path[1];
  const entry = typeof index === 'number' ? config.certs?.[index] : undefined;
  return { cert: entry?.cert ?? config.cert ?? source.certFile, key: entry?.key ?? config.key ?? source.keyFile };
}

/** Checks a CA file: it exists, is readable and holds PEM certificates. */
async function checkCa(ctx: TlsProvisionContext, where: CertErrorContext, file: string, path: readonly PathSegment[], what: string): Promise<void> {
  const abs = await ctx.need(file, 'ca', path, { code: 'HX_ERR_TLS_FILE' });
  if (abs === undefined) return;
  await ctx.check(async () => void parseChain(await readPemFile(abs, what, where, path), abs, where, path));
}

