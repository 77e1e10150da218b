import type { SecureContext, SecureContextOptions } from 'node:tls';
import { resolve } from 'node:path';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import type { ServiceContext } from '../../src/kinds/contract.js';
import { checkPair, configuredSources, loadCert, parseChain, readPemFile, validityProblem, type CertErrorContext, type CertSource, type LoadedCert } from './certs.js';
import type { PemPair } from './pem-pair.js';
import type { TlsConfig } from './schema.js';
import { SniTable } from './sni.js';
import { FileWatcher } from './watch.js';

/** What the certificate store of a listener is built from. */
export interface TlsCertificatesOptions {
  readonly ctx: ServiceContext<TlsConfig>;
  /** The config the certificates come from: the service's current one (a reload brings the next). */
  readonly config: TlsConfig;
  /** The absolute state folder (development and ACME certificates). */
  readonly stateDir: string;
  /** Options every secure context shares (versions, ciphers). */
  readonly shared: SecureContextOptions;
}

/** A server whose default context can be replaced in place. */
export interface SecureServer {
  setSecureContext(options: SecureContextOptions): void;
}

/**
 * The certificates of one TLS listener: read and checked at start (configured files, a
 * development certificate, or an ACME one), picked by server name, and swapped in place when
 * their files change — a broken new pair is refused and the old one stays.
 */
export class TlsCertificates {
  readonly #ctx: ServiceContext<TlsConfig>;
  readonly #config: TlsConfig;
  readonly #stateDir: string;
  readonly #where: CertErrorContext;
  #shared: SecureContextOptions;
  #sources: CertSource[] = [];
  #table: SniTable | undefined;
  #server: SecureServer | undefined;
  #watcher: FileWatcher | undefined;
  #reloading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: TlsCertificatesOptions) {
    this.#ctx = options.ctx;
    this.#config = options.config;
    this.#stateDir = options.stateDir;
    this.#shared = options.shared;
    this.#where = { service: options.ctx.name, locate: (path) => options.ctx.locate(path) };
  }

  /** How many certificates the listener has. */
  get size(): number {
    return this.#table?.size ?? 0;
  }

  /** The current table (after load()). */
  table(): SniTable {
    if (this.#table === undefined) throw new Error('certificates are not loaded');
    return this.#table;
  }

  /**
   * The SNICallback of the server: reads the current table, so a reload applies to new
   * handshakes; the default certificate is the server's own context (no context given).
   */
  readonly sniCallback = (servername: string, done: (error: Error | null, context?: SecureContext) => void): void => {
    const table = this.#table;
    if (table === undefined) done(new Error('no certificates'));
    else done(null, table.lookup(servername));
  };

  /** Reads the CA of `clientAuth` (mutual TLS) into the shared options of every context. */
  async loadClientCa(): Promise<void> {
    const clientAuth = this.#config.clientAuth;
    if (clientAuth === undefined) return;
    const file = resolve(this.#ctx.baseDir, clientAuth.ca);
    const ca = await readPemFile(file, 'client CA', this.#where, ['clientAuth', 'ca']);
    parseChain(ca, file, this.#where, ['clientAuth', 'ca']);
    this.#shared = { ...this.#shared, ca };
  }

  /** Loads the configured certificates, or the development certificate (`selfSigned`). */
  async load(): Promise<void> {
    const { name, log } = this.#ctx;
    const config = this.#config;
    if (config.selfSigned !== false) {
      const { ensureSelfSigned } = await import('./self-signed.js');
      const pair = await ensureSelfSigned({ hosts: config.selfSigned.hosts, stateDir: this.#stateDir, name, log, service: name, location: this.#ctx.locate(['selfSigned']) });
      await this.useObtained(pair, ['selfSigned']);
      return;
    }
    this.#sources = configuredSources(config, this.#ctx.baseDir);
    this.#install(await Promise.all(this.#sources.map((source) => loadCert(source, this.#where))));
  }

  /** Uses a pair created or obtained by hendrix itself (development or ACME certificate). */
  async useObtained(pair: PemPair, path: readonly (string | number)[] = ['acme']): Promise<void> {
    const source: CertSource = { certFile: pair.certFile, keyFile: pair.keyFile, isDefault: true, path };
    this.#install([checkPair(pair, source, this.#where)]);
  }

  /** Remembers the server whose default context reloads replace (built with `table().defaultOptions`). */
  attach(server: SecureServer): void {
    this.#server = server;
  }

  /**
   * Puts these certificates in place of another store's on a running server: its default
   * context for new handshakes (established connections keep theirs), and the reloads that
   * follow. Fresh contexts also mean fresh session-ticket keys: a client cannot resume a
   * session made under the old settings (a `clientAuth` just turned on must not be skipped).
   */
  activate(server: SecureServer): void {
    this.attach(server);
    server.setSecureContext(this.table().defaultOptions);
  }

  #install(certs: LoadedCert[]): void {
    for (const cert of certs) {
      const problem = validityProblem(cert.leaf);
      if (problem !== undefined) {
        const where = [...cert.source.path, 'cert'];
        this.#ctx.log.warn(
          { code: 'HX_ERR_TLS_CERT_EXPIRED', file: cert.pair.certFile, validFrom: cert.leaf.validFrom, validTo: cert.leaf.validTo, location: this.#ctx.locate(where) },
          `certificate ${problem}: clients will refuse it`,
        );
      }
    }
    if (this.#closed) return; // replaced by a reload meanwhile: the server is another store's now
    const table = new SniTable(certs, this.#shared);
    this.#table = table;
    this.#server?.setSecureContext(table.defaultOptions);
  }

  /** Watches the certificate, key and client CA files; a change reloads them all. */
  watch(): void {
    const files = this.#sources.flatMap((s) => [s.certFile, s.keyFile]);
    const clientAuth = this.#config.clientAuth;
    if (clientAuth !== undefined) files.push(resolve(this.#ctx.baseDir, clientAuth.ca));
    if (files.length === 0) return;
    this.#watcher = new FileWatcher(files, (changed) => void this.reload(changed), {
      onError: (error) => this.#ctx.log.warn({ err: error }, 'cannot watch certificate files'),
    });
  }

  /** Reads every configured file again and swaps them in; on any problem keeps the old ones. */
  reload(changed: readonly string[] = []): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reload(changed));
    return this.#reloading;
  }

  async #reload(changed: readonly string[]): Promise<void> {
    if (this.#sources.length === 0 || this.#closed) return;
    const log = this.#ctx.log;
    try {
      await this.loadClientCa();
      const certs = await Promise.all(this.#sources.map((source) => loadCert(source, this.#where)));
      if (this.#closed) return;
      this.#install(certs);
      log.info({ files: changed, certificates: certs.map((c) => ({ file: c.pair.certFile, validTo: c.leaf.validTo })) }, 'certificates reloaded');
    } catch (error) {
      const cause = error instanceof HendrixError ? error : undefined;
      const reason = error instanceof Error ? error.message : String(error);
      log.error(
        { code: 'HX_ERR_TLS_RELOAD', files: changed, reason, cause: cause?.code, location: cause?.location },
        `new certificate rejected, keeping the old one: ${reason}`,
      );
    }
  }

  /** Stops watching and lets go of the server: a file reload still running changes nothing. */
  close(): void {
    this.#closed = true;
    this.#server = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
