import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { LoadedCert } from './certs.js';

/**
 * The secure contexts of a listener, picked by the server name a client sends (SNI): exact
 * names first, then wildcards (`*.example.com` matches one label), then the default. A
 * reload builds a new table and swaps it in whole; handshakes in progress keep the old one.
 */
export class SniTable {
  readonly #exact = new Map<string, SecureContext>();
  readonly #wildcard = new Map<string, SecureContext>();
  readonly #default: SecureContext;
  /** The options the default context was built from (for `server.setSecureContext`). */
  readonly defaultOptions: SecureContextOptions;
  /** How many certificates the table holds. */
  readonly size: number;

  /**
   * Builds a context for each certificate with the listener's shared options (`ca` for
   * client certificates must be in every context, or Node silently fails to verify them).
   */
  constructor(certs: readonly LoadedCert[], shared: SecureContextOptions) {
    const fallback = certs.find((c) => c.source.isDefault) ?? certs[0];
    if (fallback === undefined) throw new Error('no certificate');
    this.size = certs.length;
    this.defaultOptions = { ...shared, cert: fallback.pair.cert, key: fallback.pair.key };
    let defaultContext: SecureContext | undefined;
    for (const cert of certs) {
      const context = createSecureContext({ ...shared, cert: cert.pair.cert, key: cert.pair.key });
      if (cert === fallback) defaultContext = context;
      for (const host of cert.hosts) {
        const name = host.toLowerCase();
        const table = name.startsWith('*.') ? this.#wildcard : this.#exact;
        const key = name.startsWith('*.') ? name.slice(2) : name;
        // the first certificate listing a name keeps it
        if (!table.has(key)) table.set(key, context);
      }
    }
    this.#default = defaultContext as SecureContext;
  }

  /** The context for a server name (the default when nothing matches). */
  match(servername: string | undefined): SecureContext {
    return this.lookup(servername) ?? this.#default;
  }

  /**
   * The context of a certificate listed for a server name, or undefined for the default one
   * (whether a name lists it or none matches): the SNI callback then leaves the handshake on
   * the server's own context, which `setSecureContext` keeps in step with the table — a
   * listener with one certificate handshakes exactly as without a callback.
   */
  lookup(servername: string | undefined): SecureContext | undefined {
    const found = this.#find(servername);
    return found === this.#default ? undefined : found;
  }

  #find(servername: string | undefined): SecureContext | undefined {
    if (!servername) return undefined;
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = this.#wildcard.get(name.slice(dot + 1));
      if (wildcard !== undefined) return wildcard;
    }
    return undefined;
  }
}
