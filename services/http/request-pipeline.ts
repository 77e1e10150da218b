import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Level, Logger } from 'pino';
import { crosstownShared, requestContext, type CrosstownHost } from '../../src/crosstown/context.js';
import { addFaultReader, currentFaultTag } from '../../src/runtime/fault-scope.js';
import { createRequestIdPrefix, logAccess, pathOf, requestId } from './access-log.js';
import type { LoadedApp } from './app-loader.js';
import type { HealthEndpoints } from './health.js';
import { RequestCounts } from './figures.js';
import { toNodeListener } from './fetch-adapter.js';
import type { RequestInterceptor } from './handle.js';
import { hasConflictingAuthority, hasDuplicateHost } from './host-header.js';
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
  /** Whether requests are counted and timed (`metrics`; default true). */
  readonly metrics?: boolean;
}

const kTracked = Symbol('hendrix.trackedSocket');

/** A connection the pipeline has seen; Node keeps the response being written in `_httpMessage`. */
type TrackedSocket = Socket & { [kTracked]?: true; _httpMessage?: ServerResponse | null };

/** Whose code the current request runs, when it runs in the request context (crosstown turned it on). */
const requestFault = (): unknown => (crosstownShared.apiLoaded ? requestContext.getStore()?.fault : undefined);

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The request path of an http service: static folders first, then the app; it knows the
 * responses in flight (for draining), writes the access log, and turns a failing handler into
 * a 500 for that one client. The hot path (a Node listener, no static folders, no access log)
 * costs one property check per request: connections, not requests, are tracked (one 'close'
 * listener per connection), and the response in flight on a connection is read only when a
 * drain begins. Counting (`metrics`, on by default) adds a clock read, three increments and
 * one shared 'close' listener per request (figures.ts).
 */
export class RequestPipeline {
  /** The prefix of request ids in logs. */
  readonly idPrefix = createRequestIdPrefix();
  /** What requests counted while `metrics` was on: one for the pipeline's life, so a reload keeps counting. */
  readonly counts = new RequestCounts();
  /** The composed handler: usable as the listener of any Node HTTP server. */
  readonly handleRequest: (req: IncomingMessage, res: ServerResponse) => void;

  #draining = false;
  #onSettled: (() => void) | undefined;
  #refuses: (socket: Socket | null) => boolean = () => false;
  #seq = 0;
  #listener: Listener | undefined;
  #crosstown: CrosstownHost | undefined;
  #statics: StaticFiles | undefined;
  #interceptors: readonly RequestInterceptor[] = [];
  #health: HealthEndpoints | undefined;
  /** The fault tag of the service instance that built this pipeline (its create runs under it). */
  readonly #fault = currentFaultTag();
  readonly #sockets = new Set<TrackedSocket>();
  readonly #log: Logger;
  #accessLog: Level | undefined;
  #exposeErrors = false;
  #counting = true;
  #onLogClose: (this: ServerResponse) => void = () => {};
  readonly #onDrainClose: () => void;
  readonly #onSocketClose: (this: TrackedSocket) => void;

