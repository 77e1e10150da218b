import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Level, Logger } from 'pino';
import { createRequestIdPrefix, logAccess, pathOf, requestId } from './access-log.js';
import type { LoadedApp } from './app-loader.js';
import { toNodeListener } from './fetch-adapter.js';
import { kSeq, kStart, kWire, type TrackedResponse } from './request-state.js';
import { sendStatus } from './responses.js';
import type { StaticFiles, StaticMatch } from './static-files.js';

type Listener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** How a pipeline answers and logs. */
export interface PipelineOptions {
  readonly log: Logger;
  /** The access log level, or undefined for none. */
  readonly accessLog: Level | undefined;
  /** Whether a 500 carries the error message. */
  readonly exposeErrors: boolean;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The request path of an http service: static folders first, then the app; it tracks
 * responses in flight (for draining), writes the access log, and turns a failing handler into
 * a 500 for that one client. The hot path (a Node listener, no static folders) costs a
 * counter, a Set entry and one shared 'close' listener per request.
 */
export class RequestPipeline {
  /** Responses not yet closed. */
  readonly inflight = new Set<ServerResponse>();
  /** The prefix of request ids in logs. */
  readonly idPrefix = createRequestIdPrefix();
  /** The composed handler: usable as the listener of any Node HTTP server. */
  readonly handleRequest: (req: IncomingMessage, res: ServerResponse) => void;

  #draining = false;
  #onSettled: (() => void) | undefined;
  #seq = 0;
  #listener: Listener | undefined;
  #statics: StaticFiles | undefined;
  readonly #log: Logger;
  readonly #accessLog: Level | undefined;
  readonly #exposeErrors: boolean;
  readonly #onClose: (this: ServerResponse) => void;

  constructor(options: PipelineOptions) {
    this.#log = options.log;
    this.#accessLog = options.accessLog;
    this.#exposeErrors = options.exposeErrors;
    const closed = (res: ServerResponse): void => this.#closed(res);
    // one listener function for every response; `this` is the response
    this.#onClose = function onResponseClose(this: ServerResponse) {
      closed(this);
    };
    this.handleRequest = (req, res) => this.#handle(req, res);
  }

  /** Sets the app requests go to after the static folders. */
  setApp(app: LoadedApp | undefined): void {
    this.#listener = app === undefined ? undefined : app.type === 'node' ? (app.listener as Listener) : toNodeListener(app.handler);
  }

  /** Sets the static folders checked before the app. */
  setStatic(statics: StaticFiles | undefined): void {
    this.#statics = statics;
  }

  /**
   * Starts draining: every response from now on, and those in flight that have not sent
   * their headers yet, carry `Connection: close`; `onSettled` runs each time one closes.
   */
  drain(onSettled: () => void): void {
    this.#draining = true;
    this.#onSettled = onSettled;
    for (const res of this.inflight) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /** Ends draining (a start after a stop). */
  resume(): void {
    this.#draining = false;
    this.#onSettled = undefined;
  }

  /** Destroys every response still in flight (forced stop). */
  destroyInflight(): void {
    for (const res of this.inflight) res.destroy();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const level = this.#accessLog;
    if (level !== undefined && this.#log.isLevelEnabled(level)) {
      // without an access log nothing is stored: a failing request gets its id when it fails
      const tracked = res as ServerResponse & TrackedResponse;
      tracked[kSeq] = ++this.#seq;
      tracked[kStart] = performance.now();
      tracked[kWire] = req.socket?.bytesWritten;
    }
    this.inflight.add(res);
    res.on('close', this.#onClose);
    if (this.#draining) res.setHeader('connection', 'close');
    const statics = this.#statics;
    if (statics !== undefined) {
      const match = statics.match(req.url);
      if (match !== undefined) {
        this.#serveStatic(statics, req, res, match);
        return;
      }
    }
    this.#dispatch(req, res, false);
  }

  #serveStatic(statics: StaticFiles, req: IncomingMessage, res: ServerResponse, match: StaticMatch): void {
    statics.serve(req, res, match).then(
      (outcome) => {
        if (outcome !== 'served') this.#dispatch(req, res, outcome === 'method');
      },
      (error: unknown) => this.fail(req, res, error),
    );
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, staticMethodMismatch: boolean): void {
    const listener = this.#listener;
    if (listener === undefined) {
      if (staticMethodMismatch) sendStatus(res, 405, { headers: { allow: 'GET, HEAD' } });
      else sendStatus(res, 404);
      return;
    }
    try {
      const result = listener(req, res);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.fail(req, res, error));
    } catch (error) {
      this.fail(req, res, error);
    }
  }

  /** A handler failed: log it; the client gets a 500, or a cut connection if too late for one. */
  fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    const tracked = res as ServerResponse & TrackedResponse;
    tracked[kSeq] ??= ++this.#seq;
    this.#log.error({ reqId: requestId(this.idPrefix, res), method: req.method, path: pathOf(req.url), err: error }, 'handler failed');
    if (res.writableEnded) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = this.#exposeErrors ? (error instanceof Error ? error.message : String(error)) : undefined;
    sendStatus(res, 500, body === undefined ? {} : { body });
  }

  #closed(res: ServerResponse): void {
    this.inflight.delete(res);
    const level = this.#accessLog;
    if (level !== undefined && (res as TrackedResponse)[kStart] !== undefined) logAccess(this.#log, level, this.idPrefix, res);
    if (this.#draining) this.#onSettled?.();
  }
}
