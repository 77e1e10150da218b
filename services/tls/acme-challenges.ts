import type { IncomingMessage, ServerResponse } from 'node:http';

const PREFIX = '/.well-known/acme-challenge/';

/**
 * The pending http-01 challenges: token → key authorization. The ACME manager fills it while
 * an order is validated; the plain-http listeners answer the CA's requests through `respond`.
 */
export class AcmeChallenges {
  readonly #pending = new Map<string, string>();

  /** Publishes the key authorization the CA will fetch for `token`. */
  set(token: string, keyAuthorization: string): void {
    this.#pending.set(token, keyAuthorization);
  }

  /** Withdraws `token` once its challenge is decided. */
  delete(token: string): void {
    this.#pending.delete(token);
  }

  /**
   * Answers GET/HEAD /.well-known/acme-challenge/<token>: 200 text/plain with the key
   * authorization, 404 for unknown tokens under that prefix (405 for other methods). Returns
   * false — touching nothing — for any other URL so the caller goes on.
   */
  respond(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url;
    // a plain prefix test: this runs before every request of the listeners that serve challenges
    if (url === undefined || !url.startsWith(PREFIX)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return true;
    }
    const end = url.search(/[?#]/);
    const token = url.slice(PREFIX.length, end === -1 ? undefined : end);
    const keyAuthorization = token === '' ? undefined : this.#pending.get(token);
    if (keyAuthorization === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('no such challenge\n');
      return true;
    }
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(keyAuthorization),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : keyAuthorization);
    return true;
  }
}
