import { STATUS_CODES, type ServerResponse } from 'node:http';

/** How sendStatus() builds its answer. */
export interface StatusOptions {
  /** Headers already set that survive the reset (`connection` always does). */
  keep?: readonly string[];
  /** The body text; default: the status's reason phrase. */
  body?: string;
  /** Extra headers to send. */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Answers with a bare status and a short text body, dropping headers the handler had set
 * (except `Connection`, which draining sets, and `keep`). Does nothing once the response ended.
 */
export function sendStatus(res: ServerResponse, status: number, options: StatusOptions = {}): void {
  if (res.writableEnded || res.destroyed) return;
  const keep = options.keep ?? [];
  for (const name of res.getHeaderNames()) {
    if (name !== 'connection' && !keep.includes(name)) res.removeHeader(name);
  }
  const text = options.body ?? STATUS_CODES[status] ?? String(status);
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  if (options.headers) for (const [name, value] of Object.entries(options.headers)) res.setHeader(name, value);
  res.end(text);
}
