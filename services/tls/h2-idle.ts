import type { Http2Session } from 'node:http2';

/**
 * How many streams Node has open on a session, or undefined if this Node hides it. Node keeps
 * them in an internal map and offers no public count; it is read by a sweep, never per request
 * (counting 'stream' and 'close' events would cost every request).
 */
export function openStreams(session: Http2Session): number | undefined {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === 'state');
  const streams = key === undefined ? undefined : (session as unknown as Record<symbol, { streams?: { size?: unknown } } | undefined>)[key]?.streams;
  // not `instanceof Map`: Node's internal SafeMap has a null-prototype chain
  return typeof streams?.size === 'number' ? streams.size : undefined;
}

/** What the sweep last saw of a session. */
interface Seen {
  bytes: number;
  since: number;
}

/**
 * The HTTP/2 equivalent of headersTimeout. HTTP/2 hands a request over only once its header
 * block is whole, and has no header timeout: a client that opens a session and sends nothing,
 * or stops halfway through a header block, holds its connection for ever (Node's http2 servers
 * have no idle timeout by default). Here a session with no stream open that has received
 * nothing for `idleMs` is ended: destroyed, so nghttp2 sends a GOAWAY naming the last request
 * it processed and closes the connection (a graceful close() would wait for the half-sent
 * header block, which nghttp2 counts as a stream). Sessions with streams open are the app's
 * business and left alone.
 *
 * Nothing is done per request or per frame: a sweep, running only while sessions exist, reads
 * each session's received byte count (Node's session timeout would refresh a timer on every
 * read and write). A sweep every `everyMs` cuts a silent session between `idleMs` and
 * `idleMs + 2 × everyMs` after its last byte.
 */
export class IdleSessions {
  readonly #sessions = new Map<Http2Session, Seen>();
  readonly #idleMs: number;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(idleMs: number, everyMs: number) {
    this.#idleMs = idleMs;
    this.#everyMs = everyMs;
  }

  /** Watches a new session until it closes. */
  readonly add = (session: Http2Session): void => {
    this.#sessions.set(session, { bytes: 0, since: performance.now() });
    session.once('close', () => {
      this.#sessions.delete(session);
      if (this.#sessions.size === 0) this.#stop();
    });
    this.#timer ??= setInterval(() => this.#sweep(), this.#everyMs).unref();
  };

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const [session, seen] of this.#sessions) {
      if (session.destroyed) continue;
      const bytes = session.socket?.bytesRead ?? seen.bytes;
      if (bytes !== seen.bytes) {
        seen.bytes = bytes;
        seen.since = now;
        continue;
      }
      if (now - seen.since < this.#idleMs) continue;
      const open = openStreams(session);
      if (open === 0) session.destroy();
      else if (open === undefined) session.close(); // this Node hides its streams: the graceful way
    }
  }
}