  constructor(options: PipelineOptions) {
    this.#log = options.log;
    this.configure(options);
    this.#onDrainClose = () => {
      if (this.#draining) this.#onSettled?.();
    };
    const sockets = this.#sockets;
    this.#onSocketClose = function onSocketClose(this: TrackedSocket) {
      sockets.delete(this);
    };
    this.handleRequest = (req, res) => this.#handle(req, res);
    // a request's async work is blamed on this service through the request context, when it is
    // on; without it (no crosstown, no hooks: bare speed) the fault guard reads the stack
    addFaultReader(requestFault);
  }

  /**
   * Sets the access log level, whether a 500 carries the error message and whether requests are
   * counted (at construction, and at a reload: a request already running logs at the level it
   * started with, and is counted when it was counted at its start).
   */
  configure(options: Pick<PipelineOptions, 'accessLog' | 'exposeErrors' | 'metrics'>): void {
    const log = this.#log;
    const idPrefix = this.idPrefix;
    // the logger's level cannot change while the service runs: decide here, not per request
    const level = options.accessLog !== undefined && log.isLevelEnabled(options.accessLog) ? options.accessLog : undefined;
    this.#accessLog = level;
    this.#exposeErrors = options.exposeErrors;
    this.#counting = options.metrics ?? true;
    // one listener function for every response; `this` is the emitter
    this.#onLogClose = function onResponseClose(this: ServerResponse) {
      if (level !== undefined) logAccess(log, level, idPrefix, this);
    };
  }

  /** Whether requests are counted now (`metrics`). */
  get counting(): boolean {
    return this.#counting;
  }

  /** The responses in flight now (a response being written on a connection this pipeline served). */
  inflight(): ServerResponse[] {
    const out: ServerResponse[] = [];
    for (const socket of this.#sockets) {
      const res = socket._httpMessage;
      if (res && !res.writableFinished && !res.destroyed) out.push(res);
    }
    return out;
  }

  /** Sets the app requests go to after the static folders. */
  setApp(app: LoadedApp | undefined): void {
    this.#listener = app === undefined ? undefined : app.type === 'node' ? (app.listener as Listener) : toNodeListener(app.handler);
  }

  /**
   * Sets the crosstown runtime the app's requests schedule work with: each request then runs
   * the app inside the request context (one AsyncLocalStorage.run and a two-field object),
   * once the public API is loaded — an app that never imports it pays nothing.
   */
  setCrosstown(host: CrosstownHost | undefined): void {
    this.#crosstown = host;
  }

  /** The request id of a response for log lines, assigned now if it has none. */
  requestIdOf(res: ServerResponse): string {
    const tracked = res as ServerResponse & TrackedResponse;
    tracked[kSeq] ??= ++this.#seq;
    return requestId(this.idPrefix, res) as string;
  }

  /** Adds a handler asked before everything else; returns the function that removes it. */
  intercept(interceptor: RequestInterceptor): () => void {
    this.#interceptors = [...this.#interceptors, interceptor];
    return () => {
      this.#interceptors = this.#interceptors.filter((i) => i !== interceptor);
    };
  }

  /** Sets the static folders checked before the app. */
  setStatic(statics: StaticFiles | undefined): void {
    this.#statics = statics;
  }

  /** Sets the health endpoints (`health`), answered before everything else but the drain. */
  setHealth(health: HealthEndpoints | undefined): void {
    this.#health = health;
  }

  /**
   * Starts draining: every response from now on, and those in flight that have not sent
   * their headers yet, carry `Connection: close`; `onSettled` runs each time one closes. A
   * request on a connection `refuses` names (the drain has closed it) is dropped unprocessed.
   */
  drain(onSettled: () => void, refuses: (socket: Socket | null) => boolean = () => false): void {
    this.#draining = true;
    this.#onSettled = onSettled;
    this.#refuses = refuses;
    for (const res of this.inflight()) {
      if (!res.headersSent) res.setHeader('connection', 'close');
      res.once('close', this.#onDrainClose);
    }
  }

  /** Ends draining (a start after a stop). */
  resume(): void {
    this.#draining = false;
    this.#onSettled = undefined;
    this.#refuses = () => false;
  }

  /** Destroys every connection this pipeline served (forced stop). */
  destroyInflight(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // HTTP/2 streams share a session the TLS listener drains (GOAWAY); their `socket` is a
    // per-stream proxy (made on first read: not read here) that must not be tracked, and
    // `Connection` is not an HTTP/2 header
    const h1 = req.httpVersionMajor !== 2;
    // the drain's FIN crossed this request: it is not processed, and no byte of an answer tells
    // the client so (it may send it again on a new connection)
    if (this.#draining && h1 && this.#refuses(req.socket)) return void req.resume();
    if (h1) {
      const socket = req.socket as TrackedSocket | null;
      if (socket && socket[kTracked] !== true) {
        socket[kTracked] = true;
        this.#sockets.add(socket);
        socket.once('close', this.#onSocketClose);
      }
    }
    // a probe: answered here, neither counted nor logged as a request (its connection is tracked, for the drain)
    const health = this.#health;
    if (health !== undefined) {
      const probe = health.match(req.url);
      if (probe !== undefined) return health.answer(probe, req, res, h1, this.#draining);
    }
    if (this.#counting) this.counts.begin(res);
    if (this.#accessLog !== undefined) {
      // without an access log nothing is stored: a failing request gets its id when it fails
      const tracked = res as ServerResponse & TrackedResponse;
      tracked[kSeq] = ++this.#seq;
      tracked[kStart] ??= performance.now();
      tracked[kWire] = req.socket?.bytesWritten;
      res.on('close', this.#onLogClose);
    }
    if (this.#draining) {
      if (h1) res.setHeader('connection', 'close');
      res.once('close', this.#onDrainClose);
    }
    if (h1 ? hasDuplicateHost(req.rawHeaders) : hasConflictingAuthority(req.headers)) {
      this.#refuseHost(req, res, h1);
      return;
    }
    const interceptors = this.#interceptors;
    if (interceptors.length > 0 && this.#intercepted(interceptors, req, res)) return;
    const statics = this.#statics;
    if (statics !== undefined) {
      const match = statics.match(req.url);
      if (match !== undefined) {
        // the app of the moment the request came: a reload meanwhile does not change it
        this.#serveStatic(statics, req, res, match, this.#listener);
        return;
      }
    }
    this.#dispatch(req, res, false, this.#listener);
  }

  /** A request naming two hosts: 400, and over HTTP/1.1 the connection closes after it. */
  #refuseHost(req: IncomingMessage, res: ServerResponse, h1: boolean): void {
    this.#log.debug({ method: req.method, path: pathOf(req.url) }, 'more than one host');
    if (h1) res.setHeader('connection', 'close');
    sendStatus(res, 400, { body: 'Bad Request: more than one host\n' });
  }

  #intercepted(interceptors: readonly RequestInterceptor[], req: IncomingMessage, res: ServerResponse): boolean {
    try {
      for (const interceptor of interceptors) if (interceptor(req, res)) return true;
    } catch (error) {
      this.fail(req, res, error);
      return true;
    }
    return false;
  }

  #serveStatic(statics: StaticFiles, req: IncomingMessage, res: ServerResponse, match: StaticMatch, listener: Listener | undefined): void {
    statics.serve(req, res, match).then(
      (outcome) => {
        if (outcome !== 'served') this.#dispatch(req, res, outcome === 'method', listener);
      },
      (error: unknown) => this.fail(req, res, error),
    );
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, staticMethodMismatch: boolean, listener: Listener | undefined): void {
    if (listener === undefined) {
      if (staticMethodMismatch) sendStatus(res, 405, { headers: { allow: 'GET, HEAD' } });
      else sendStatus(res, 404);
      return;
    }
    try {
      const host = this.#crosstown;
      const result =
        host === undefined || !crosstownShared.apiLoaded ? listener(req, res) : requestContext.run({ res, host, fault: this.#fault }, listener, req, res);
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
}
