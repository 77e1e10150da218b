import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HendrixError, type PathSegment, type SourceLocation } from '../../src/errors/hendrix-error.js';
import type { AuthConfig } from './schema.js';
import { allowedBy, checkPattern } from '../../src/net/topics.js';

/** What a connection (or an HTTP publish) may do. */
export interface Grant {
  /** For logs: the token's name, `jwt:<sub>`, or `anonymous`. */
  readonly name: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** Everything, for hubs without `auth`. */
const OPEN: Grant = { name: 'anonymous', publish: ['>'], subscribe: ['>'] };

type JwtVerifier = (token: string) => Promise<Record<string, unknown>>;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function patternList(value: unknown): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  return list.filter((p): p is string => typeof p === 'string' && checkPattern(p) === undefined);
}

/** Where auth problems at start are reported. */
export interface AuthContext {
  readonly service: string;
  readonly baseDir: string;
  locate(path: readonly PathSegment[]): SourceLocation | undefined;
}

/**
 * Reads the JWT public key file `auth.jwt.publicKey` (relative to the manifest) and parses it;
 * a missing, unreadable or unparsable one is HX_ERR_PUBSUB_AUTH_KEY at that field. Start and
 * the plan's provision step both read it through here.
 */
export async function readJwtPublicKey(publicKey: string, context: AuthContext): Promise<KeyObject> {
  const path: PathSegment[] = ['auth', 'jwt', 'publicKey'];
  const file = resolve(context.baseDir, publicKey);
  const fail = (message: string, cause: unknown): HendrixError =>
    new HendrixError('HX_ERR_PUBSUB_AUTH_KEY', { service: context.service, path: ['services', context.service, ...path], location: context.locate(path), message, cause });
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw fail(`cannot read the JWT public key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
  try {
    return createPublicKey(text);
  } catch (error) {
    throw fail(`${file} holds no usable public key (expected PEM: -----BEGIN PUBLIC KEY-----): ${(error as Error).message}`, error);
  }
}

/**
 * Turns a presented token into a Grant: static tokens (compared in constant time) first,
 * then JSON Web Tokens verified with `jose` against the configured secret or public key,
 * algorithms pinned. Without `auth` everyone may do everything.
 */
export class Authenticator {
  readonly #tokens: { hash: Buffer; grant: Grant }[];
  readonly #anonymous: Grant;
  readonly #jwt: JwtVerifier | undefined;
  readonly #claims: { publish: string; subscribe: string };
  /** Whether a token can change what a client may do (auth is configured). */
  readonly enabled: boolean;
  /** How long a tokenless client has to send an auth frame. */
  readonly authTimeout: number;
  /**
   * What decides every grant — the `auth` config and the JWT key's content — as text: two
   * authenticators with the same signature grant the same, so a reload that leaves it alone
   * does not check the connections' tokens again.
   */
  readonly signature: string;

  private constructor(config: AuthConfig | undefined, jwt: JwtVerifier | undefined, key = '') {
    this.signature = `${JSON.stringify(config ?? null)}\n${key}`;
    this.enabled = config !== undefined;
    this.authTimeout = config?.authTimeout ?? 0;
    this.#anonymous = config === undefined ? OPEN : { name: 'anonymous', ...config.anonymous };
    this.#tokens = (config?.tokens ?? []).map((t, i) => ({ hash: digest(t.token), grant: { name: t.name ?? `token ${i + 1}`, publish: t.publish, subscribe: t.subscribe } }));
    this.#jwt = jwt;
    this.#claims = { publish: config?.jwt?.publishClaim ?? 'publish', subscribe: config?.jwt?.subscribeClaim ?? 'subscribe' };
  }

  /** Builds the authenticator, reading the JWT public key file when there is one. */
  static async create(config: AuthConfig | undefined, context: AuthContext): Promise<Authenticator> {
    const jwt = config?.jwt;
    if (jwt === undefined) return new Authenticator(config, undefined);
    const jose = await import('jose');
    const options = { algorithms: jwt.algorithms ?? (jwt.secret !== undefined ? ['HS256'] : ['RS256', 'PS256', 'ES256', 'EdDSA']), ...(jwt.issuer ? { issuer: jwt.issuer } : {}), ...(jwt.audience ? { audience: jwt.audience } : {}) };
    let key: Uint8Array | KeyObject;
    let keyText = '';
    if (jwt.secret !== undefined) {
      key = new TextEncoder().encode(jwt.secret);
    } else {
      key = await readJwtPublicKey(jwt.publicKey as string, context);
      keyText = String(key.export({ type: 'spki', format: 'pem' }));
    }
    const verifier: JwtVerifier = async (token) => (await jose.jwtVerify(token, key, options)).payload as Record<string, unknown>;
    return new Authenticator(config, verifier, keyText);
  }

  /** What a client without a token may do. */
  anonymous(): Grant {
    return this.#anonymous;
  }

  /** The grant of a token, or undefined when it is unknown, invalid or expired. */
  async verify(token: string): Promise<Grant | undefined> {
    const hash = digest(token);
    for (const entry of this.#tokens) if (timingSafeEqual(entry.hash, hash)) return entry.grant;
    if (this.#jwt === undefined) return undefined;
    try {
      const claims = await this.#jwt(token);
      const subject = typeof claims['sub'] === 'string' ? claims['sub'] : '?';
      return { name: `jwt:${subject}`, publish: patternList(claims[this.#claims.publish]), subscribe: patternList(claims[this.#claims.subscribe]) };
    } catch {
      return undefined;
    }
  }
}

/**
 * The grant of `token` from the authenticator in effect when the answer comes (`current()`):
 * a reload that replaces it while a token is checked has the token checked again by the new
 * one. Undefined when the token is not valid.
 */
export async function verifyCurrent(current: () => Authenticator, token: string): Promise<Grant | undefined> {
  for (;;) {
    const auth = current();
    const grant = await auth.verify(token).catch(() => undefined);
    if (current() === auth) return grant;
  }
}

/** Whether `grant` may publish on `topic`. */
export function mayPublish(grant: Grant, topic: string): boolean {
  return allowedBy(grant.publish, topic);
}

/** Whether `grant` may subscribe to `pattern`. */
export function maySubscribe(grant: Grant, pattern: string): boolean {
  return allowedBy(grant.subscribe, pattern);
}

/** The token a request presents: `Authorization: Bearer` or `?token=`. */
export function tokenOf(req: IncomingMessage, url: URL): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  return bearer ?? url.searchParams.get('token') ?? undefined;
}
