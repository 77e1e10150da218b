import type { Server as HttpServer } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import type { ListenAddress } from '../../src/kinds/fields.js';
import type { ServiceContext } from '../../src/kinds/contract.js';
import type { AcmeChallenges } from './acme-challenges.js';
import type { AcmeManager } from './acme.js';
import { REPLACED_FIELDS } from './can-reload.js';
import type { TlsConnections } from './connections.js';
import { prepareCertificates, type PreparedCertificates } from './prepare.js';
import type { TlsConfig } from './schema.js';
import type { ServedApp } from './served-app.js';
import type { TlsCertificates } from './tls-certificates.js';
import { clientAuthOptions, hstsOf } from './tls-server.js';

/**
 * The running parts of a tls listener, filled in by its start and changed by its reloads. The
 * config is the one in effect: the service's at first, then what each reload brought.
 */
export interface TlsParts {
  config: TlsConfig;
  served?: ServedApp | undefined;
  server?: TlsServer | undefined;
  connections?: TlsConnections | undefined;
  certificates?: TlsCertificates | undefined;
  acme?: AcmeManager | undefined;
  /** The pending http-01 answers, while the config has `acme`. */
  challenges?: AcmeChallenges | undefined;
  redirect?: HttpServer | undefined;
  /** Redirect listeners a reload moved away from: closed, finishing their last requests. */
  readonly retired: Set<HttpServer>;
}

/** What a reload needs from its service besides the parts. */
export interface ReloadEnv {
  readonly ctx: ServiceContext<TlsConfig>;
  /** Binds a redirect listener on `address` (HX_ERR_LISTEN at `redirect.listen` when it cannot). */
  openRedirect(address: ListenAddress): Promise<HttpServer>;
  /** Starts the renewal checks of the ACME manager now in `parts`. */
  startRenewal(): void;
}

/** The top-level fields whose values differ between two configs. */
export function changedFields(before: TlsConfig, after: TlsConfig): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...keys].filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key])).sort();
}

/** Stops a redirect listener accepting; its requests in flight finish (it is closed for good at stop). */
export function retireRedirect(parts: TlsParts, server: HttpServer): void {
  parts.retired.add(server);
  server.once('close', () => parts.retired.delete(server));
  server.close(); // Node also closes its idle keep-alive connections: a redirected client does not stay
}

/**
 * Applies `next` to a running listener without closing a connection: first everything that
 * can fail — ACME answers, a redirect listener on a new address, every certificate, key and CA
 * read and checked (or obtained) — and only then the switch, which cannot fail: the server's
 * context for new handshakes (and the SNI table), mTLS settings, the HSTS header, the redirect
 * listener and status, the ACME manager, the file watch. Established connections keep the
 * handshake they made. On a rejection the listener runs on as before. Resolves with the
 * changed top-level fields.
 */
export async function reloadParts(parts: TlsParts, next: TlsConfig, env: ReloadEnv, signal: AbortSignal): Promise<string[]> {
  const { served, server, certificates } = parts;
  if (served === undefined || server === undefined || certificates === undefined) throw new Error('reload of a tls listener that is not running');
  const before = parts.config;
  const changed = changedFields(before, next);
  const fixed = changed.filter((field) => REPLACED_FIELDS.has(field));
  if (fixed.length > 0) throw new Error(`a tls listener cannot change ${fixed.join(', ')} in place: it is replaced`);

  const challengesBefore = parts.challenges;
  let redirect: HttpServer | undefined;
  let prepared: PreparedCertificates;
  try {
    // challenges are answered (on the served app and the redirect listener) before an order needs them
    if (next.acme !== undefined && parts.challenges === undefined) {
      const { AcmeChallenges } = await import('./acme-challenges.js');
      parts.challenges = new AcmeChallenges();
      served.setChallenges(parts.challenges);
    }
    if (next.redirect !== undefined && (parts.redirect === undefined || !sameAddress(before.redirect?.listen, next.redirect.listen))) {
      redirect = await env.openRedirect(next.redirect.listen);
    }
    signal.throwIfAborted();
    prepared = await prepareCertificates({ ctx: env.ctx, config: next, challenges: parts.challenges, signal });
    signal.throwIfAborted();
  } catch (error) {
    redirect?.close();
    parts.challenges = challengesBefore;
    served.setChallenges(challengesBefore);
    throw error;
  }

  // the switch: every step below is synchronous and cannot fail
  certificates.close();
  prepared.certificates.activate(server);
  parts.certificates = prepared.certificates;
  Object.assign(server, clientAuthOptions(next));
  served.setHsts(hstsOf(next));
  parts.acme?.stop();
  parts.acme = prepared.acme;
  if (next.acme === undefined) {
    served.setChallenges(undefined);
    parts.challenges = undefined;
  }
  const previousRedirect = parts.redirect;
  if (redirect !== undefined || next.redirect === undefined) {
    parts.redirect = redirect;
    if (previousRedirect !== undefined) retireRedirect(parts, previousRedirect);
  }
  parts.config = next;
  if (next.watch) prepared.certificates.watch();
  env.startRenewal();
  return changed;
}

function sameAddress(a: ListenAddress | undefined, b: ListenAddress | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
