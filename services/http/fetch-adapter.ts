import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { FetchHandler } from './app-loader.js';
import { kBytes } from './request-state.js';

/** A Host header we are willing to put into a URL (no path, userinfo or spaces). */
const HOST = /^(?:[A-Za-z0-9._~!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Thrown when a Node request cannot be expressed as a web Request (answered with 400). */
export class BadRequestError extends Error {
  readonly status = 400;
}

/** A request body as a web stream, and how to let go of what the handler did not read. */
interface RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  /** Discards the rest of the body (as Node does for listeners), keeping the connection usable. */
  discard(): void;
}

/**
 * The body of a Node request as a byte stream with backpressure (the request pauses while
 * the stream's queue is full). Unlike Readable.toWeb, cancelling it discards the rest of the
 * body instead of destroying the request, so keep-alive survives an unread upload.
 */
function requestBody(req: IncomingMessage): RequestBody {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let detached = false;
  const onData = (chunk: Buffer): void => {
    controller.enqueue(chunk);
    if ((controller.desiredSize ?? 0) <= 0) req.pause();
  };
  const onEnd = (): void => {
    detach();
    controller.close();
  };
  const onError = (error: Error): void => {
    detach();
    controller.error(error);
  };
  const detach = (): void => {
    if (detached) return;
    detached = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('error', onError);
      },
      pull() {
        req.resume();
      },
      cancel() {
        detach();
        req.resume();
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
  return {
    stream,
    discard() {
      if (detached || req.readableEnded) return;
      detach();
      controller.error(new Error('the response was sent before the request body was read'));
      req.resume();
    },
  };
}

/**
 * Converts a Node request into a web Request: URL from the Host header (never from a
 * protocol-relative path), every raw header kept, the body streamed (duplex 'half').
 */
export function toWebRequest(req: IncomingMessage, signal: AbortSignal): Request {
  return toWebRequestWithBody(req, signal).request;
}

function toWebRequestWithBody(req: IncomingMessage, signal: AbortSignal): { request: Request; body: RequestBody | undefined } {
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
  let body: RequestBody | undefined;
  if (method !== 'GET' && method !== 'HEAD' && hasBody(req)) {
    body = requestBody(req);
    init.body = body.stream;
    init.duplex = 'half';
  }
  try {
    return { request: new Request(url, init), body };
  } catch (error) {
    body?.discard();
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
    let body: RequestBody | undefined;
    try {
      ({ request, body } = toWebRequestWithBody(req, controller.signal));
    } catch (error) {
      if (!(error instanceof BadRequestError)) throw error;
      res.statusCode = 400;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      if (req.httpVersionMajor !== 2) res.setHeader('connection', 'close');
      res.end('Bad Request');
      return;
    }
    try {
      const response: unknown = await handler.fetch(request);
      if (!isResponse(response)) {
        const what = response === null ? 'null' : typeof response === 'object' ? 'an object that is not a Response' : typeof response;
        throw new TypeError(`fetch handler returned ${what}, not a Response`);
      }
      await sendWebResponse(req, res, response);
    } finally {
      body?.discard();
    }
  };
}
