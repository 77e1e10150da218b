import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The cookie the dashboard's browser holds once it came with the token. */
export const SESSION_COOKIE = 'hendrix_admin';

/**
 * Whether `given` equals `expected`, in a time that says nothing about either: both are
 * hashed to 32 bytes first, so that timingSafeEqual compares equal lengths whatever the
 * lengths given (it throws on unequal ones, and an early length check would leak the length).
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization: Bearer …` header, if any. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** The value of one cookie of the request. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether a request carrying the session cookie comes from the admin listener's own origin:
 * a browser sends `Origin` with every POST, and a page of another site must not make the
 * dashboard's browser act (CSRF). No Origin at all is a client that is not a browser page.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** How a request to the TCP admin listener authenticated, if it did. */
export type AuthOutcome = 'bearer' | 'cookie' | 'cross-site' | 'none';

/**
 * The sessions of one admin listener (the TCP listener, `hendrix dashboard`'s proxy): the token
 * opens one (the browser path), and the cookie it sets (named `cookie`) is a random value of
 * this listener — never the token, which no answer may carry.
 */
export function createAuth(token: string, cookie = SESSION_COOKIE): { session: string; cookie: string; check(req: IncomingMessage): AuthOutcome } {
  const session = randomBytes(32).toString('base64url');
  return {
    session,
    cookie,
    check(req) {
      const bearer = bearerOf(req);
      if (bearer !== undefined) return sameSecret(bearer, token) ? 'bearer' : 'none';
      const given = cookieOf(req, cookie);
      if (given === undefined || !sameSecret(given, session)) return 'none';
      return req.method === 'GET' || req.method === 'HEAD' || sameOrigin(req) ? 'cookie' : 'cross-site';
    },
  };
}
