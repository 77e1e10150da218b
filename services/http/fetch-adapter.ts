import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FetchHandler } from './app-loader.js';
import { kBytes } from './request-state.js';

/** A Host header we are willing to put into a URL (no path, userinfo or spaces). */
const HOST = /^(?:[A-Za-z0-9._~!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Thrown when a Node request cannot be expressed as a web Request (answered with 400). */
export class BadRequestError extends Error {
  readonly status = 400;
}

/**
 * Converts a Node request into a web Request: URL from the Host header (never from a
 * protocol-relative path), every raw header kept, the body streamed (duplex 'half').
 */
export function toWebRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const host = req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? 'localhost';
  if (!HOST.test(host)) throw new BadRequestError(`invalid Host header: ${JSON.stringify(host.slice(0, 100))}`);
  const scheme = (req.socket as TLSSocket | null)?.encrypted ? 'https' : 'http';
  const target = req.url ?? '/';
  // origin-form is appended as text so that `//x` stays a path; absolute-form is taken as is
  const url = target.startsWith('/') ? `${scheme}://${host}${target}` : /^https?:\/\//i.test(target) ? target : `${scheme}://${host}/`;

  const headers = new Headers();
  const raw = req.rawHeaders;
  try {
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] as string;
      if (name.charCodeAt(0) !== 58 /* ':' pseudo-headers of HTTP/2 */) headers.append(name, raw[i + 1] as string);
    }
  } catch (error) {
    throw new BadRequestError(`invalid request header: ${(error as Error).message}`);
  }

  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (method !== 'GET' && method !== 'HEAD' && hasBody(req)) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  try {
    return new Request(url, init);
  } catch (error) {
    throw new BadRequestError(`invalid request: ${(error as Error).message}`);
  }
}

function hasBody(req: IncomingMessage): boolean {
  if (req.httpVersionMajor >= 2) return !req.readableEnded;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true;
  const r = value as Partial<Response> | null;
  return typeof r === 'object' && r !== null && typeof r.status === 'number' && typeof r.headers?.get === 'function' && 'body' in r;
}

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes a web Response to a Node response: status, headers (each Set-Cookie kept apart),
 * then the body with backpressure. HEAD, 204 and 304 send no body. Rejects if the body stream
 * fails; the caller decides what the client gets then.
 */
export async function sendWebResponse(req: IncomingMessage, res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length) res.setHeader('set-cookie', cookies);

  const body = response.body;
  if (body === null || req.method === 'HEAD' || response.status === 204 || response.status === 304) {
    if (body !== null) void body.cancel().catch(() => undefined);
    res.end();
    return;
  }
  const reader = body.getReader();
  const onClose = (): void => {
    if (!res.writableFinished) void reader.cancel().catch(() => undefined);
  };
  res.on('close', onClose);
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      bytes += (value as Uint8Array).byteLength ?? 0;
      if (!res.write(value) && !res.destroyed) await waitForDrain(res);
    }
    (res as unknown as Record<symbol, number>)[kBytes] = bytes;
    res.end();
  } finally {
    res.off('close', onClose);
    reader.releaseLock();
  }
}

/**
 * Turns a `{ fetch }` handler into a Node listener. The returned promise rejects when the
 * handler throws or rejects, or returns something that is not a Response; a request that
 * cannot be expressed as a web Request is answered with 400 here.
 */
export function toNodeListener(handler: FetchHandler): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async function fetchListener(req, res) {
    const controller = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) controller.abort();
    };
    res.once('close', onClose);
    let request: Request;
    try {
      request = toWebRequest(req, controller.signal);
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      res.statusCode = 400;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.setHeader('connection', 'close');
      res.end('Bad Request');
      return;
    }
    const response: unknown = await handler.fetch(request);
    if (!isResponse(response)) {
      const what = response === null ? 'null' : typeof response === 'object' ? 'an object that is not a Response' : typeof response;
      throw new TypeError(`fetch handler returned ${what}, not a Response`);
    }
    await sendWebResponse(req, res, response);
  };
}
