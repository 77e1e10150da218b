import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { HendrixError, isHendrixError } from '../errors/hendrix-error.js';
import { errorToJson } from '../errors/render.js';
import type { Logger } from '../log/logger.js';

/** What a control route's handler receives. */
export interface ControlRequest {
  /** The query string (`?dryRun=1`). */
  readonly query: URLSearchParams;
  /** The `{name}` segments of the route pattern (`/services/{name}/restart`). */
  readonly params: Readonly<Record<string, string>>;
  /** The request body parsed as JSON (at most `maxBodyBytes`), or undefined when empty. */
  readonly body: unknown;
  /** Aborted when the client goes away or the control server closes. */
  readonly signal: AbortSignal;
  /** The request headers (`Last-Event-ID` of an SSE client resuming `GET /events`); the servers always give them. */
  readonly headers?: IncomingHttpHeaders;
}

/** A JSON answer: the status (default 200) and a body serialized as JSON. */
export interface ControlJsonResult {
  readonly status?: number;
  readonly body: unknown;
}

/**
 * A streamed answer — the seam for Server-Sent Events (`GET /events`, issue #16): the server
 * writes the status and headers, then hands the response to `stream`, which writes until it
 * resolves or the signal aborts. Nothing in the control server builds SSE itself.
 */
export interface ControlStreamResult {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly stream: (res: ServerResponse, signal: AbortSignal) => void | Promise<void>;
}

/** What a control route's handler returns. */
export type ControlResult = ControlJsonResult | ControlStreamResult;

/** A control route's handler; a HendrixError it throws is answered as JSON (never a stack). */
export type ControlHandler = (request: ControlRequest) => ControlResult | Promise<ControlResult>;

/** The table of control routes: `'GET /status'`, `'POST /services/{name}/restart'`, ... */
export type ControlRoutes = Readonly<Record<string, ControlHandler>>;

/** The largest request body the control server reads (1 MiB): a manifest diff fits; a flood does not. */
export const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

interface CompiledRoute {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: ControlHandler;
}

/** Compiles a route table once, so that a request is matched segment by segment. */
export function compileRoutes(routes: ControlRoutes): CompiledRoute[] {
  return Object.entries(routes).map(([key, handler]) => {
    const match = /^([A-Z]+) (\/\S*)$/.exec(key);
    if (!match) throw new TypeError(`control route "${key}" must look like "GET /status"`);
    return { method: match[1]!, segments: match[2]!.split('/').slice(1), handler };
  });
}

function matchRoute(routes: readonly CompiledRoute[], method: string, pathname: string) {
  const parts = pathname.split('/').slice(1);
  for (const route of routes) {
    if (route.method !== method || route.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = route.segments.every((seg, i) => {
      const part = parts[i]!;
      if (!(seg.startsWith('{') && seg.endsWith('}'))) return seg === part;
      params[seg.slice(1, -1)] = decodeURIComponent(part);
      return part !== '';
    });
    if (ok) return { handler: route.handler, params };
  }
  return undefined;
}

/**
 * The HTTP status of a failed control request: 422 for a problem with what was asked (a usage
 * or manifest error: exit 64 or 78, e.g. a reload whose new manifest does not validate), 500
 * for a bug, 409 for an operation the running graph refused or could not carry out in its
 * present state (a reload during stop, a start that failed and was rolled back).
 */
export function controlStatusOf(error: HendrixError): number {
  if (error.code === 'HX_ERR_INTERNAL') return 500;
  return error.exitCode === 64 || error.exitCode === 78 ? 422 : 409;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, error: HendrixError): void {
  // the errors flattened, plus the one that stands for them all (HX_ERR_MANIFEST: exit 78)
  if (!res.headersSent) sendJson(res, status, errorToJson(error));
  else res.destroy();
}

/** A request the server refuses before any handler runs (400, 404, 413). */
class BadRequest {
  readonly error: HendrixError;
  constructor(
    readonly status: number,
    message: string,
    hint = 'send JSON of at most 1 MiB to a route listed by GET /',
  ) {
    this.error = new HendrixError('HX_ERR_CONTROL_REQUEST', { message, hint });
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // stop reading (a paused request is not destroyed, so the 413 can still be written)
      req.off('data', onData);
      req.pause();
      reject(new BadRequest(413, `the request body is over ${limit} bytes`));
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      if (size === 0) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new BadRequest(400, 'the request body is not JSON'));
      }
    });
  });
}

/**
 * Answers one control request (dispatchControl) with a signal that aborts when the client goes
 * away, kept in `inFlight` meanwhile so that a closing server can abort it too.
 */
export function dispatchTracked(routes: readonly CompiledRoute[], req: IncomingMessage, res: ServerResponse, inFlight: Set<AbortController>, log: Logger): void {
  const controller = new AbortController();
  inFlight.add(controller);
  res.once('close', () => {
    inFlight.delete(controller);
    if (!res.writableFinished) controller.abort(new Error('the client went away'));
  });
  void dispatchControl(routes, req, res, controller.signal, log);
}

/**
 * Answers one control request from the compiled route table: an unknown route is a 404 with
 * the routes there are, a HendrixError is its JSON (renderErrorsJson) with the status of
 * controlStatusOf, any other error is logged with its stack and answered as HX_ERR_INTERNAL.
 */
export async function dispatchControl(
  routes: readonly CompiledRoute[],
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  log: Logger,
  maxBodyBytes = MAX_CONTROL_BODY_BYTES,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const method = req.method ?? 'GET';
  const route = matchRoute(routes, method, url.pathname);
  try {
    if (!route) {
      const known = routes.map((r) => `${r.method} /${r.segments.join('/')}`);
      throw new BadRequest(404, `no control route ${method} ${url.pathname}`, `the routes are: ${known.join(', ')}`);
    }
    const body = await readBody(req, maxBodyBytes);
    const result = await route.handler({ query: url.searchParams, params: route.params, body, signal, headers: req.headers });
    if ('stream' in result) {
      res.writeHead(result.status ?? 200, { ...result.headers });
      await result.stream(res, signal);
      if (!res.writableEnded) res.end();
      return;
    }
    sendJson(res, result.status ?? 200, result.body === undefined ? {} : result.body);
  } catch (error) {
    if (error instanceof BadRequest) {
      // the rest of an oversized body is not worth reading: answer, then close the connection
      if (!req.readableEnded) res.setHeader('connection', 'close');
      return sendError(res, error.status, error.error);
    }
    if (isHendrixError(error)) {
      const status = controlStatusOf(error);
      log.warn({ err: error, method, path: url.pathname }, 'control request failed');
      return sendError(res, status, error);
    }
    log.error({ err: error, method, path: url.pathname }, 'control handler threw');
    sendError(res, 500, new HendrixError('HX_ERR_INTERNAL', { message: `the control route ${method} ${url.pathname} failed: ${(error as Error)?.message ?? String(error)}`, cause: error }));
  }
}
