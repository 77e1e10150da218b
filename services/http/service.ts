import { createServer, STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { crosstownShared } from '../../src/crosstown/context.js';
import { CrosstownRuntime, emptyStats } from '../../src/crosstown/runtime.js';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import { formatDuration } from '../../src/kinds/units.js';
import type { CommonServiceConfig, Service, ServiceContext } from '../../src/kinds/contract.js';
import { accessLogLevel } from './access-log.js';
import { loadApp } from './app-loader.js';
import { httpLimits } from './limits.js';
import { listenOn } from '../../src/net/listen.js';
import { RequestPipeline } from './request-pipeline.js';
import type { HttpConfig } from './schema.js';
import type { HttpHandle } from './handle.js';
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
 * access log, graceful drain and upgrade hand-off. The constructor opens nothing.
 */
export class HttpService implements Service {
  readonly #ctx: ServiceContext<HttpConfig>;
  readonly #pipeline: RequestPipeline;
  readonly #upgrades: Upgrades;
  readonly #handle: HttpHandle;
  #server: Server | undefined;
  #crosstown: CrosstownRuntime | undefined;
  #bound: ListenAddress | undefined;
  #stopping: Promise<void> | undefined;
  #stopRequested = false;

  constructor(ctx: ServiceContext<HttpConfig>) {
    this.#ctx = ctx;
    this.#pipeline = new RequestPipeline({ log: ctx.log, accessLog: accessLogLevel(ctx.config.accessLog), exposeErrors: ctx.config.exposeErrors });
    this.#upgrades = new Upgrades(ctx.log);
    this.#handle = this.#makeHandle();
  }

  /** Loads the app, then listens; resolves once connections are accepted. */
  async start(signal: AbortSignal): Promise<void> {
    const { config, log } = this.#ctx;
    this.#stopRequested = false;
    this.#stopping = undefined;
    this.#pipeline.resume();
    this.#upgrades.open();
    // a fresh runtime per start: the last one was drained and closed by stop
    const pipeline = this.#pipeline;
    const crosstown = new CrosstownRuntime({
      config: config.crosstown,
      log: log.child({ component: 'crosstown' }),
      baseDir: this.#ctx.baseDir,
      requestId: (res) => pipeline.requestIdOf(res),
    });
    this.#crosstown = crosstown;
    crosstown.start();
    pipeline.setCrosstown(crosstown);
    // work scheduled outside any request (a timer, app start-up) goes to the first running service
    crosstownShared.runtimes.add(crosstown);
    if (config.static !== undefined) {
      // loaded only when used: `send` and its MIME database cost ~40 ms of start-up
      const { StaticFiles } = await import('./static-files.js');
      const statics = new StaticFiles(config.static, this.#ctx.baseDir, log);
      await statics.init(this.#ctx);
      this.#pipeline.setStatic(statics);
    }
    if (config.app !== undefined) this.#pipeline.setApp(await loadApp(this.#ctx, signal));
    signal.throwIfAborted();
    if (this.#stopRequested) throw new Error('stopped while starting');

    const limits = this.#handle.limits;
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
    this.#server = server;
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
      this.#bound = undefined;
      throw error;
    }
    // from here an error of the server is a crash of the service
    server.on('error', (error) => this.#ctx.crashed(error));
    log.info({ address: formatListen(this.#bound) }, 'listening');
  }

  /**
   * Drains: stops accepting, closes idle keep-alive connections at once, lets requests in
   * flight finish (answering with `Connection: close`), and when `signal` aborts destroys
   * whatever is left. Safe before start, after a failed start, and twice.
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
    const stopTimeout = (this.#ctx.config as Partial<CommonServiceConfig>).stopTimeout ?? 0;
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
    const crosstown = this.#crosstown;
    if (crosstown !== undefined) {
      try {
        await crosstown.drain({ signal });
      } catch (error) {
        failure ??= error;
      } finally {
        crosstownShared.runtimes.delete(crosstown);
      }
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
    if (server === undefined) return;
    const pipeline = this.#pipeline;
    const upgrades = this.#upgrades;
    const force = (): void => {
      this.#ctx.log.warn({ inflight: pipeline.inflight().length }, 'forcing connections closed');
      server.closeAllConnections();
      pipeline.destroyInflight();
      upgrades.destroyAll();
    };
    try {
      if (!server.listening) return;
      const closed = new Promise<void>((done) => server.close(() => done()));
      upgrades.close();
      pipeline.drain(() => server.closeIdleConnections());
      server.closeIdleConnections();
      const inflight = pipeline.inflight().length;
      if (inflight) this.#ctx.log.info({ inflight }, 'draining');
      if (signal.aborted) force();
      else signal.addEventListener('abort', force, { once: true });
      await closed;
    } finally {
      signal.removeEventListener('abort', force);
      this.#server = undefined;
      this.#bound = undefined;
    }
  }

  /** The bound address as text, for the "all ready" line. */
  address(): string | undefined {
    return this.#bound === undefined ? undefined : formatListen(this.#bound);
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
      limits: httpLimits(this.#ctx.config),
      handleRequest: this.#pipeline.handleRequest,
      handleUpgrade: this.#upgrades.dispatch,
      attachUpgrades: (server) => service.#upgrades.attach(server),
      onUpgrade: (listener) => service.#upgrades.add(listener),
      intercept: (interceptor) => service.#pipeline.intercept(interceptor),
      isUpgraded: (socket) => service.#upgrades.has(socket),
      crosstown: { stats: () => service.#crosstown?.stats() ?? emptyStats() },
    };
  }
}
