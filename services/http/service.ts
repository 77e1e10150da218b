import { createServer, STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import { formatDuration } from '../../src/kinds/units.js';
import type { CommonServiceConfig, Figure, Service, ServiceContext } from '../../src/kinds/contract.js';
import { accessLogLevel } from './access-log.js';
import { HttpConnections } from './connections.js';
import { createHealth } from './health.js';
import { CrosstownSlot } from './crosstown-slot.js';
import { httpFigures } from './figures.js';
import { applyServerLimits } from './limits.js';
import { listenOn } from '../../src/net/listen.js';
import { changedParts, generationOf, prepareApp, prepareStatics, type Generation } from './reload.js';
import { RequestPipeline } from './request-pipeline.js';
import type { HttpConfig } from './schema.js';
import type { HttpHandle, HttpLimits } from './handle.js';
import { Upgrades } from './upgrades.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';

export type { HttpHandle, UpgradeListener, RequestInterceptor } from './handle.js';
export type { AppContext } from './app-loader.js';

function onClientError(this: Logger, error: NodeJS.ErrnoException, socket: Duplex): void {
  const code = error.code;
  const pending = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  this.debug({ code }, 'client error');
  const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}

/**
 * The `http` kind's service: a Node HTTP server running an app module (a Node listener, a
 * `{ fetch }` handler or a factory of either) behind optional static folders, with limits, an
 * access log, graceful drain, upgrade hand-off, and in-place reloads (reload.ts). The
 * constructor opens nothing.
 */
export class HttpService implements Service {
  readonly #ctx: ServiceContext<HttpConfig>;
  readonly #pipeline: RequestPipeline;
  readonly #upgrades: Upgrades;
  readonly #handle: HttpHandle;
  readonly #crosstown: CrosstownSlot;
  /** Who runs this service's handler on servers of their own and wants its limits (handle.onLimits). */
  readonly #limitListeners = new Set<(limits: HttpLimits) => void>();
  /** What requests run with now: the config given at create or by the last reload, and what was prepared from it. */
  #current: Generation;
  /** The generation before the last reload: a reload back to its very config (a rollback) restores it. */
  #previous: Generation | undefined;
  /** Reloads and rebinds, one after another. */
  #changing: Promise<unknown> = Promise.resolve();
  #server: Server | undefined;
  #connections: HttpConnections | undefined;
  #bound: ListenAddress | undefined;
  #stopping: Promise<void> | undefined;
  #stopRequested = false;

  constructor(ctx: ServiceContext<HttpConfig>) {
    this.#ctx = ctx;
    this.#current = generationOf(ctx.config, undefined, undefined);
    this.#pipeline = new RequestPipeline({ log: ctx.log, accessLog: accessLogLevel(ctx.config.accessLog), exposeErrors: ctx.config.exposeErrors, metrics: ctx.config.metrics });
    this.#upgrades = new Upgrades(ctx.log);
    this.#pipeline.setHealth(createHealth(ctx.config.health, ctx.graph));
    const pipeline = this.#pipeline;
    this.#crosstown = new CrosstownSlot({
      log: ctx.log,
      baseDir: ctx.baseDir,
      service: ctx.name,
      locate: (path) => ctx.locate(path),
      requestId: (res) => pipeline.requestIdOf(res),
      inflight: () => pipeline.inflight(),
      // each worker slot journals apart; the worker that takes the slot after a crash replays it
      journalFile: ctx.cluster ? `journal-w${ctx.cluster.worker.id}.jsonl` : undefined,
    });
    this.#handle = this.#makeHandle();
  }

  /** Loads the app, then listens; resolves once connections are accepted. */
  async start(signal: AbortSignal): Promise<void> {
    const { log } = this.#ctx;
    const config = this.#current.config;
    this.#stopRequested = false;
    this.#stopping = undefined;
    this.#pipeline.resume();
    this.#upgrades.open();
    // a fresh runtime per start: the last one was drained and closed by stop
    this.#pipeline.setCrosstown(this.#crosstown.start(config.crosstown));
    const statics = await prepareStatics(this.#ctx, undefined, config, log);
    this.#pipeline.setStatic(statics);
    const app = await prepareApp(this.#ctx, undefined, config, signal, { check: false, config: () => this.#current.config });
    this.#pipeline.setApp(app?.app);
    this.#current = generationOf(config, app, statics);
    signal.throwIfAborted();
    if (this.#stopRequested) throw new Error('stopped while starting');

    const limits = this.#current.limits;
    const server = createServer(
      {
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        keepAliveTimeout: limits.keepAliveTimeout,
        maxHeaderSize: limits.maxHeaderSize,
        connectionsCheckingInterval: limits.connectionsCheckingInterval,
      },
      this.#pipeline.handleRequest,
    );
    server.keepAliveTimeout = limits.keepAliveTimeout;
    server.on('clientError', onClientError.bind(log));
    const connections = new HttpConnections();
    connections.track(server);
    // server.close() would destroy idle keep-alive connections at once, losing a request a
    // client is sending right then: the drain closes them itself (connections.ts)
    server.closeIdleConnections = () => undefined;
    this.#server = server;
    this.#connections = connections;
    const detachUpgrades = this.#upgrades.attach(server);
    server.once('close', detachUpgrades);

    try {
      this.#bound = await listenOn(server, config.listen, { service: this.#ctx.name, baseDir: this.#ctx.baseDir, location: this.#ctx.locate(['listen']) });
      if (this.#stopRequested) throw new Error('stopped while starting');
      signal.throwIfAborted();
    } catch (error) {
      if (server.listening) server.close();
      server.closeAllConnections();
      detachUpgrades();
      this.#server = undefined;
      this.#connections = undefined;
      this.#bound = undefined;
      throw error;
    }
    // from here an error of the server is a crash of the service
    server.on('error', (error) => this.#ctx.crashed(error));
    log.info({ address: formatListen(this.#bound) }, 'listening');
  }

  /**
   * Drains: stops accepting, closes idle keep-alive connections (cleanly, never while a request
   * arrives on one: connections.ts) — at once, or after a last call when this worker is retired
   * and others serve on — lets requests in flight finish (answering with `Connection: close`),
   * and when `signal` aborts destroys whatever is left. Safe before start, after a failed
   * start, and twice.
   */
  stop(signal: AbortSignal): Promise<void> {
    this.#stopRequested = true;
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  /**
   * The HTTP drain first (no new requests; work scheduled by the responses still in flight
   * joins the queue), for at most `stopTimeout`: then what is still open is closed and the stop
   * reports HX_ERR_STOP_TIMEOUT. Then the crosstown drain: running and queued tasks, for at most
   * `crosstown.drainTimeout`. The orchestrator allows both (the kind's stopDeadline) and forces
   * only after that, or on a second signal.
   */
  async #stopAll(signal: AbortSignal): Promise<void> {
    let failure: unknown;
    // the kind's config type lacks the common fields the orchestrator adds
    const stopTimeout = (this.#current.config as Partial<CommonServiceConfig>).stopTimeout ?? 0;
    try {
      if (await this.#drainWithin(stopTimeout, signal)) {
        const name = this.#ctx.name;
        failure = new HendrixError('HX_ERR_STOP_TIMEOUT', {
          message: `${name} (http): requests in flight outlasted stopTimeout (${formatDuration(stopTimeout)}); their connections were closed`,
          path: ['services', name, 'stopTimeout'],
          service: name,
          location: this.#ctx.locate(['stopTimeout']),
        });
      }
    } catch (error) {
      failure = error;
    }
    try {
      await this.#crosstown.drain(signal);
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) throw failure;
  }

  /** The HTTP drain, forced when `signal` aborts or after `ms` (0: no limit); true when `ms` forced it. */
  async #drainWithin(ms: number, signal: AbortSignal): Promise<boolean> {
    const drain = new AbortController();
    const forward = (): void => drain.abort(signal.reason);
    let timedOut = false;
    const timer =
      ms > 0
        ? setTimeout(() => {
            timedOut = true;
            drain.abort();
          }, ms)
        : undefined;
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    try {
      await this.#drain(drain.signal);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    }
    return timedOut;
  }

  async #drain(signal: AbortSignal): Promise<void> {
    const server = this.#server;
    const connections = this.#connections;
    if (server === undefined || connections === undefined) return;
    const pipeline = this.#pipeline;
    const upgrades = this.#upgrades;
    const force = (): void => {
      this.#ctx.log.warn({ inflight: pipeline.inflight().length }, 'forcing connections closed');
      connections.destroyAll();
      server.closeAllConnections();
      pipeline.destroyInflight();
      upgrades.destroyAll();
    };
    try {
      if (!server.listening) return;
      const closed = new Promise<void>((done) => server.close(() => done()));
      upgrades.close();
      pipeline.drain(
        () => connections.sweep(),
        (socket) => connections.closedByDrain(socket),
      );
      // retired, other workers take the next connections: give the open ones a last call
      connections.start({ lastCall: this.#ctx.cluster?.retiring === true, isUpgraded: (socket) => upgrades.has(socket) });
      const inflight = pipeline.inflight().length;
      if (inflight) this.#ctx.log.info({ inflight }, 'draining');
      if (signal.aborted) force();
      else signal.addEventListener('abort', force, { once: true });
      await closed;
    } finally {
      connections.stop();
      signal.removeEventListener('abort', force);
      this.#server = undefined;
      this.#connections = undefined;
      this.#bound = undefined;
    }
  }

  /**
   * Applies a changed config (and changed app code) in place: the new app is imported (a fresh
   * generation of its project modules when their content changed), its factory run, the static
   * folders checked and a crosstown runtime built if needed — all before anything switches;
   * then requests from now on get the new app, limits and logs at once, requests running finish
   * on the old ones, and no connection closes. Rejects (with the app's file:line:col when its
   * code fails) and keeps serving as before when preparing fails. A reload back to the very
   * config object the service ran before the last one (a rollback) restores that app without
   * importing: the files on disk may hold the new code.
   */
  reload(next: unknown, signal: AbortSignal): Promise<void> {
    return this.#serially(() => this.#reload(next as HttpConfig, signal, false));
  }

  /**
   * Re-attaches to a dependency a reload replaced: an app made by a factory (which may hold the
   * dependency's handle from `ctx.peer`) is made again, from the same module and config, and
   * takes over new requests; a plain app holds no handle and stays.
   */
  rebind(_peer: string, signal: AbortSignal): Promise<void> {
    if (this.#current.app?.module.shape.type !== 'factory') return Promise.resolve();
    return this.#serially(() => this.#reload(this.#current.config, signal, true));
  }

  #serially(run: () => Promise<void>): Promise<void> {
    const done = this.#changing.then(run);
    this.#changing = done.catch(() => undefined);
    return done;
  }

  async #reload(config: HttpConfig, signal: AbortSignal, rerun: boolean): Promise<void> {
    const { log } = this.#ctx;
    const current = this.#current;
    const back = !rerun && this.#previous !== undefined && config === this.#previous.config ? this.#previous : undefined;
    const app = back ? back.app : await prepareApp(this.#ctx, current.app, config, signal, { check: true, rerun, config: () => this.#current.config });
    const statics = back ? back.statics : await prepareStatics(this.#ctx, current, config, log);
    signal.throwIfAborted();
    const crosstown = this.#crosstown.prepare(config.crosstown);
    const next = generationOf(config, app, statics);
    // the switch: nothing below can fail, and nothing in between lets a request in
    const host = crosstown.commit();
    this.#pipeline.setCrosstown(host);
    this.#pipeline.setStatic(next.statics);
    this.#pipeline.setApp(next.app?.app);
    this.#pipeline.setHealth(createHealth(config.health, this.#ctx.graph));
    this.#pipeline.configure({ accessLog: accessLogLevel(config.accessLog), exposeErrors: config.exposeErrors, metrics: config.metrics });
    if (this.#server !== undefined) applyServerLimits(this.#server, next.limits);
    this.#previous = current;
    this.#current = next;
    if (JSON.stringify(current.limits) !== JSON.stringify(next.limits)) this.#tellLimits(next.limits);
    log.info({ changed: rerun ? ['app (rebound)'] : changedParts(current, next) }, 'reloaded');
  }

  /** Tells the servers running this service's handler elsewhere (TLS listeners) its new limits. */
  #tellLimits(limits: HttpLimits): void {
    for (const listener of this.#limitListeners) {
      try {
        listener(limits);
      } catch (err) {
        this.#ctx.log.error({ err }, 'limits listener failed');
      }
    }
  }

  /** The bound address as text, for the "all ready" line. */
  address(): string | undefined {
    return this.#bound === undefined ? undefined : formatListen(this.#bound);
  }

  /**
   * Requests by status class, in flight and their durations (those a tls listener serving this
   * service handled too: they run through this pipeline), and the crosstown work, summed over
   * the runtimes reloads built. With `metrics: false`, in flight only, read from the HTTP/1.1
   * connections (requests of HTTP/2 streams are not among them).
   */
  figures(): readonly Figure[] {
    const pipeline = this.#pipeline;
    const counting = pipeline.counting;
    return httpFigures(counting ? pipeline.counts : undefined, counting ? 0 : pipeline.inflight().length, this.#crosstown.totals());
  }

  /** What dependents get from `ctx.peer(name)`: see HttpHandle. */
  handle(): HttpHandle {
    return this.#handle;
  }

  #makeHandle(): HttpHandle {
    const service = this;
    return {
      address: () => service.#bound,
      get url() {
        return service.address();
      },
      get server() {
        return service.#server;
      },
      get limits() {
        return service.#current.limits;
      },
      handleRequest: this.#pipeline.handleRequest,
      handleUpgrade: this.#upgrades.dispatch,
      attachUpgrades: (server) => service.#upgrades.attach(server),
      onUpgrade: (listener) => service.#upgrades.add(listener),
      intercept: (interceptor) => service.#pipeline.intercept(interceptor),
      isUpgraded: (socket) => service.#upgrades.has(socket),
      onLimits: (listener) => {
        service.#limitListeners.add(listener);
        return () => void service.#limitListeners.delete(listener);
      },
      crosstown: { stats: () => service.#crosstown.stats() },
    };
  }
}
