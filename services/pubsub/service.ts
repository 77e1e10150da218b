import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { HendrixError } from '../../src/errors/hendrix-error.js';
import { formatListen, type ListenAddress } from '../../src/kinds/fields.js';
import type { Figure, Service, ServiceContext } from '../../src/kinds/contract.js';
import { listenOn } from '../../src/net/listen.js';
import type { HttpHandle } from '../http/handle.js';
import { Authenticator, tokenOf, verifyCurrent, type AuthContext, type Grant } from './auth.js';
import type { Backplane } from './backplane.js';
import { createBackplane, startBackplane } from './backplane-start.js';
import { Connection, type ConnectionHost } from './connection.js';
import type { PubsubHandle } from './handle.js';
import { closeClients } from './drain.js';
import { handleHttpPublish } from './http-publish.js';
import { Hub, hubFigures } from './hub.js';
import { makePubsubHandle } from './hub-handle.js';
import { PublishBucket } from './limits.js';
import { historyLimits, prepareReload, type PreparedReload } from './reload.js';
import type { PubsubConfig } from './schema.js';
import { TopicRules } from './topic-rules.js';
// the kind's error codes, declared also when the service is built without its kind (tests)
import './codes.js';

/** The handle type, published in handle.ts (what other kinds import); here for the service's users. */
export type { PubsubHandle } from './handle.js';

