import { X509Certificate, createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import { Client, axios, crypto as acmeCrypto, type Authorization, type Order } from 'acme-client';
import type { Logger } from 'pino';
import { HendrixError, isHendrixError, type SourceLocation } from '../../src/errors/hendrix-error.js';
import type { AcmeChallenges } from './acme-challenges.js';
import type { PemPair } from './pem-pair.js';
import type { AcmeConfig } from './schema.js';

/** What an {@link AcmeManager} needs: the `acme` section and where its files live. */
export interface AcmeManagerOptions {
  /** The validated `acme` section of the service. */
  config: AcmeConfig;
  /** The folder `directoryCa` resolves against: the manifest's. */
  baseDir: string;
  /** The absolute folder for the account key, the certificate and its key (created when missing). */
  stateDir: string;
  /** The service name: the stored files are `<stateDir>/<name>.acme.crt|.key|.json`. */
  name: string;
  /** Where the http-01 key authorizations are published while an order is validated. */
  challenges: AcmeChallenges;
  /** The service's logger. */
  log: Logger;
  /** Where `acme` is set in the manifest, for errors. */
  location?: SourceLocation;
  /** The clock, in ms since the epoch; tests move it. */
  now?: () => number;
}

/** How long the CA may take to check the challenges of an order. */
const AUTHORIZATION_TIMEOUT = 90_000;

/** Runs one step of an order; its failure becomes HX_ERR_TLS_ACME saying `what` failed. */
type Step = <T>(what: string, run: () => Promise<T>) => Promise<T>;

/** What the stored JSON beside the certificate says: which CA issued it. */
interface StoredMeta {
  directory: string;
}

/**
 * The ACME certificate of one `tls` service: reuses the stored certificate while it is valid
 * beyond `renewBefore`, otherwise obtains one with the http-01 challenge, and renews it while
 * running.
 */
export class AcmeManager {
  readonly #o: AcmeManagerOptions;
  readonly #now: () => number;
  readonly #certFile: string;
  readonly #keyFile: string;
  readonly #metaFile: string;
  readonly #accountFile: string;
  #timer: NodeJS.Timeout | undefined;
  #renewal: AbortController | undefined;

  /** Computes the file names; opens nothing. */
  constructor(options: AcmeManagerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    const base = join(options.stateDir, `${options.name}.acme`);
    this.#certFile = `${base}.crt`;
    this.#keyFile = `${base}.key`;
    this.#metaFile = `${base}.json`;
    // one account per CA, shared by the services of a stateDir: the CA rate-limits new accounts
    const hash = createHash('sha256').update(options.config.directory).digest('hex').slice(0, 16);
    this.#accountFile = join(options.stateDir, `acme-account-${hash}.key`);
  }

  /**
   * A stored certificate for exactly these hosts from this directory, valid beyond
   * `renewBefore`, or a newly obtained one (http-01), stored (key 0600, write-then-rename).
   * Rejects with HX_ERR_TLS_ACME, or with the signal's reason when it aborts.
   */
  async ensure(signal: AbortSignal): Promise<PemPair> {
    signal.throwIfAborted();
    return (await this.#stored()) ?? this.#obtain(signal);
  }

  /**
   * Checks every `checkInterval`; renews when within `renewBefore` and calls `onRenewed` with the
   * stored pair. A failed renewal is logged (HX_ERR_TLS_ACME) and retried at the next check; the
   * old certificate stays. The timer keeps the process alive until `stop()`.
   */
  startRenewal(onRenewed: (pair: PemPair) => void): void {
    this.stop();
    const controller = new AbortController();
    this.#renewal = controller;
    const { signal } = controller;
    const check = async (): Promise<void> => {
      try {
        if ((await this.#stored()) === undefined) {
          const pair = await this.#obtain(signal);
          if (signal.aborted) return;
          try {
            onRenewed(pair);
          } catch (err) {
            this.#o.log.error({ err }, 'renewed certificate not applied');
          }
        }
      } catch (cause) {
        if (signal.aborted) return;
        const err = isHendrixError(cause) ? cause : this.#error(`renewal failed: ${messageOf(cause)}`, cause);
        this.#o.log.error({ err, code: err.code }, 'certificate renewal failed');
      }
      if (!signal.aborted) this.#timer = setTimeout(() => void check(), this.#o.config.checkInterval);
    };
    this.#timer = setTimeout(() => void check(), this.#o.config.checkInterval);
  }

  /** Stops the renewal checks and abandons a renewal in progress. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#renewal?.abort();
    this.#renewal = undefined;
  }

  /** The stored pair when it is for these hosts, from this directory and not due for renewal. */
  async #stored(): Promise<PemPair | undefined> {
    const { config, log } = this.#o;
    let cert: string, key: string, meta: StoredMeta;
    try {
      [cert, key, meta] = await Promise.all([
        readFile(this.#certFile, 'utf8'),
        readFile(this.#keyFile, 'utf8'),
        readFile(this.#metaFile, 'utf8').then((text) => JSON.parse(text) as StoredMeta),
      ]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err, certFile: this.#certFile }, 'stored certificate unreadable');
      return undefined;
    }
    let reason: string | undefined;
    let notAfter = 0;
    try {
      const x509 = new X509Certificate(cert);
      notAfter = Date.parse(x509.validTo);
      if (!x509.checkPrivateKey(createPrivateKey(key))) reason = 'key does not match';
      else if (meta.directory !== config.directory) reason = 'issued by another directory';
      else if (!sameHosts(sanHosts(x509), config.hosts)) reason = 'issued for other hosts';
      else if (notAfter - this.#now() <= config.renewBefore) reason = 'due for renewal';
    } catch {
      reason = 'not a valid certificate and key';
    }
    if (reason !== undefined) {
      log.info({ reason, certFile: this.#certFile, notAfter: new Date(notAfter).toISOString() }, 'stored certificate not used');
      return undefined;
    }
    log.debug({ certFile: this.#certFile, notAfter: new Date(notAfter).toISOString() }, 'stored certificate used');
    return { cert, key, certFile: this.#certFile, keyFile: this.#keyFile };
  }

  /** Obtains, stores and returns a new pair; rejects at once when `signal` aborts. */
  #obtain(signal: AbortSignal): Promise<PemPair> {
    const work = this.#order(signal);
    return new Promise<PemPair>((resolvePair, reject) => {
      // the CA requests stop when aborted; acme-client's retry pauses cannot, so do not wait for them
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      work.then(resolvePair, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  async #order(signal: AbortSignal): Promise<PemPair> {
    const { config, log } = this.#o;
    const step: Step = (what, run) =>
      run().catch((cause: unknown) => {
        if (signal.aborted) throw signal.reason;
        throw isHendrixError(cause) ? cause : this.#error(`${what}: ${messageOf(cause)}`, cause);
      });
    signal.throwIfAborted();
    log.info({ hosts: config.hosts, directory: config.directory }, 'requesting certificate');
    const ca =
      config.directoryCa === undefined
        ? undefined
        : await step(`cannot read directoryCa ${config.directoryCa}`, () => readFile(resolve(this.#o.baseDir, config.directoryCa as string), 'utf8'));
    await step(`cannot create ${this.#o.stateDir}`, () => mkdir(this.#o.stateDir, { recursive: true }));
    const accountKey = await step(`cannot read or create the account key ${this.#accountFile}`, () => this.#accountKey());

    // acme-client talks through one shared axios instance: a request interceptor scoped to this
    // directory's origin adds the trusted CA and the abort signal without touching other clients
    const agent = ca === undefined ? undefined : new Agent({ ca: [...rootCertificates, ca], keepAlive: true });
    const origin = new URL(config.directory).origin;
    const interceptor = axios.interceptors.request.use((request) => {
      if (request.url === undefined || new URL(request.url, config.directory).origin !== origin) return request;
      // thrown before the request is made, so acme-client's retry sees no request to repeat
      signal.throwIfAborted();
      if (agent !== undefined) request.httpsAgent = agent;
      request.signal = signal;
      return request;
    });
    try {
      // short polling pauses: a CA validates within seconds, and starts wait for the certificate
      const client = new Client({ directoryUrl: config.directory, accountKey, backoffAttempts: 12, backoffMin: 250, backoffMax: 10_000 });
      await step(`cannot register the ACME account at ${config.directory}`, () => this.#account(client));
      const identifiers = config.hosts.map((value) => ({ type: isIP(value) === 0 ? 'dns' : 'ip', value }));
      const order = await step(`the order for ${config.hosts.join(', ')} was refused`, () => client.createOrder({ identifiers }));
      await this.#authorize(client, order, step, signal);

      const [key, csr] = await acmeCrypto.createCsr(
        { altNames: [...config.hosts], ...(isCommonName(config.hosts[0]) ? { commonName: config.hosts[0] } : {}) },
        await acmeCrypto.createPrivateEcdsaKey('P-256'),
      );
      const finalized = await step('finalizing the order failed', () => client.finalizeOrder(order, csr));
      const cert = await step('cannot download the certificate', () => client.getCertificate(finalized));
      signal.throwIfAborted();
      await step(`cannot store the certificate in ${this.#o.stateDir}`, async () => {
        // the key first: a crash in between leaves a mismatched pair, which #stored() rejects
        await writeAtomic(this.#keyFile, key.toString(), 0o600);
        await writeAtomic(this.#certFile, cert, 0o644);
        await writeAtomic(this.#metaFile, `${JSON.stringify({ directory: config.directory } satisfies StoredMeta)}\n`, 0o644);
      });
      const notAfter = new X509Certificate(cert).validTo;
      log.info({ hosts: config.hosts, notAfter: new Date(notAfter).toISOString(), certFile: this.#certFile }, 'certificate obtained');
      return { cert, key: key.toString(), certFile: this.#certFile, keyFile: this.#keyFile };
    } finally {
      axios.interceptors.request.eject(interceptor);
      agent?.destroy();
    }
  }

  /**
   * Publishes the http-01 answers of the order's pending authorizations, tells the CA to check
   * them and polls until every authorization is valid; the first invalid one fails the order.
   */
  async #authorize(client: Client, order: Order, step: Step, signal: AbortSignal): Promise<void> {
    const fetch = (): Promise<Authorization[]> => step('cannot fetch the authorizations of the order', () => client.getAuthorizations(order));
    // reused authorizations (the CA remembers recent validations) are valid already
    const pending = (await fetch()).filter((authz) => authz.status !== 'valid');
    const tokens: string[] = [];
    try {
      for (const authz of pending) {
        const host = authz.identifier.value;
        const challenge = authz.challenges.find((c) => c.type === 'http-01');
        if (challenge === undefined) {
          const why = authz.wildcard === true ? ' (a wildcard needs dns-01, which hendrix does not do)' : '';
          throw this.#error(`the CA offers no http-01 challenge for ${host}${why}`, undefined);
        }
        this.#o.challenges.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
        tokens.push(challenge.token);
        await step(`cannot start the http-01 challenge for ${host}`, () => client.completeChallenge(challenge));
      }
      // polled here rather than with acme-client's waitForValidStatus, whose pauses ignore the signal
      const started = Date.now();
      for (let pause = 250; pending.length > 0; pause = Math.min(pause * 2, 5_000)) {
        await sleep(pause, undefined, { signal });
        const now = await fetch();
        for (const authz of pending.splice(0)) {
          const current = now.find((a) => a.url === authz.url) ?? authz;
          if (current.status === 'valid') continue;
          if (current.status !== 'pending') throw this.#error(`the http-01 challenge for ${authz.identifier.value} failed: ${problemOf(current)}`, undefined);
          pending.push(current);
        }
        if (pending.length > 0 && Date.now() - started > AUTHORIZATION_TIMEOUT) {
          throw this.#error(`the CA did not check ${pending.map((a) => a.identifier.value).join(', ')} within ${AUTHORIZATION_TIMEOUT / 1000} s`, undefined);
        }
      }
    } finally {
      for (const token of tokens) this.#o.challenges.delete(token);
    }
  }

  /** Finds the account of the key, or registers it; keeps its contact in line with `email`. */
  async #account(client: Client): Promise<void> {
    const contact = this.#o.config.email === undefined ? undefined : [`mailto:${this.#o.config.email}`];
    try {
      // an existing account answers a lookup; re-sending the registration would be an update,
      // which CAs refuse when it changes nothing
      await client.createAccount({ onlyReturnExisting: true });
    } catch (err) {
      // the CA's "no such account" is a plain Error; network failures (axios errors) stay failures
      if ((err as { isAxiosError?: boolean }).isAxiosError === true) throw err;
      await client.createAccount({ termsOfServiceAgreed: true, ...(contact === undefined ? {} : { contact }) });
      return;
    }
    if (contact !== undefined) await client.updateAccount({ contact });
  }

  async #accountKey(): Promise<string> {
    try {
      return await readFile(this.#accountFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = (await acmeCrypto.createPrivateEcdsaKey('P-256')).toString();
    await writeAtomic(this.#accountFile, key, 0o600);
    this.#o.log.info({ file: this.#accountFile }, 'acme account key created');
    return key;
  }

  #error(message: string, cause: unknown): HendrixError {
    const { name, location } = this.#o;
    return new HendrixError('HX_ERR_TLS_ACME', { service: name, path: ['services', name, 'acme'], location, message, cause });
  }
}

/** Why the CA refused an authorization: its http-01 challenge's problem, `type: detail`. */
function problemOf(authz: Authorization): string {
  const challenge = authz.challenges.find((c) => c.type === 'http-01');
  const error = challenge?.error as { type?: string; detail?: string } | undefined;
  const problem = [error?.type, error?.detail].filter((part) => part !== undefined && part !== '').join(': ');
  return (problem || `the authorization is ${authz.status}`).replace(/\n/g, ' ');
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** The names of a certificate's subjectAltName, IPs in canonical form. */
function sanHosts(x509: X509Certificate): string[] {
  return (x509.subjectAltName ?? '').split(', ').flatMap((entry) => {
    if (entry.startsWith('DNS:')) return [entry.slice(4).toLowerCase()];
    if (entry.startsWith('IP Address:')) return [canonicalHost(entry.slice(11))];
    return [];
  });
}

function canonicalHost(host: string): string {
  return isIP(host) === 6 ? new URL(`http://[${host}]`).hostname.slice(1, -1) : host.toLowerCase();
}

function sameHosts(found: readonly string[], wanted: readonly string[]): boolean {
  const a = new Set(found.map(canonicalHost));
  const b = new Set(wanted.map(canonicalHost));
  return a.size === b.size && [...a].every((h) => b.has(h));
}

/** Whether `host` may be the certificate's common name: a DNS name of at most 64 characters (CAs drop IPs there). */
function isCommonName(host: string | undefined): host is string {
  return host !== undefined && host.length <= 64 && isIP(host) === 0;
}

/** Writes `file` whole or not at all: a reader never sees half a key. */
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { mode });
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}