function refuse(socket: Duplex, status: number, text: string, extra = ''): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text) + 1}\r\n${extra}\r\n${text}\n`, () => socket.destroy());
}

/**
 * The `pubsub` kind's service: a WebSocket pub/sub hub attached to an http service (and so to
 * every tls listener serving it) or listening on its own, with wildcards, history, auth, topic
 * schemas, HTTP publish, limits, coalesced fan-out and an optional Redis backplane.
 */
export class PubsubService implements Service {
  readonly #ctx: ServiceContext<PubsubConfig>;
  /** The config in effect: ctx.config at first, then what each reload(next) gave. */
  #config: PubsubConfig;
  readonly #connections = new Set<Connection>();
  readonly #handle: PubsubHandle;
  #hub: Hub | undefined;
  #backplane: Backplane | undefined;
  #auth: Authenticator | undefined;
  #wss: WebSocketServer | undefined;
  #server: Server | undefined;
  #bound: ListenAddress | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Unregisters the hub from the http service it is attached to (its upgrade listener and interceptor). */
  #detach: (() => void) | undefined;
  #accepting = false;
  /** Upgrades whose token is being verified: they count against maxConnections already. */
  #upgrading = 0;
  /** The publish rate limit of each HTTP connection, forgotten with it. */
  readonly #httpBuckets = new WeakMap<object, PublishBucket>();
  #stopping: Promise<void> | undefined;
  #attached: HttpHandle | undefined;
  readonly #host: ConnectionHost;

  constructor(ctx: ServiceContext<PubsubConfig>) {
    this.#ctx = ctx;
    this.#config = ctx.config;
    this.#handle = makePubsubHandle({ name: ctx.name, hub: () => this.#hub, connections: () => this.#connections.size, bound: () => this.#bound });
    const self = this;
    // getters: a reload changes these for the connections already open
    this.#host = {
      get hub() {
        return self.#hub as Hub;
      },
      get auth() {
        return self.#auth as Authenticator;
      },
      log: ctx.log,
      get maxSubscriptions() {
        return self.#config.maxSubscriptions;
      },
      get maxBuffered() {
        return self.#config.maxBuffered;
      },
      get slowConsumer() {
        return self.#config.slowConsumer;
      },
      get publishRate() {
        return self.#config.limits.publishRate;
      },
      get publishBurst() {
        return self.#config.limits.publishBurst;
      },
      closed: (connection) => void self.#connections.delete(connection),
    };
  }

  /** Loads schemas and keys, connects the backplane, then takes upgrades; resolves once clients can connect. */
  async start(signal: AbortSignal): Promise<void> {
    this.#stopping = undefined;
    const { log } = this.#ctx;
    const config = this.#config;
    const attachTo = config.attach === undefined ? undefined : this.#peerHttp(config.attach);
    const where = this.#where();
    const rules = await TopicRules.create(config.topics, where);
    this.#auth = await Authenticator.create(config.auth, where);
    const backplane = await createBackplane(this.#ctx, config);
    this.#backplane = backplane;
    const hub = new Hub({ rules, backplane, log, limits: historyLimits(config) });
    this.#hub = hub;
    try {
      await startBackplane(this.#ctx, config, backplane, signal);
    } catch (error) {
      this.#hub = undefined;
      hub.close();
      throw error;
    }
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayload, perMessageDeflate: false, clientTracking: false });
    this.#accepting = true;
    try {
      if (attachTo !== undefined) this.#attach(attachTo);
      else await this.#listen();
    } catch (error) {
      await this.#teardown();
      throw error;
    }
    this.#startHeartbeat();
    log.info({ path: config.path, ...(config.attach ? { attach: config.attach } : { address: this.address() }), backplane: config.backplane.replace(/\/\/[^@/]*@/, '//***@') }, 'hub ready');
  }

  /** Where schema and key problems are reported. */
  #where(): AuthContext {
    return { service: this.#ctx.name, baseDir: this.#ctx.baseDir, locate: (path) => this.#ctx.locate(path) };
  }

  /** The handle of the http service named `attach`; HX_ERR_PUBSUB_ATTACH when it is not one. */
  #peerHttp(attach: string): HttpHandle {
    const { name } = this.#ctx;
    const peer = this.#ctx.peer<Partial<HttpHandle>>(attach);
    if (typeof peer?.onUpgrade !== 'function' || typeof peer.intercept !== 'function') {
      throw new HendrixError('HX_ERR_PUBSUB_ATTACH', { service: name, path: ['services', name, 'attach'], location: this.#ctx.locate(['attach']), message: `\`attach: ${attach}\` names a service that is not of kind http` });
    }
    return peer as HttpHandle;
  }

  /**
   * Registers the hub's upgrade listener and interceptor on `http`, then removes those it had on
   * the previous handle (a rebind): for a moment both answer, never neither.
   */
  #attach(http: HttpHandle): void {
    const offUpgrade = http.onUpgrade((req, socket, head) => this.#upgrade(req, socket, head));
    const offIntercept = http.intercept((req, res) => this.#request(req, res));
    this.#detach?.();
    this.#attached = http;
    this.#detach = () => {
      offUpgrade();
      offIntercept();
    };
  }

  #startHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const every = this.#config.heartbeat;
    if (every <= 0) return;
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#connections) connection.heartbeat();
    }, every);
  }

  /**
   * Applies a changed config in place (canReloadPubsub says which fields): schemas are compiled
   * and the JWT key read first — a broken one rejects with its HendrixError and the hub goes on
   * with its previous config — then everything switches at once. Clients stay connected;
   * history and ids go on. When auth changed, every connection's token is checked again:
   * subscriptions the new permissions no longer cover end with a `revoked` error frame, and a
   * connection whose token is no longer valid falls back to the anonymous permissions
   * (Connection.regrade). Limits apply to what comes next.
   */
  async reload(next: unknown, signal: AbortSignal): Promise<void> {
    const config = next as PubsubConfig;
    if (this.#hub === undefined) {
      // not running: the next start uses it
      this.#config = config;
      return;
    }
    const prepared = await prepareReload({ current: this.#config, next: config, auth: this.#auth as Authenticator, connections: this.#connections, where: this.#where(), signal });
    if (this.#hub === undefined) return; // stopped meanwhile
    const rechecks = this.#switch(prepared);
    this.#ctx.log.info({ changed: prepared.changed }, 'reloaded');
    await Promise.all(rechecks);
  }

  /** Switches to a prepared config; nothing here can fail. Returns the token checks still running. */
  #switch(prepared: PreparedReload): Promise<void>[] {
    const previous = this.#config;
    const config = prepared.config;
    const hub = this.#hub as Hub;
    this.#config = config;
    hub.setRules(prepared.rules);
    hub.setLimits(historyLimits(config));
    if (config.maxPayload !== previous.maxPayload) {
      // ws fixes maxPayload per connection when it accepts it: the open ones keep theirs
      this.#wss = new WebSocketServer({ noServer: true, maxPayload: config.maxPayload, perMessageDeflate: false, clientTracking: false });
    }
    if (config.heartbeat !== previous.heartbeat) this.#startHeartbeat();
    const rechecks: Promise<void>[] = [];
    if (prepared.auth !== undefined) {
      this.#auth = prepared.auth;
      for (const connection of this.#connections) {
        const graded = prepared.grants.get(connection);
        // a connection accepted, or authenticated again, since its token was checked: check it now
        if (graded !== undefined && graded.token === connection.token) connection.regrade(graded.grant);
        else rechecks.push(connection.recheck());
      }
    }
    return rechecks;
  }

  /**
   * Follows the http service the hub is attached to when a reload replaced it: registers on the
   * new instance's handle (`ctx.peer(attach)` now gives it) and unregisters from the old one.
   * The WebSocket connections already open stay: they are sockets the hub holds, no longer the
   * old server's requests. Called again with the old handle back when the reload rolls back.
   */
  async rebind(peer: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const attach = this.#config.attach;
    if (peer !== attach || this.#hub === undefined || this.#detach === undefined) return;
    const http = this.#peerHttp(attach);
    if (http === this.#attached) return;
    this.#attach(http);
    this.#ctx.log.info({ attach }, 'rebound');
  }

  async #listen(): Promise<void> {
    const { name, baseDir } = this.#ctx;
    const config = this.#config;
    const server = createServer((req, res) => {
      if (!this.#request(req, res)) res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`connect with a WebSocket to ${this.#config.path}\n`);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => socket.destroy());
      if (this.#upgrade(req, socket, head) === false) refuse(socket, 404, 'Not Found');
    });
    this.#server = server;
    this.#bound = await listenOn(server, config.listen as ListenAddress, { service: name, baseDir, location: this.#ctx.locate(['listen']) });
    server.on('error', (error) => this.#ctx.crashed(error));
  }

  /** Answers HTTP publish requests under the hub path; false for every other request. */
  #request(req: IncomingMessage, res: ServerResponse): boolean {
    const config = this.#config;
    const url = req.url ?? '/';
    if (!url.startsWith(config.path)) return false;
    const rest = url.slice(config.path.length);
    if (config.httpPublish && rest.startsWith('/publish/')) {
      handleHttpPublish(req, res, { hub: this.#hub as Hub, auth: this.#auth as Authenticator, prefix: `${config.path}/publish/`, maxPayload: config.maxPayload, log: this.#ctx.log, accepting: () => this.#accepting, bucket: (r) => this.#httpBucket(r) });
      return true;
    }
    if (rest === '' || rest.startsWith('?')) {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' }).end(`connect with a WebSocket to ${config.path}\n`);
      return true;
    }
    return false;
  }

  #httpBucket(req: IncomingMessage): PublishBucket {
    const { limits } = this.#config;
    let bucket = this.#httpBuckets.get(req.socket);
    if (bucket === undefined) {
      bucket = new PublishBucket(limits.publishRate, limits.publishBurst, performance.now());
      this.#httpBuckets.set(req.socket, bucket);
    }
    bucket.follow(limits.publishRate, limits.publishBurst);
    return bucket;
  }

  /** Takes a WebSocket upgrade for the hub path; false to let another handler have it. */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean | void {
    const { log } = this.#ctx;
    const config = this.#config;
    const url = new URL(req.url ?? '/', 'http://hub');
    if (url.pathname !== config.path) return false;
    if (!this.#accepting) return refuse(socket, 503, 'Service Unavailable');
    const origin = req.headers.origin;
    if (origin !== undefined && config.origins !== undefined && !config.origins.includes(origin)) {
      log.debug({ origin }, 'origin refused');
      return refuse(socket, 403, 'Forbidden');
    }
    if (this.#connections.size + this.#upgrading >= config.maxConnections) {
      this.#hub?.watch.bite('maxConnections', config.maxConnections);
      return refuse(socket, 503, 'Service Unavailable', 'Retry-After: 5\r\n');
    }
    const auth = this.#auth as Authenticator;
    const token = tokenOf(req, url);
    const accept = (grant: Grant, needsAuth: boolean): void => {
      if (!this.#accepting || socket.destroyed) return refuse(socket, 503, 'Service Unavailable');
      (this.#wss as WebSocketServer).handleUpgrade(req, socket, head, (ws) => {
        const connection = new Connection(ws, socket, grant, this.#host, { needsAuth, token });
        this.#connections.add(connection);
        // a reload switched auth since this upgrade began: check the token under the new one
        if (this.#auth !== auth) void connection.recheck();
      });
    };
    if (token === undefined) {
      const anonymous = auth.anonymous();
      accept(anonymous, auth.enabled && anonymous.publish.length === 0 && anonymous.subscribe.length === 0);
      return;
    }
    this.#upgrading++;
    verifyCurrent(() => this.#auth as Authenticator, token)
      .then(
        (grant) => (grant === undefined ? refuse(socket, 401, 'Unauthorized') : accept(grant, false)),
        () => refuse(socket, 401, 'Unauthorized'),
      )
      .finally(() => this.#upgrading--);
  }

  /**
   * Stops taking upgrades, closes every client with 1001 "going away" — 1012 "service restart"
   * when the primary retires this worker to replace it, so clients reconnect (with `since`) at
   * once — after what was queued for it, waits for them to close — terminating the rest when
   * `signal` aborts — then disconnects the backplane.
   */
  stop(signal: AbortSignal): Promise<void> {
    this.#stopping ??= this.#stopAll(signal);
    return this.#stopping;
  }

  async #stopAll(signal: AbortSignal): Promise<void> {
    const restart = this.#ctx.cluster?.retiring === true;
    this.#accepting = false;
    this.#release();
    this.#server?.close();
    clearInterval(this.#heartbeat);
    if (this.#connections.size > 0) this.#ctx.log.info({ connections: this.#connections.size, restart }, 'closing clients');
    await closeClients(this.#connections, signal, restart ? { code: 1012, reason: 'service restart' } : undefined);
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    this.#accepting = false;
    this.#release();
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const connection of this.#connections) connection.terminate();
    this.#connections.clear();
    if (this.#server !== undefined) {
      this.#server.closeAllConnections();
      if (this.#server.listening) this.#server.close();
    }
    this.#server = undefined;
    this.#bound = undefined;
    this.#wss?.close();
    this.#wss = undefined;
    const backplane = this.#backplane;
    this.#backplane = undefined;
    this.#hub?.close();
    this.#hub = undefined;
    await backplane?.stop();
  }

  /**
   * Unregisters from the http service attached to — except in a retired worker: there the http
   * service outlives the hub only to drain, and the hub path must not fall through to the app
   * (which would answer a publish or an upgrade as its own page): it keeps answering 503 with
   * `Connection: close`, so that the client tries again on a new connection, which another
   * worker takes.
   */
  #release(): void {
    if (this.#ctx.cluster?.retiring === true) return;
    this.#detach?.();
    this.#detach = undefined;
  }

  /** The WebSocket URL of the hub: on its own address, or on the http service it is attached to. */
  address(): string | undefined {
    const path = this.#config.path === '/' ? '' : this.#config.path;
    if (this.#bound !== undefined) return formatListen(this.#bound, 'ws') + path;
    const url = this.#hub === undefined ? undefined : this.#attached?.url;
    return url?.startsWith('http') ? url.replace(/^http/, 'ws') + path : undefined;
  }

  /** Its clients and subscriptions now, and its messages, deliveries and drops (hubFigures). */
  figures(): readonly Figure[] {
    return hubFigures(this.#connections.size, this.#hub);
  }

  /** What dependents get from `ctx.peer(name)`: publish, subscribe and stats. */
  handle(): PubsubHandle {
    return this.#handle;
  }
}
